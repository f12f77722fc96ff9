// Package memstore is an in-memory ports.Store, for tests and for running without a state
// dir: it honours the whole Store contract except that nothing outlives the process.
package memstore

import (
	"context"
	"errors"
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
	mu      sync.Mutex
	closed  bool
	record  core.Cluster
	history *core.History
}

var _ ports.Store = (*Store)(nil)

// New returns an empty store.
func New(opts Options) *Store {
	if opts.HistoryLimit <= 0 {
		opts.HistoryLimit = DefaultHistoryLimit
	}
	return &Store{record: core.NoCluster(), history: core.NewHistory(opts.HistoryLimit)}
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
	return s.history.After(after), nil
}

// Close makes every later call but Close fail with ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// keep numbers and keeps events; s.mu must be held.
func (s *Store) keep(events []core.Event) []core.Event {
	if len(events) == 0 {
		return nil
	}
	numbered := s.history.Number(events)
	s.history.Keep(numbered...)
	return numbered
}
