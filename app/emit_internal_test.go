package app

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/skygate/skygate/adapters/clock"
	"github.com/skygate/skygate/adapters/fakerunner"
	"github.com/skygate/skygate/adapters/membus"
	"github.com/skygate/skygate/adapters/memstore"
	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

// countingStore counts Append calls, and makes each take a while, as a transaction does.
type countingStore struct {
	ports.Store
	appends atomic.Int64
}

func (c *countingStore) Append(ctx context.Context, events ...core.Event) ([]core.Event, error) {
	c.appends.Add(1)
	time.Sleep(200 * time.Microsecond)
	return c.Store.Append(ctx, events...)
}

// Lines emitted at once by many runs are all saved and published, each run's in its
// order, and in fewer transactions than lines.
func TestConcurrentEmitsAreSavedTogether(t *testing.T) {
	store := &countingStore{Store: memstore.New(memstore.Options{})}
	bus := membus.New(membus.Options{Buffer: 4096})
	svc := New(Config{DefaultCluster: "skygate", RefreshInterval: time.Hour}, fakerunner.New(), store, bus,
		clock.System{}, DirTaskFiles(t.TempDir()), zerolog.Nop())
	t.Cleanup(func() { svc.Shutdown(context.Background()) })
	sub := bus.Subscribe("")
	defer sub.Close()

	const runs, lines = 8, 100
	var wg sync.WaitGroup
	for r := range runs {
		cluster := fmt.Sprintf("c%d", r)
		wg.Go(func() {
			for i := range lines {
				svc.emit(context.Background(), core.Event{Cluster: cluster, Type: core.EventProgress, Message: fmt.Sprint(i)})
				// Once emit returns, its line is saved.
				if got, _ := store.Events(context.Background(), ports.EventFilter{Cluster: cluster}); len(got) != i+1 {
					t.Errorf("%s: %d lines saved after emit %d returned", cluster, len(got), i)
					return
				}
			}
		})
	}
	wg.Wait()
	next := map[string]int{}
	var last uint64
	for range runs * lines {
		ev := <-sub.Events()
		if ev.ID <= last || ev.Message != fmt.Sprint(next[ev.Cluster]) {
			t.Fatalf("published out of order: %+v after id %d, want line %d of %s", ev, last, next[ev.Cluster], ev.Cluster)
		}
		last = ev.ID
		next[ev.Cluster]++
	}

	// Lines that wait while a save is under way go in one transaction.
	before := store.appends.Load()
	svc.journalMu.Lock()
	for r := range runs {
		wg.Go(func() {
			svc.emit(context.Background(), core.Event{Cluster: fmt.Sprintf("c%d", r), Type: core.EventProgress})
		})
	}
	for waiting := 0; waiting < runs; {
		svc.unsavedMu.Lock()
		waiting = len(svc.unsaved)
		svc.unsavedMu.Unlock()
		time.Sleep(time.Millisecond)
	}
	svc.journalMu.Unlock()
	wg.Wait()
	if n := store.appends.Load() - before; n != 1 {
		t.Errorf("%d waiting lines were saved in %d transactions, want 1", runs, n)
	}
}
