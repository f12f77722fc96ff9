package app

import (
	"context"
	"slices"
	"sync"
)

// slots bounds the mutating sky runs over the fleet (each is a Python process of 100 MB
// or more). Waiters are served first come, first served.
type slots struct {
	mu      sync.Mutex
	free    int
	waiting []chan struct{} // each closed when its waiter is given a slot
	// moved is closed (and replaced) whenever the line moves, so waiters re-read their
	// position.
	moved chan struct{}
}

func newSlots(n int) *slots { return &slots{free: n, moved: make(chan struct{})} }

// acquire takes a slot, waiting in line while none is free. queued is called with the
// waiter's position (1 = next) when it has to wait, and again whenever it moves up. It
// returns the context's error, holding no slot, when ctx ends first.
func (s *slots) acquire(ctx context.Context, queued func(position int)) error {
	s.mu.Lock()
	if s.free > 0 && len(s.waiting) == 0 {
		s.free--
		s.mu.Unlock()
		return nil
	}
	ready := make(chan struct{})
	s.waiting = append(s.waiting, ready)
	pos, moved := len(s.waiting), s.moved
	s.mu.Unlock()
	queued(pos)
	for {
		select {
		case <-ready:
			return nil
		case <-ctx.Done():
			s.mu.Lock()
			defer s.mu.Unlock()
			select {
			case <-ready: // given a slot just as ctx ended: hand it on
				s.releaseLocked()
			default:
				s.waiting = slices.DeleteFunc(s.waiting, func(c chan struct{}) bool { return c == ready })
				s.notifyLocked()
			}
			return ctx.Err()
		case <-moved:
			s.mu.Lock()
			now := slices.Index(s.waiting, ready) + 1
			moved = s.moved
			s.mu.Unlock()
			if now > 0 && now != pos {
				pos = now
				queued(pos)
			}
		}
	}
}

// take holds a slot without waiting, even past the bound: a run that is already going
// (found again after a restart) counts, but cannot be queued.
func (s *slots) take() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.free--
}

// release gives a slot back, to the first waiter if there is one.
func (s *slots) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releaseLocked()
}

func (s *slots) releaseLocked() {
	s.free++
	if s.free > 0 && len(s.waiting) > 0 {
		s.free--
		close(s.waiting[0])
		s.waiting = s.waiting[1:]
		s.notifyLocked()
	}
}

func (s *slots) notifyLocked() {
	close(s.moved)
	s.moved = make(chan struct{})
}
