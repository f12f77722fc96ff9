package app

import (
	"context"
	"slices"
	"sync"

	"github.com/skygate/skygate/core"
)

// statusBatches coalesces the `sky status` runs that each ask about one cluster (an
// operation confirming how its run ended, a recovery polling a lost run). A run starts at
// once when none with the same refresh is under way; the clusters asked about meanwhile
// are asked together in the next run. Operations that end together, such as a fleet's
// launches, then cost one or two sky processes instead of one each: every sky is a
// Python process of 100+ MB, and a hundred starting at once would take the machine.
type statusBatches struct {
	mu sync.Mutex
	// next, by refresh, is the batch the next run asks about; running, by refresh, says
	// whether a run is under way (the one that will take next when it ends).
	next    [2]*statusBatch
	running [2]bool
}

// statusBatch is the names one `sky status` run asks about, and its answer once done is
// closed.
type statusBatch struct {
	names   []string
	done    chan struct{}
	answers map[string]core.SkyCluster
	err     error
}

// skyStatusOf asks sky about one cluster, in a run shared with the other clusters asked
// about at the same time. The run has the service's context, so one caller going away
// does not cut off the others' answer; the caller stops waiting when ctx ends.
func (s *Service) skyStatusOf(ctx context.Context, name string, refresh bool) (core.SkyCluster, error) {
	b := s.joinStatusBatch(name, refresh)
	select {
	case <-b.done:
		return b.answers[name], b.err
	case <-ctx.Done():
		return core.SkyCluster{}, ctx.Err()
	}
}

// joinStatusBatch adds name to the next batch, and starts the runs when none is under
// way.
func (s *Service) joinStatusBatch(name string, refresh bool) *statusBatch {
	sb, k := &s.batches, refreshIndex(refresh)
	sb.mu.Lock()
	defer sb.mu.Unlock()
	b := sb.next[k]
	if b == nil {
		b = &statusBatch{done: make(chan struct{})}
		sb.next[k] = b
	}
	if !slices.Contains(b.names, name) {
		b.names = append(b.names, name)
	}
	if !sb.running[k] {
		sb.running[k] = true
		s.work.Add(1)
		go s.runStatusBatches(refresh)
	}
	return b
}

// runStatusBatches runs the batches of one refresh until none is waiting.
func (s *Service) runStatusBatches(refresh bool) {
	defer s.work.Done()
	sb, k := &s.batches, refreshIndex(refresh)
	for {
		sb.mu.Lock()
		b := sb.next[k]
		sb.next[k] = nil
		if b == nil {
			sb.running[k] = false
			sb.mu.Unlock()
			return
		}
		sb.mu.Unlock()
		b.answers, b.err = s.runner.Status(s.base, b.names, refresh)
		close(b.done)
	}
}

func refreshIndex(refresh bool) int {
	if refresh {
		return 1
	}
	return 0
}
