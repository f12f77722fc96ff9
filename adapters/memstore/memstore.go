// Package memstore is an in-memory ports.Store, for tests and for running without a state
// dir: it honours the whole Store contract except that nothing outlives the process.
package memstore

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"

	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

// DefaultHistoryLimit is the number of events kept when Options.HistoryLimit is zero.
const DefaultHistoryLimit = 1000

// ErrClosed is returned by every method of a closed Store but Close.
var ErrClosed = errors.New("memstore: store is closed")

// Options sizes a Store.
type Options struct {
	// HistoryLimit is how many of the most recent events Events can return.
	HistoryLimit int
}

// Store is an in-memory ports.Store. It is safe for concurrent use.
type Store struct {
	limit int

	mu     sync.Mutex
	closed bool
	record core.Cluster
	lastID uint64
	// history holds the newest events in ID order; it grows to twice the limit before
	// the oldest are cut, so trimming costs O(1) per event over time.
	history []core.Event
}

var _ ports.Store = (*Store)(nil)

// New returns an empty store.
func New(opts Options) *Store {
	if opts.HistoryLimit <= 0 {
		opts.HistoryLimit = DefaultHistoryLimit
	}
	return &Store{limit: opts.HistoryLimit, record: core.NoCluster()}
}

// Load returns the record, core.NoCluster() until the first Update.
func (s *Store) Load(ctx context.Context) (core.Cluster, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return core.Cluster{}, ErrClosed
	}
	return s.record, nil
}

// Update calls fn with the record and, when fn succeeds, keeps its record and numbered
// events.
func (s *Store) Update(ctx context.Context, fn func(core.Cluster) (core.Cluster, []core.Event, error)) (core.Cluster, []core.Event, error) {
	if err := ctx.Err(); err != nil {
		return core.Cluster{}, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return core.Cluster{}, nil, ErrClosed
	}
	record, events, err := fn(s.record)
	if err != nil {
		return core.Cluster{}, nil, err
	}
	s.record = record
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
	return s.keep(events), nil
}

// Events returns the kept events with an ID greater than after.
func (s *Store) Events(ctx context.Context, after uint64) ([]core.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	kept := s.history[max(0, len(s.history)-s.limit):]
	first := sort.Search(len(kept), func(i int) bool { return kept[i].ID > after })
	return slices.Clone(kept[first:]), nil
}

// Close makes every later call but Close fail with ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// keep numbers copies of events after the last ID and adds them to the history.
func (s *Store) keep(events []core.Event) []core.Event {
	if len(events) == 0 {
		return nil
	}
	numbered := slices.Clone(events)
	for i := range numbered {
		s.lastID++
		numbered[i].ID = s.lastID
	}
	s.history = append(s.history, numbered...)
	if len(s.history) > 2*s.limit {
		s.history = slices.Clone(s.history[len(s.history)-s.limit:])
	}
	return slices.Clone(numbered)
}
