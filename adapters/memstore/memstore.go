// Package memstore is an in-memory ports.Store for tests: every record and a bounded
// event history per cluster, lost when the process ends.
package memstore

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

// DefaultHistoryLimit is Options.HistoryLimit when it is zero.
const DefaultHistoryLimit = 1000

// ErrClosed is returned by every method of a closed Store but Close.
var ErrClosed = errors.New("memstore: store is closed")

// Options tunes a Store.
type Options struct {
	// HistoryLimit is how many of a cluster's most recent events are kept.
	HistoryLimit int
}

// Store is the in-memory ports.Store. It is safe for concurrent use.
type Store struct {
	limit int

	mu      sync.Mutex
	closed  bool
	records map[string]core.Cluster
	events  map[string][]core.Event // by cluster, oldest first
	lastID  uint64
}

var _ ports.Store = (*Store)(nil)

// New returns an empty store.
func New(opts Options) *Store {
	if opts.HistoryLimit <= 0 {
		opts.HistoryLimit = DefaultHistoryLimit
	}
	return &Store{limit: opts.HistoryLimit, records: map[string]core.Cluster{}, events: map[string][]core.Event{}}
}

func (s *Store) Clusters(context.Context) ([]core.Cluster, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	out := make([]core.Cluster, 0, len(s.records))
	for _, r := range s.records {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b core.Cluster) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (s *Store) Load(_ context.Context, name string) (core.Cluster, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return core.Cluster{}, ErrClosed
	}
	return s.recordLocked(name), nil
}

func (s *Store) recordLocked(name string) core.Cluster {
	if r, ok := s.records[name]; ok {
		return r
	}
	return core.NoCluster(name)
}

func (s *Store) Update(_ context.Context, name string, fn func(core.Cluster) (core.Cluster, []core.Event, error)) (core.Cluster, []core.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return core.Cluster{}, nil, ErrClosed
	}
	rec, events, err := fn(s.recordLocked(name))
	if err != nil {
		return core.Cluster{}, nil, err
	}
	rec.Name = name
	numbered := slices.Clone(events)
	for i := range numbered {
		numbered[i].Cluster = name
	}
	s.records[name] = rec
	return rec, s.keepLocked(numbered), nil
}

func (s *Store) Append(_ context.Context, events ...core.Event) ([]core.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	return s.keepLocked(slices.Clone(events)), nil
}

// keepLocked numbers events and keeps them.
func (s *Store) keepLocked(events []core.Event) []core.Event {
	for i := range events {
		s.lastID++
		events[i].ID = s.lastID
		kept := append(s.events[events[i].Cluster], events[i])
		if len(kept) > 2*s.limit {
			kept = slices.Clone(kept[len(kept)-s.limit:])
		}
		s.events[events[i].Cluster] = kept
	}
	return events
}

func (s *Store) Events(_ context.Context, f ports.EventFilter) ([]core.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	var out []core.Event
	for cluster, events := range s.events {
		if f.Cluster != "" && cluster != f.Cluster {
			continue
		}
		if len(events) > s.limit {
			events = events[len(events)-s.limit:]
		}
		for _, e := range events {
			if e.ID > f.After && (f.OperationID == 0 || e.OperationID == f.OperationID) {
				out = append(out, e)
			}
		}
	}
	slices.SortFunc(out, func(a, b core.Event) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

func (s *Store) LastEventID(context.Context) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	return s.lastID, nil
}

func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}
