package membus_test

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skygate/skygate/adapters/membus"
	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
	"github.com/skygate/skygate/ports/porttest"
)

func TestBusContract(t *testing.T) {
	porttest.EventBus(t, func(t *testing.T) ports.EventBus { return membus.New(membus.Options{}) })
}

func event(id uint64) core.Event {
	return core.ProgressEvent(time.Date(2025, 3, 1, 0, 0, int(id), 0, time.UTC), 1, fmt.Sprintf("line %d", id))
}

func events(from, to uint64) []core.Event {
	var out []core.Event
	for id := from; id <= to; id++ {
		e := event(id)
		e.ID = id
		out = append(out, e)
	}
	return out
}

// pending returns what sits in sub's buffer without waiting.
func pending(sub ports.Subscription) []core.Event {
	var got []core.Event
	for {
		select {
		case e, ok := <-sub.Events():
			if !ok {
				return got
			}
			got = append(got, *e)
		default:
			return got
		}
	}
}

func TestSubscriberDroppedWhenItsBufferIsFull(t *testing.T) {
	bus := membus.New(membus.Options{Buffer: 2})
	slow := bus.Subscribe("")
	fast := bus.Subscribe("")
	defer fast.Close()
	bus.Publish(events(1, 2)...)
	if got := porttest.IDs(pending(fast)); !slices.Equal(got, []uint64{1, 2}) {
		t.Fatalf("fast subscriber got %v", got)
	}
	bus.Publish(events(3, 3)...)
	got := porttest.IDs(pending(slow))
	if !slices.Equal(got, []uint64{1, 2}) {
		t.Fatalf("slow subscriber got %v, want [1 2] then a closed channel", got)
	}
	if _, ok := <-slow.Events(); ok {
		t.Fatal("slow subscriber's channel still open after its buffer overflowed")
	}
	slow.Close()
	if got := porttest.IDs(pending(fast)); !slices.Equal(got, []uint64{3}) {
		t.Fatalf("fast subscriber got %v after the drop, want [3]", got)
	}
	if bus.Dropped() != 1 || bus.Published() != 3 {
		t.Fatalf("dropped %d published %d, want 1 and 3", bus.Dropped(), bus.Published())
	}
}

func TestTenThousandSubscribers(t *testing.T) {
	const subscribers = 10_000
	bus := membus.New(membus.Options{})
	subs := make([]ports.Subscription, subscribers)
	for i := range subs {
		subs[i] = bus.Subscribe("")
	}
	bus.Publish(events(1, 5)...)
	// Close every other subscriber, then check the rest still get everything.
	for i := 0; i < subscribers; i += 2 {
		subs[i].Close()
	}
	bus.Publish(events(6, 8)...)
	for i, sub := range subs {
		want := []uint64{1, 2, 3, 4, 5, 6, 7, 8}
		if i%2 == 0 {
			want = want[:5]
		}
		if got := porttest.IDs(pending(sub)); !slices.Equal(got, want) {
			t.Fatalf("subscriber %d got %v, want %v", i, got, want)
		}
		sub.Close()
	}
}

// BenchmarkPublish1000Subscribers publishes one event to 1,000 subscribers.
func BenchmarkPublish1000Subscribers(b *testing.B) {
	const subscribers = 1000

	// Buffered: nobody reads during the timed part, so each delivery is a copy into a
	// channel buffer; the buffers are emptied with the timer stopped.
	b.Run("buffered", func(b *testing.B) {
		bus := membus.New(membus.Options{})
		subs := make([]ports.Subscription, subscribers)
		for i := range subs {
			subs[i] = bus.Subscribe("")
		}
		e := event(0)
		b.ReportAllocs()
		for b.Loop() {
			e.ID++
			bus.Publish(e)
			if e.ID%membus.DefaultBuffer == 0 {
				b.StopTimer()
				for _, sub := range subs {
					if got := len(pending(sub)); got != membus.DefaultBuffer {
						b.Fatalf("subscriber holds %d events, want %d", got, membus.DefaultBuffer)
					}
				}
				b.StartTimer()
			}
		}
	})

	// Delivered: each subscriber has a goroutine waiting on its channel, as an event
	// stream does, and an iteration ends when all of them have the event: the time for
	// one line of sky output to reach 1,000 subscribers. No reader may be dropped.
	b.Run("delivered", func(b *testing.B) {
		bus := membus.New(membus.Options{})
		var received atomic.Int64
		var wg sync.WaitGroup
		subs := make([]ports.Subscription, subscribers)
		for i := range subs {
			subs[i] = bus.Subscribe("")
			wg.Go(func() {
				for range subs[i].Events() {
					received.Add(1)
				}
			})
		}
		e := event(0)
		b.ReportAllocs()
		for b.Loop() {
			e.ID++
			bus.Publish(e)
			for received.Load() < int64(e.ID)*subscribers {
				runtime.Gosched()
			}
		}
		for _, sub := range subs {
			sub.Close()
		}
		wg.Wait()
	})
}
