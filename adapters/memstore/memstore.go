// Package memstore is an in-memory ports.Store, for tests and for running without a state
// dir: it honours the whole Store contract except that nothing outlives the process.
package memstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/skygate/skygate/adapters/internal/records"
	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

// DefaultHistoryLimit is the number of events kept of each cluster when
// Options.HistoryLimit is zero.
const DefaultHistoryLimit = 1000

// ErrClosed is returned by every method of a closed Store but Close.
var ErrClosed = errors.New("memstore: store is closed")

// Options sizes a Store.
type Options struct {
	// HistoryLimit is how many of each cluster's most recent events are kept.
	HistoryLimit int
}

// Store is an in-memory ports.Store. It is safe for concurrent use.
type Store struct {
	limit int

	mu      sync.Mutex
	closed  bool
	records *records.Set
	// history holds each cluster's newest events; a History's own last ID is that
	// cluster's, lastID the store's.
	history map[string]*core.History
	lastID  uint64
}

var _ ports.Store = (*Store)(nil)

// New returns an empty store.
func New(opts Options) *Store {
	if opts.HistoryLimit <= 0 {
		opts.HistoryLimit = DefaultHistoryLimit
	}
	return &Store{limit: opts.HistoryLimit, records: records.New(), history: map[string]*core.History{}}
}

// Clusters returns every saved record, sorted by name.
func (s *Store) Clusters(ctx context.Context) ([]core.Cluster, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	return s.records.Sorted(), nil
}

// Existing counts the records of clusters that exist.
func (s *Store) Existing(ctx context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	return s.records.Existing(), nil
}

// Load returns the saved record of name, core.NoCluster(name) when none was saved.
func (s *Store) Load(ctx context.Context, name string) (core.Cluster, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return core.Cluster{}, ErrClosed
	}
	return s.records.Get(name), nil
}

// Update calls fn with the record of name and, when fn succeeds, keeps its record and
// numbered events.
func (s *Store) Update(ctx context.Context, name string, fn func(core.Cluster) (core.Cluster, []core.Event, error)) (core.Cluster, []core.Event, error) {
	if err := ctx.Err(); err != nil {
		return core.Cluster{}, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return core.Cluster{}, nil, ErrClosed
	}
	record, events, err := fn(s.records.Get(name))
	if err != nil {
		return core.Cluster{}, nil, err
	}
	if record.Name != name {
		return core.Cluster{}, nil, fmt.Errorf("memstore: update of cluster %q returned a record named %q", name, record.Name)
	}
	s.records.Put(record)
	events = slices.Clone(events)
	for i := range events {
		events[i].Cluster = name
	}
	return record, s.keep(events), nil
}

// Append numbers and keeps events.
func (s *Store) Append(ctx context.Context, events ...core.Event) ([]core.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	for _, e := range events {
		if e.Cluster == "" {
			return nil, errors.New("memstore: append of an event that names no cluster")
		}
	}
	return s.keep(slices.Clone(events)), nil
}

// Events returns the kept events that match filter, oldest first.
func (s *Store) Events(ctx context.Context, filter ports.EventFilter) ([]core.Event, error) {
	if filter.OperationID != 0 && filter.Cluster == "" {
		return nil, errors.New("memstore: an event filter on an operation needs its cluster")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if filter.Cluster != "" {
		h := s.history[filter.Cluster]
		if h == nil {
			return []core.Event{}, nil
		}
		events := h.After(filter.After)
		if filter.OperationID != 0 {
			events = slices.DeleteFunc(events, func(e core.Event) bool { return e.OperationID != filter.OperationID })
		}
		return limited(events, filter.Limit), nil
	}
	events := []core.Event{}
	for _, h := range s.history {
		events = append(events, h.After(filter.After)...)
	}
	slices.SortFunc(events, func(a, b core.Event) int { return cmp.Compare(a.ID, b.ID) })
	return limited(events, filter.Limit), nil
}

// limited is the first limit of events, all of them when limit is not positive.
func limited(events []core.Event, limit int) []core.Event {
	if limit > 0 && len(events) > limit {
		return events[:limit:limit]
	}
	return events
}

// LastEventID is the highest event ID issued so far.
func (s *Store) LastEventID(ctx context.Context) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	return s.lastID, nil
}

// Close makes every later call but Close fail with ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// keep numbers events, which the store owns, and keeps them in their clusters'
// histories; s.mu must be held.
func (s *Store) keep(events []core.Event) []core.Event {
	if len(events) == 0 {
		return nil
	}
	for i := range events {
		s.lastID++
		events[i].ID = s.lastID
		h := s.history[events[i].Cluster]
		if h == nil {
			h = core.NewHistory(s.limit)
			s.history[events[i].Cluster] = h
		}
		h.Keep(events[i])
	}
	return events
}
