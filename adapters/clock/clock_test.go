package clock_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/skygate/skygate/adapters/clock"
	"github.com/skygate/skygate/ports/porttest"
)

var start = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func TestSystemContract(t *testing.T) {
	porttest.Clock(t, clock.System{}, time.Sleep)
}

func TestFakeContract(t *testing.T) {
	f := clock.NewFake(start)
	porttest.Clock(t, f, f.Advance)
}

func fired(ch <-chan time.Time) (time.Time, bool) {
	select {
	case got := <-ch:
		return got, true
	default:
		return time.Time{}, false
	}
}

func TestFakeFiresExactlyAtTheDeadline(t *testing.T) {
	for _, tc := range []struct {
		name      string
		after     time.Duration
		move      func(f *clock.Fake)
		wantFired bool
	}{
		{"advance short by 1ns", time.Second, func(f *clock.Fake) { f.Advance(time.Second - 1) }, false},
		{"advance to the deadline", time.Second, func(f *clock.Fake) { f.Advance(time.Second) }, true},
		{"advance past the deadline", time.Second, func(f *clock.Fake) { f.Advance(time.Hour) }, true},
		{"set to the deadline", time.Second, func(f *clock.Fake) { f.Set(start.Add(time.Second)) }, true},
		{"set backwards", time.Second, func(f *clock.Fake) { f.Set(start.Add(-time.Hour)) }, false},
		{"zero duration", 0, func(*clock.Fake) {}, true},
		{"negative duration", -time.Minute, func(*clock.Fake) {}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := clock.NewFake(start)
			ch := f.After(tc.after)
			tc.move(f)
			got, ok := fired(ch)
			if ok != tc.wantFired {
				t.Fatalf("fired = %v, want %v", ok, tc.wantFired)
			}
			if ok && !got.Equal(f.Now()) {
				t.Fatalf("After delivered %v, want the fake time %v", got, f.Now())
			}
		})
	}
}

func TestFakeNowAndSet(t *testing.T) {
	f := clock.NewFake(start)
	if got := f.Now(); !got.Equal(start) {
		t.Fatalf("Now = %v, want %v", got, start)
	}
	f.Advance(90 * time.Second)
	if want := start.Add(90 * time.Second); !f.Now().Equal(want) {
		t.Fatalf("Now after Advance = %v, want %v", f.Now(), want)
	}
	later := start.Add(24 * time.Hour)
	f.Set(later)
	if !f.Now().Equal(later) {
		t.Fatalf("Now after Set = %v, want %v", f.Now(), later)
	}
}

func TestFakeWaitersCountsPendingAfters(t *testing.T) {
	f := clock.NewFake(start)
	f.After(0)
	if n := f.Waiters(); n != 0 {
		t.Fatalf("Waiters = %d after an After(0), want 0", n)
	}
	f.After(time.Second)
	f.After(3 * time.Second)
	if n := f.Waiters(); n != 2 {
		t.Fatalf("Waiters = %d, want 2", n)
	}
	f.Advance(2 * time.Second)
	if n := f.Waiters(); n != 1 {
		t.Fatalf("Waiters = %d after the first deadline, want 1", n)
	}
	f.Advance(time.Second)
	if n := f.Waiters(); n != 0 {
		t.Fatalf("Waiters = %d after both deadlines, want 0", n)
	}
}

// TestFakeWakesABlockedGoroutine shows the intended use: wait for the goroutine to block
// on After, then advance.
func TestFakeWakesABlockedGoroutine(t *testing.T) {
	f := clock.NewFake(start)
	woke := make(chan time.Time)
	go func() { woke <- <-f.After(time.Minute) }()
	for f.Waiters() == 0 {
		runtime.Gosched()
	}
	f.Advance(time.Minute)
	select {
	case got := <-woke:
		if want := start.Add(time.Minute); !got.Equal(want) {
			t.Fatalf("woke with %v, want %v", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("goroutine blocked on After was not woken by Advance")
	}
}
