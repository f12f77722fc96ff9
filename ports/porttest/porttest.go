// Package porttest holds contract test suites for the ports. An adapter runs the suite of
// the port it implements from its own tests, so every adapter is held to the same
// sentences of the contract comments in package ports.
package porttest

import (
	"fmt"
	"slices"
	"time"

	"github.com/skygate/skygate/core"
)

// baseTime is the timestamp of the first test event; later ones follow one second apart.
var baseTime = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// progressEvents returns n unnumbered progress events whose messages start at "line from".
func progressEvents(from, n int) []core.Event {
	events := make([]core.Event, n)
	for i := range events {
		k := from + i
		events[i] = core.ProgressEvent(baseTime.Add(time.Duration(k)*time.Second), 7, fmt.Sprintf("line %d", k))
	}
	return events
}

// numberedEvents returns progress events with the IDs from..to, as a store would have
// numbered them.
func numberedEvents(from, to uint64) []core.Event {
	var events []core.Event
	for id := from; id <= to; id++ {
		e := progressEvents(int(id), 1)[0]
		e.ID = id
		events = append(events, e)
	}
	return events
}

// IDs returns the IDs of events, in order; adapters' own tests use it too.
func IDs(events []core.Event) []uint64 {
	ids := make([]uint64, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	return ids
}

// idRange returns from, from+1, ..., to; empty when to < from.
func idRange(from, to uint64) []uint64 {
	ids := []uint64{}
	for id := from; id <= to; id++ {
		ids = append(ids, id)
	}
	return ids
}

// sameIDs reports whether got holds exactly the IDs want, in order.
func sameIDs(got []core.Event, want []uint64) bool {
	return slices.Equal(IDs(got), want)
}

// normalizeEvents strips what a round trip through JSON legitimately changes (monotonic
// clock reading, location), so saved and loaded values compare equal.
func normalizeEvents(events []core.Event) []core.Event {
	out := make([]core.Event, len(events))
	for i, e := range events {
		e.Timestamp = normalizeTime(e.Timestamp)
		out[i] = e
	}
	return out
}

func normalizeCluster(c core.Cluster) core.Cluster {
	c.LaunchedAt = normalizeTime(c.LaunchedAt)
	c.UpdatedAt = normalizeTime(c.UpdatedAt)
	return c
}

func normalizeTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.Round(0).UTC()
}
