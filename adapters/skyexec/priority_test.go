package skyexec

import (
	"errors"
	"syscall"
	"testing"
	"time"
)

func TestSessionNiceSharesTheNiceValuesWeightAmongTheRuns(t *testing.T) {
	for _, c := range []struct{ nice, runs, want int }{
		{0, 100, 0},   // the runs keep skygate's priority
		{10, 0, 10},   // no bound given: one run
		{10, 1, 10},   // one run weighs what its value says
		{10, 4, 17},   // 4 × 92 ≤ 110 < 4 × 116
		{7, 4, 14},    // 4 × 45 ≤ 215 < 4 × 56
		{19, 4, 19},   // nothing is lighter
		{10, 100, 19}, // 100 × 15 > 110: as light as it goes
		{25, 1, 19},
	} {
		if got := sessionNice(c.nice, c.runs); got != c.want {
			t.Errorf("sessionNice(%d, %d) = %d, want %d", c.nice, c.runs, got, c.want)
		}
	}
}

func TestRetryWhileBusyRetriesOnlyEAGAIN(t *testing.T) {
	var waits []time.Duration
	wait := func(d time.Duration) { waits = append(waits, d) }
	calls := 0
	busyTwice := func() error {
		calls++
		if calls <= 2 {
			return syscall.EAGAIN
		}
		return nil
	}
	if err := retryWhileBusy(busyTwice, wait, 10); err != nil || calls != 3 || len(waits) != 2 {
		t.Fatalf("err %v after %d calls and %d waits; want nil after 3 and 2", err, calls, len(waits))
	}
	for _, d := range waits {
		if d < 100*time.Millisecond || d >= 200*time.Millisecond {
			t.Errorf("waited %s between attempts, want 100 ms to 200 ms", d)
		}
	}
	if waits[0] == waits[1] {
		t.Errorf("both waits were %s: retries in step keep colliding", waits[0])
	}

	calls, waits = 0, nil
	denied := errors.New("permission denied")
	if err := retryWhileBusy(func() error { calls++; return denied }, wait, 10); err != denied || calls != 1 || len(waits) != 0 {
		t.Fatalf("another error: %v after %d calls and %d waits; want it at once", err, calls, len(waits))
	}

	calls, waits = 0, nil
	if err := retryWhileBusy(func() error { calls++; return syscall.EAGAIN }, wait, 5); !errors.Is(err, syscall.EAGAIN) || calls != 5 || len(waits) != 4 {
		t.Fatalf("always busy: %v after %d calls and %d waits; want EAGAIN after 5 and 4", err, calls, len(waits))
	}
}
