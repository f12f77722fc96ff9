// Package membus is an in-memory ports.EventBus: it fans events out to subscriber
// channels and keeps the most recent ones for replay.
package membus

import (
	"sync"

	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

// Defaults of Options.
const (
	DefaultHistory = 1000
	DefaultBuffer  = 256
)

// Options sizes a Bus; zero fields take the defaults.
type Options struct {
	// History is how many of the most recent events the bus keeps for replay.
	History int
	// Buffer is how many events a subscriber may fall behind before it is dropped.
	Buffer int
}

// Bus is an in-memory ports.EventBus. It is safe for concurrent use.
type Bus struct {
	buffer int

	// mu orders Publish, Subscribe and Close, which is what makes a subscription's replay
	// and live events meet with no gap and no duplicate.
	mu      sync.Mutex
	history *core.History
	subs    []*subscription
	// chans[i] is subs[i].ch, kept side by side so that Publish walks one contiguous
	// slice instead of following a pointer per subscriber.
	chans []chan *core.Event
}

var _ ports.EventBus = (*Bus)(nil)

// New returns an empty bus.
func New(opts Options) *Bus {
	if opts.History <= 0 {
		opts.History = DefaultHistory
	}
	if opts.Buffer <= 0 {
		opts.Buffer = DefaultBuffer
	}
	return &Bus{buffer: opts.Buffer, history: core.NewHistory(opts.History)}
}

// Seed keeps events for replay without delivering them to anyone: it loads the history a
// store kept across a restart, before the first Subscribe. Like Publish, it skips events
// whose ID does not exceed the last one kept.
func (b *Bus) Seed(events []core.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.history.Keep(events...)
}

// Publish keeps events for replay and hands them to every subscriber, in order. A
// subscriber whose buffer is full is dropped: its channel is closed, so it can come back
// with Subscribe(last ID it got) instead of holding everyone up. An event whose ID does
// not exceed the last one published is skipped, so an event published twice is delivered
// once.
func (b *Bus) Publish(events ...core.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range events {
		if b.history.Keep(e) == 0 {
			continue
		}
		// Subscribers share one copy: a channel of pointers keeps an idle subscriber's
		// buffer at 8 bytes an event.
		shared := &e
		// Backwards, so that dropping subscriber i moves into its place one that has
		// already been served this event.
		for i := len(b.chans) - 1; i >= 0; i-- {
			select {
			case b.chans[i] <- shared:
			default:
				b.remove(b.subs[i])
			}
		}
	}
}

// Subscribe returns the kept events with an ID greater than after, and a subscription to
// every event published from now on.
func (b *Bus) Subscribe(after uint64) ([]core.Event, ports.Subscription) {
	s := &subscription{bus: b, ch: make(chan *core.Event, b.buffer)}
	b.mu.Lock()
	defer b.mu.Unlock()
	s.index = len(b.subs)
	b.subs = append(b.subs, s)
	b.chans = append(b.chans, s.ch)
	return b.history.After(after), s
}

// remove unregisters s and closes its channel; b.mu must be held. The last subscriber
// takes s's place, which keeps removal O(1).
func (b *Bus) remove(s *subscription) {
	last := len(b.subs) - 1
	moved := b.subs[last]
	b.subs[s.index], b.chans[s.index] = moved, moved.ch
	moved.index = s.index
	b.subs[last], b.chans[last] = nil, nil
	b.subs, b.chans = b.subs[:last], b.chans[:last]
	s.index = -1
	close(s.ch)
}

// subscription is one subscriber of a Bus.
type subscription struct {
	bus *Bus
	ch  chan *core.Event
	// index is the position of the subscription in bus.subs, -1 once it is removed;
	// guarded by bus.mu.
	index int
}

func (s *subscription) Events() <-chan *core.Event { return s.ch }

func (s *subscription) Close() {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	if s.index >= 0 {
		s.bus.remove(s)
	}
}
