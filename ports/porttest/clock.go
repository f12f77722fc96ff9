package porttest

import (
	"testing"
	"time"

	"github.com/skygate/skygate/ports"
)

// clockFireTimeout bounds how long the suite waits for an After channel that should fire.
// A fake clock fires inside advance, so the wait only matters for the real clock.
const clockFireTimeout = 5 * time.Second

// Clock checks a ports.Clock. advance(d) moves c forward by d: a fake clock is advanced, the
// real clock is waited for (time.Sleep). The suite advances by at most a few hundred
// milliseconds in all, and leaves at least 100 ms of margin before a deadline it expects
// not to have been reached, so it holds for the real clock on a loaded machine.
func Clock(t *testing.T, c ports.Clock, advance func(time.Duration)) {
	t.Run("NowMovesWithTheClock", func(t *testing.T) {
		const step = 50 * time.Millisecond
		before := c.Now()
		advance(step)
		if moved := c.Now().Sub(before); moved < step {
			t.Fatalf("Now moved by %v after advancing %v", moved, step)
		}
	})

	t.Run("AfterFiresOnceTheDurationHasPassed", func(t *testing.T) {
		const d = 200 * time.Millisecond
		start := c.Now()
		ch := c.After(d)
		assertNotFired(t, ch, "right after After")
		advance(d / 4)
		assertNotFired(t, ch, "a quarter of the way")
		advance(d - d/4)
		got := awaitFired(t, ch)
		if got.Before(start.Add(d)) {
			t.Fatalf("After(%v) delivered %v, before the deadline %v", d, got, start.Add(d))
		}
	})

	t.Run("AftersFireInTurn", func(t *testing.T) {
		const early, late = 100 * time.Millisecond, 300 * time.Millisecond
		earlyCh, lateCh := c.After(early), c.After(late)
		advance(200 * time.Millisecond)
		awaitFired(t, earlyCh)
		assertNotFired(t, lateCh, "between the two deadlines")
		advance(200 * time.Millisecond)
		awaitFired(t, lateCh)
	})

	for _, d := range []time.Duration{0, -time.Second} {
		t.Run("AfterFiresAtOnceFor"+d.String(), func(t *testing.T) {
			awaitFired(t, c.After(d))
		})
	}
}

func assertNotFired(t *testing.T, ch <-chan time.Time, when string) {
	t.Helper()
	select {
	case got := <-ch:
		t.Fatalf("After fired %s (delivered %v)", when, got)
	default:
	}
}

func awaitFired(t *testing.T, ch <-chan time.Time) time.Time {
	t.Helper()
	select {
	case got := <-ch:
		return got
	case <-time.After(clockFireTimeout):
		t.Fatalf("After did not fire within %v of reaching its deadline", clockFireTimeout)
		return time.Time{}
	}
}
