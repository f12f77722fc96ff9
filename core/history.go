package core

import (
	"slices"
	"sort"
)

// History is the newest part of the event log: events in ID order, at most a limit of
// them. It remembers the last ID ever issued, so that numbering continues from it.
// It is not safe for concurrent use; its owner guards it.
type History struct {
	limit  int
	lastID uint64
	// events grows to twice the limit before the oldest are cut, so that keeping an event
	// costs O(1) over time; only the newest limit are visible.
	events []Event
}

// NewHistory returns an empty history that keeps at most limit events.
func NewHistory(limit int) *History {
	return &History{limit: max(limit, 1)}
}

// LastID is the highest ID issued or kept so far.
func (h *History) LastID() uint64 { return h.lastID }

// Number returns copies of events with the IDs that follow LastID. It keeps nothing:
// the caller keeps them once they are saved.
func (h *History) Number(events []Event) []Event {
	numbered := slices.Clone(events)
	for i := range numbered {
		numbered[i].ID = h.lastID + uint64(i) + 1
	}
	return numbered
}

// Keep adds numbered events. An event whose ID does not exceed LastID is skipped, so
// keeping the same event twice keeps it once. It reports how many were kept.
func (h *History) Keep(events ...Event) int {
	kept := 0
	for _, e := range events {
		if e.ID <= h.lastID {
			continue
		}
		h.lastID = e.ID
		h.events = append(h.events, e)
		kept++
	}
	if len(h.events) > 2*h.limit {
		h.events = slices.Clone(h.visible())
	}
	return kept
}

// Advance raises LastID to id without keeping an event, for IDs issued whose events are
// no longer kept.
func (h *History) Advance(id uint64) {
	h.lastID = max(h.lastID, id)
}

// After returns copies of the kept events with an ID greater than after, oldest first.
func (h *History) After(after uint64) []Event {
	visible := h.visible()
	first := sort.Search(len(visible), func(i int) bool { return visible[i].ID > after })
	return slices.Clone(visible[first:])
}

// Len is the number of kept events.
func (h *History) Len() int { return len(h.visible()) }

func (h *History) visible() []Event {
	return h.events[max(0, len(h.events)-h.limit):]
}
