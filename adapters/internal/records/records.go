// Package records holds cluster records by name, as the Store adapters keep them in
// memory.
package records

import (
	"maps"
	"slices"

	"github.com/skygate/skygate/core"
)

// Set maps a cluster's name to its saved record. It is not safe for concurrent use.
type Set map[string]core.Cluster

// Get returns the record of name, core.NoCluster(name) when none was saved.
func (s Set) Get(name string) core.Cluster {
	if c, ok := s[name]; ok {
		return c
	}
	return core.NoCluster(name)
}

// Sorted returns every record, sorted by name.
func (s Set) Sorted() []core.Cluster {
	out := make([]core.Cluster, 0, len(s))
	for _, name := range slices.Sorted(maps.Keys(s)) {
		out = append(out, s[name])
	}
	return out
}
