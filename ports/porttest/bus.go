//go:build ignore

// Excluded from the build: written for the EventBus and Runner ports before the fleet
// rewrite, and left for their rewrite.

package porttest

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

// Bounds the EventBus suite puts on a bus: it keeps at least BusMinHistory events for
// replay, and gives each subscriber a buffer of at least BusMinBuffer and fewer than
// BusStuckProbe events.
const (
	BusMinHistory = 1000
	BusMinBuffer  = 256
	BusStuckProbe = 10_000
)

// busTimeout bounds every wait of the EventBus suite; reaching it means a lost event or a
// blocked Publish.
const busTimeout = 10 * time.Second

// EventBus checks a ports.EventBus. newBus returns a bus that keeps history (events with
// growing IDs) for replay, as a bus seeded at start-up does, within the bounds above.
func EventBus(t *testing.T, newBus func(t *testing.T, history []core.Event) ports.EventBus) {
	subscribe := func(t *testing.T, bus ports.EventBus, after uint64) ([]core.Event, ports.Subscription) {
		replay, sub := bus.Subscribe(after)
		t.Cleanup(func() {
			// A failed test may have left a Publish blocked, which Close would wait on.
			if !t.Failed() {
				sub.Close()
			}
		})
		return replay, sub
	}

	t.Run("SubscribeReplaysKeptEventsAfter", func(t *testing.T) {
		bus := newBus(t, numberedEvents(1, 5))
		for _, tc := range []struct {
			after uint64
			want  []uint64
		}{
			{after: 0, want: idRange(1, 5)},
			{after: 2, want: idRange(3, 5)},
			{after: 4, want: idRange(5, 5)},
			{after: 5, want: idRange(1, 0)},
			{after: 99, want: idRange(1, 0)},
		} {
			replay, _ := subscribe(t, bus, tc.after)
			if !sameIDs(replay, tc.want) {
				t.Errorf("Subscribe(%d) replayed %v, want %v", tc.after, IDs(replay), tc.want)
			}
		}
	})

	t.Run("PublishDeliversInOrderAndKeeps", func(t *testing.T) {
		bus := newBus(t, numberedEvents(1, 5))
		var subs []ports.Subscription
		for range 3 {
			_, sub := subscribe(t, bus, 5)
			subs = append(subs, sub)
		}
		bus.Publish(numberedEvents(6, 7)...)
		bus.Publish(numberedEvents(8, 8)...)
		for i, sub := range subs {
			got := receive(t, sub, 3)
			if !sameIDs(got, idRange(6, 8)) {
				t.Errorf("subscriber %d received %v, want [6 7 8]", i, IDs(got))
			}
			if got[0].Message != "line 6" {
				t.Errorf("subscriber %d received message %q, want %q", i, got[0].Message, "line 6")
			}
		}
		replay, _ := subscribe(t, bus, 0)
		if !sameIDs(replay, idRange(1, 8)) {
			t.Errorf("replay after Publish is %v, want 1..8", IDs(replay))
		}
	})

	t.Run("StuckSubscriberIsDroppedOthersGetEverything", func(t *testing.T) {
		bus := newBus(t, nil)
		_, reader := subscribe(t, bus, 0)
		_, stuck := subscribe(t, bus, 0)
		done := make(chan struct{})
		go func() {
			defer close(done)
			// One event at a time, each received before the next is published, so the
			// reader never lags while the stuck subscriber's buffer overflows.
			for id := uint64(1); id <= BusStuckProbe; id++ {
				bus.Publish(numberedEvents(id, id)...)
				select {
				case e, ok := <-reader.Events():
					if !ok || e.ID != id {
						t.Errorf("reading subscriber got event %d (open: %v), want %d", e.ID, ok, id)
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
		if len(got) == 0 || len(got) >= BusStuckProbe {
			t.Fatalf("stuck subscriber received %d of %d events before its channel closed; want it dropped once its buffer filled",
				len(got), BusStuckProbe)
		}
		if !sameIDs(got, idRange(1, uint64(len(got)))) {
			t.Fatalf("stuck subscriber received %v, want a gapless prefix", IDs(got))
		}
	})

	t.Run("NoGapNoDuplicateWhilePublishing", func(t *testing.T) {
		const rounds, subscribers, published = 20, 16, 200
		for range rounds {
			bus := newBus(t, nil)
			var wg sync.WaitGroup
			wg.Go(func() {
				for id := uint64(1); id <= published; id++ {
					bus.Publish(numberedEvents(id, id)...)
					runtime.Gosched()
				}
			})
			for range subscribers {
				after := uint64(rand.IntN(published / 2))
				wg.Go(func() {
					replay, sub := bus.Subscribe(after)
					defer sub.Close()
					got := replay
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
					// Live events are not filtered by after: a subscriber that came before
					// event after was published also gets the ones up to it.
					if got[0].ID > after+1 || !sameIDs(got, idRange(got[0].ID, published)) {
						t.Errorf("Subscribe(%d) replay+live = %v, want every ID from at most %d to %d once",
							after, IDs(got), after+1, published)
					}
				})
			}
			wg.Wait()
		}
	})

	t.Run("CloseIsIdempotentAndEndsTheChannel", func(t *testing.T) {
		bus := newBus(t, nil)
		_, closed := subscribe(t, bus, 0)
		_, open := subscribe(t, bus, 0)
		closed.Close()
		closed.Close()
		bus.Publish(numberedEvents(1, 2)...)
		if got := drain(t, closed); len(got) != 0 {
			t.Errorf("closed subscription received %v", IDs(got))
		}
		if got := receive(t, open, 2); !sameIDs(got, idRange(1, 2)) {
			t.Errorf("open subscription received %v, want [1 2]", IDs(got))
		}
	})

	t.Run("CloseWhilePublishing", func(t *testing.T) {
		bus := newBus(t, nil)
		var wg sync.WaitGroup
		wg.Go(func() {
			for id := uint64(1); id <= 500; id++ {
				bus.Publish(numberedEvents(id, id)...)
			}
		})
		for range 8 {
			wg.Go(func() {
				for range 50 {
					_, sub := bus.Subscribe(0)
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
