// Package clock provides the ports.Clock adapters: System reads the real time, Fake is
// moved by hand so tests never sleep.
package clock

import (
	"sync"
	"time"

	"github.com/skygate/skygate/ports"
)

var (
	_ ports.Clock = System{}
	_ ports.Clock = (*Fake)(nil)
)

// System is the real clock.
type System struct{}

// Now returns time.Now().
func (System) Now() time.Time { return time.Now() }

// After returns time.After(d).
func (System) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Fake is a clock that moves only when told to. It is safe for concurrent use.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

// fakeWaiter is one pending After call.
type fakeWaiter struct {
	deadline time.Time
	// ch has room for the one value it ever receives, so firing never blocks.
	ch chan time.Time
}

// NewFake returns a fake clock that reads start until it is moved.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// After returns a channel that receives the fake time once it reaches Now()+d; at once
// when d <= 0.
func (f *Fake) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- f.now
		return ch
	}
	f.waiters = append(f.waiters, fakeWaiter{deadline: f.now.Add(d), ch: ch})
	return ch
}

// Advance moves the fake time forward by d and fires every After whose deadline it reaches.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setLocked(f.now.Add(d))
}

// Set moves the fake time to t (backwards too) and fires every After whose deadline it
// reaches.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setLocked(t)
}

// Waiters returns how many After channels have not fired yet. A test polls it to know that
// the goroutine under test is waiting before it advances the clock.
func (f *Fake) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
}

func (f *Fake) setLocked(t time.Time) {
	f.now = t
	pending := f.waiters[:0]
	for _, w := range f.waiters {
		if w.deadline.After(t) {
			pending = append(pending, w)
			continue
		}
		w.ch <- t
	}
	clear(f.waiters[len(pending):])
	f.waiters = pending
}
