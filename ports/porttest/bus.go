package porttest

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

// Bounds the EventBus suite puts on a bus: each subscriber has a buffer of at least
// BusMinBuffer and fewer than BusStuckProbe events.
const (
	BusMinBuffer  = 256
	BusStuckProbe = 10_000
)

// busTimeout bounds every wait of the EventBus suite; reaching it means a lost event or a
// blocked Publish.
const busTimeout = 10 * time.Second

// clusterEvents returns events with the IDs from..to about cluster.
func clusterEvents(cluster string, from, to uint64) []core.Event {
	events := numberedEvents(from, to)
	for i := range events {
		events[i].Cluster = cluster
	}
	return events
}

// EventBus checks a ports.EventBus. newBus returns an empty bus within the bounds above.
func EventBus(t *testing.T, newBus func(t *testing.T) ports.EventBus) {
	subscribe := func(t *testing.T, bus ports.EventBus, cluster string) ports.Subscription {
		sub := bus.Subscribe(cluster)
		t.Cleanup(func() {
			// A failed test may have left a Publish blocked, which Close would wait on.
			if !t.Failed() {
				sub.Close()
			}
		})
		return sub
	}

	t.Run("PublishDeliversInOrderFromSubscribeOn", func(t *testing.T) {
		bus := newBus(t)
		bus.Publish(clusterEvents("a", 1, 2)...)
		var subs []ports.Subscription
		for range 3 {
			subs = append(subs, subscribe(t, bus, "a"))
		}
		bus.Publish(clusterEvents("a", 3, 4)...)
		bus.Publish(clusterEvents("a", 5, 5)...)
		for i, sub := range subs {
			got := receive(t, sub, 3)
			if !sameIDs(got, idRange(3, 5)) {
				t.Errorf("subscriber %d received %v, want [3 4 5]", i, IDs(got))
			}
			if got[0].Message != "line 3" {
				t.Errorf("subscriber %d received message %q, want %q", i, got[0].Message, "line 3")
			}
		}
	})

	t.Run("ClusterSubscribersGetTheirClusterAllGetEvery", func(t *testing.T) {
		bus := newBus(t)
		a, b, all := subscribe(t, bus, "a"), subscribe(t, bus, "b"), subscribe(t, bus, "")
		bus.Publish(clusterEvents("a", 1, 1)...)
		bus.Publish(clusterEvents("b", 2, 2)...)
		bus.Publish(clusterEvents("a", 3, 3)...)
		if got := receive(t, a, 2); !sameIDs(got, []uint64{1, 3}) {
			t.Errorf("subscriber of a received %v, want [1 3]", IDs(got))
		}
		if got := receive(t, b, 1); !sameIDs(got, []uint64{2}) {
			t.Errorf("subscriber of b received %v, want [2]", IDs(got))
		}
		if got := receive(t, all, 3); !sameIDs(got, idRange(1, 3)) {
			t.Errorf("subscriber of every cluster received %v, want [1 2 3]", IDs(got))
		}
		for name, sub := range map[string]ports.Subscription{"a": a, "b": b, "all": all} {
			select {
			case e := <-sub.Events():
				t.Errorf("subscriber %s received an extra event %+v", name, e)
			default:
			}
		}
	})

	t.Run("StuckSubscriberIsDroppedOthersGetEverything", func(t *testing.T) {
		bus := newBus(t)
		reader := subscribe(t, bus, "a")
		stuck := subscribe(t, bus, "a")
		done := make(chan struct{})
		go func() {
			defer close(done)
			// One event at a time, each received before the next is published, so the
			// reader never lags while the stuck subscriber's buffer overflows.
			for id := uint64(1); id <= BusStuckProbe; id++ {
				bus.Publish(clusterEvents("a", id, id)...)
				select {
				case e, ok := <-reader.Events():
					if !ok || e.ID != id {
						t.Errorf("reading subscriber got event %v (open: %v), want %d", e, ok, id)
						return
					}
				case <-time.After(busTimeout):
					t.Errorf("reading subscriber did not get event %d", id)
					return
				}
			}
		}()
		select {
		case <-done:
		case <-time.After(busTimeout):
			t.Fatal("Publish blocked on a subscriber that does not read")
		}
		got := drain(t, stuck)
		if len(got) < BusMinBuffer || len(got) >= BusStuckProbe {
			t.Fatalf("stuck subscriber received %d of %d events before its channel closed; want it dropped once its buffer (at least %d) filled",
				len(got), BusStuckProbe, BusMinBuffer)
		}
		if !sameIDs(got, idRange(1, uint64(len(got)))) {
			t.Fatalf("stuck subscriber received %v, want a gapless prefix", IDs(got))
		}
	})

	t.Run("NoGapNoDuplicateWhilePublishing", func(t *testing.T) {
		const rounds, subscribers, published = 20, 16, 200
		for range rounds {
			bus := newBus(t)
			var wg, subscribed sync.WaitGroup
			subscribed.Add(subscribers)
			wg.Go(func() {
				subscribed.Wait() // live-only: a subscriber gets what follows its Subscribe
				for id := uint64(1); id <= published; id++ {
					bus.Publish(clusterEvents("a", id, id)...)
					runtime.Gosched()
				}
			})
			for i := range subscribers {
				wg.Go(func() {
					cluster := []string{"a", ""}[i%2]
					sub := bus.Subscribe(cluster)
					defer sub.Close()
					subscribed.Done()
					var got []core.Event
					for len(got) == 0 || got[len(got)-1].ID < published {
						select {
						case e, ok := <-sub.Events():
							if !ok {
								t.Errorf("subscriber dropped after %v", IDs(got))
								return
							}
							got = append(got, *e)
						case <-time.After(busTimeout):
							t.Errorf("subscriber stalled after %v", IDs(got))
							return
						}
					}
					if !sameIDs(got, idRange(1, published)) {
						t.Errorf("subscriber of %q received %v, want every ID from 1 to %d once", cluster, IDs(got), published)
					}
				})
			}
			wg.Wait()
		}
	})

	t.Run("CloseIsIdempotentAndEndsTheChannel", func(t *testing.T) {
		bus := newBus(t)
		closed := subscribe(t, bus, "a")
		open := subscribe(t, bus, "a")
		closed.Close()
		closed.Close()
		bus.Publish(clusterEvents("a", 1, 2)...)
		if got := drain(t, closed); len(got) != 0 {
			t.Errorf("closed subscription received %v", IDs(got))
		}
		if got := receive(t, open, 2); !sameIDs(got, idRange(1, 2)) {
			t.Errorf("open subscription received %v, want [1 2]", IDs(got))
		}
	})

	t.Run("CloseWhilePublishing", func(t *testing.T) {
		bus := newBus(t)
		var wg sync.WaitGroup
		wg.Go(func() {
			for id := uint64(1); id <= 500; id++ {
				bus.Publish(clusterEvents("a", id, id)...)
			}
		})
		for i := range 8 {
			wg.Go(func() {
				for range 50 {
					sub := bus.Subscribe([]string{"a", ""}[i%2])
					runtime.Gosched()
					sub.Close()
					sub.Close()
				}
			})
		}
		wg.Wait()
	})
}

// receive reads exactly n events from sub.
func receive(t *testing.T, sub ports.Subscription, n int) []core.Event {
	t.Helper()
	var got []core.Event
	for len(got) < n {
		select {
		case e, ok := <-sub.Events():
			if !ok {
				t.Fatalf("subscription closed after %v, want %d events", IDs(got), n)
			}
			got = append(got, *e)
		case <-time.After(busTimeout):
			t.Fatalf("received %v, still waiting for %d events", IDs(got), n)
		}
	}
	return got
}

// drain reads sub until its channel is closed.
func drain(t *testing.T, sub ports.Subscription) []core.Event {
	t.Helper()
	var got []core.Event
	for {
		select {
		case e, ok := <-sub.Events():
			if !ok {
				return got
			}
			got = append(got, *e)
		case <-time.After(busTimeout):
			t.Fatalf("channel not closed after %d events", len(got))
		}
	}
}
