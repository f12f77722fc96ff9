// Package records holds cluster records by name, as the Store adapters keep them in
// memory.
package records

import (
	"slices"
	"strings"
	"sync/atomic"

	"github.com/skygate/skygate/core"
)

// Set maps a cluster's name to its saved record. Put needs exclusive access; Get and
// Sorted may run concurrently with each other (under a store's read lock).
type Set struct {
	byName map[string]core.Cluster
	// sorted is the snapshot Sorted returns, nil after a change until it is asked for.
	sorted atomic.Pointer[[]core.Cluster]
	// existing counts the records of clusters that exist (core.Cluster.Exists).
	existing int
}

// New returns an empty set.
func New() *Set { return &Set{byName: map[string]core.Cluster{}} }

// Put saves c under its name.
func (s *Set) Put(c core.Cluster) {
	if old, ok := s.byName[c.Name]; ok && old.Exists() {
		s.existing--
	}
	if c.Exists() {
		s.existing++
	}
	s.byName[c.Name] = c
	s.sorted.Store(nil)
}

// Existing is how many of the records are of clusters that exist: a launch's bound is
// checked against it without sorting the records.
func (s *Set) Existing() int { return s.existing }

// Get returns the record of name, core.NoCluster(name) when none was saved.
func (s *Set) Get(name string) core.Cluster {
	if c, ok := s.byName[name]; ok {
		return c
	}
	return core.NoCluster(name)
}

// Sorted returns every record, sorted by name. The slice is one snapshot, made on the
// first call after a change and shared by every caller until the next change (a fleet
// listing is read far more often than a record changes): it must not be written to.
func (s *Set) Sorted() []core.Cluster {
	if p := s.sorted.Load(); p != nil {
		return *p
	}
	out := make([]core.Cluster, 0, len(s.byName))
	for _, c := range s.byName {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b core.Cluster) int { return strings.Compare(a.Name, b.Name) })
	s.sorted.CompareAndSwap(nil, &out)
	return out
}
