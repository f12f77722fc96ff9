// Package membus is an in-memory ports.EventBus: it fans events out to subscriber
// channels, by cluster. It keeps no history; replay comes from the store.
package membus

import (
	"sync"
	"sync/atomic"

	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

// DefaultBuffer is Options.Buffer when it is zero.
const DefaultBuffer = 256

// Options sizes a Bus; zero fields take the defaults.
type Options struct {
	// Buffer is how many events a subscriber may fall behind before it is dropped.
	Buffer int
}

// Bus is an in-memory ports.EventBus. It is safe for concurrent use.
type Bus struct {
	buffer int

	// mu orders Publish, Subscribe and Close: a subscriber gets every event published
	// after its Subscribe returned, in order.
	mu sync.Mutex
	// groups holds the subscribers of each cluster; the key "" holds the subscribers
	// of every cluster.
	groups map[string]*group

	published atomic.Uint64
	dropped   atomic.Uint64
}

// group is the subscribers of one key. chans[i] is subs[i].ch, kept side by side so that
// Publish walks one contiguous slice instead of following a pointer per subscriber.
type group struct {
	subs  []*subscription
	chans []chan *core.Event
}

var _ ports.EventBus = (*Bus)(nil)

// New returns a bus with no subscriber.
func New(opts Options) *Bus {
	if opts.Buffer <= 0 {
		opts.Buffer = DefaultBuffer
	}
	return &Bus{buffer: opts.Buffer, groups: map[string]*group{}}
}

// Publish hands each event to the subscribers of its cluster and to those of every
// cluster, in order. A subscriber whose buffer is full is dropped: its channel is
// closed, so it can come back (resuming from the last ID it got) instead of holding
// everyone up.
func (b *Bus) Publish(events ...core.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range events {
		// Subscribers share one copy: a channel of pointers keeps an idle subscriber's
		// buffer at 8 bytes an event.
		shared := &e
		b.deliver(b.groups[e.Cluster], shared)
		if e.Cluster != "" {
			b.deliver(b.groups[""], shared)
		}
	}
	b.published.Add(uint64(len(events)))
}

func (b *Bus) deliver(g *group, e *core.Event) {
	if g == nil {
		return
	}
	// Backwards, so that dropping subscriber i moves into its place one that has
	// already been served this event.
	for i := len(g.chans) - 1; i >= 0; i-- {
		select {
		case g.chans[i] <- e:
		default:
			b.dropped.Add(1)
			b.remove(g.subs[i])
		}
	}
}

// Subscribe returns a subscription to the events of cluster ("" for every cluster)
// published from now on.
func (b *Bus) Subscribe(cluster string) ports.Subscription {
	s := &subscription{bus: b, key: cluster, ch: make(chan *core.Event, b.buffer)}
	b.mu.Lock()
	defer b.mu.Unlock()
	g := b.groups[cluster]
	if g == nil {
		g = &group{}
		b.groups[cluster] = g
	}
	s.index = len(g.subs)
	g.subs = append(g.subs, s)
	g.chans = append(g.chans, s.ch)
	return s
}

// Published is how many events were published; Dropped how many subscribers were
// dropped for falling behind.
func (b *Bus) Published() uint64 { return b.published.Load() }

// Dropped is how many subscribers were dropped for falling behind.
func (b *Bus) Dropped() uint64 { return b.dropped.Load() }

// remove unregisters s and closes its channel; b.mu must be held. The last subscriber
// of the group takes s's place, which keeps removal O(1).
func (b *Bus) remove(s *subscription) {
	g := b.groups[s.key]
	last := len(g.subs) - 1
	moved := g.subs[last]
	g.subs[s.index], g.chans[s.index] = moved, moved.ch
	moved.index = s.index
	g.subs[last], g.chans[last] = nil, nil
	g.subs, g.chans = g.subs[:last], g.chans[:last]
	if len(g.subs) == 0 {
		delete(b.groups, s.key)
	}
	s.index = -1
	close(s.ch)
}

// subscription is one subscriber of a Bus.
type subscription struct {
	bus *Bus
	key string
	ch  chan *core.Event
	// index is the position of the subscription in its group, -1 once it is removed;
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
