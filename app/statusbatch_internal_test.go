package app

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/skygate/skygate/adapters/clock"
	"github.com/skygate/skygate/adapters/fakerunner"
	"github.com/skygate/skygate/adapters/membus"
	"github.com/skygate/skygate/adapters/memstore"
	"github.com/skygate/skygate/core"
)

// queued is how many names wait for the next run of one refresh.
func (sb *statusBatches) queued(refresh bool) int {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if b := sb.next[refreshIndex(refresh)]; b != nil {
		return len(b.names)
	}
	return 0
}

// The clusters asked about while a sky status run is under way are asked about in one
// next run, each caller gets its own cluster's answer, and a run with the other refresh
// does not wait for them.
func TestStatusRunsAboutOneClusterAreBatched(t *testing.T) {
	sky := fakerunner.New()
	sky.SetCluster("c2", fakerunner.Cluster{Status: core.SkyUp, Cloud: "aws"})
	svc := New(Config{DefaultCluster: "skygate", RefreshInterval: time.Hour}, sky, memstore.New(memstore.Options{}),
		membus.New(membus.Options{}), clock.System{}, DirTaskFiles(t.TempDir()), zerolog.Nop())
	t.Cleanup(func() { svc.Shutdown(context.Background()) })
	ctx := context.Background()
	eventually := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; sky calls %v", what, sky.Calls())
			}
		}
	}

	type answer struct {
		name string
		sc   core.SkyCluster
		err  error
	}
	answers := make(chan answer, 8)
	ask := func(name string, refresh bool) {
		go func() {
			sc, err := svc.skyStatusOf(ctx, name, refresh)
			answers <- answer{name, sc, err}
		}()
	}
	sky.Hold("status first")
	ask("first", false)
	eventually("the first run", func() bool { return sky.Count("status first") == 1 })
	names := []string{"c1", "c2", "c3", "c4"}
	for _, name := range names {
		ask(name, false)
	}
	ask("c2", false) // asked twice, asked about once
	eventually("the next batch", func() bool { return svc.batches.queued(false) == len(names) })

	ask("r", true)
	if got := <-answers; got.name != "r" || got.err != nil || got.sc.Found {
		t.Fatalf("a refreshing run waited for, or was mixed with, the others: %+v", got)
	}
	sky.Release("status first")
	for range 1 + len(names) + 1 {
		got := <-answers
		if got.err != nil || got.sc.Found != (got.name == "c2") {
			t.Fatalf("answer about %s: %+v", got.name, got)
		}
	}

	var batched []string
	for _, call := range sky.Calls() {
		if rest, ok := strings.CutPrefix(call, "status "); ok && !strings.HasPrefix(rest, "--refresh") && rest != "first" {
			batched = append(batched, rest)
		}
	}
	if len(batched) != 1 {
		t.Fatalf("runs after the first: %q, want one about %v; all calls %v", batched, names, sky.Calls())
	}
	asked := strings.Fields(batched[0])
	slices.Sort(asked)
	if !slices.Equal(asked, names) {
		t.Fatalf("the batch asked about %v, want %v", asked, names)
	}
	if n := sky.Count("status "); n != 3 {
		t.Fatalf("%d sky status runs, want 3: %v", n, sky.Calls())
	}
	// Once the batches are done, the next question starts a run of its own again.
	ask("c5", false)
	if got := <-answers; got.name != "c5" || got.err != nil {
		t.Fatalf("a question after the batches: %+v", got)
	}
	if n := sky.Count("status c5"); n != 1 {
		t.Fatalf("%d runs about c5, want 1: %v", n, sky.Calls())
	}
}
