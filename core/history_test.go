package core

import (
	"slices"
	"testing"
)

func ids(events []Event) []uint64 {
	out := make([]uint64, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}

func TestHistory(t *testing.T) {
	h := NewHistory(3)
	if got := h.Number(make([]Event, 2)); !slices.Equal(ids(got), []uint64{1, 2}) || h.LastID() != 0 {
		t.Fatalf("Number = %v, last %d", ids(got), h.LastID())
	}
	if n := h.Keep(h.Number(make([]Event, 2))...); n != 2 || h.LastID() != 2 {
		t.Fatalf("kept %d, last %d", n, h.LastID())
	}
	if n := h.Keep(Event{ID: 2}, Event{ID: 1}); n != 0 {
		t.Fatalf("kept %d old events", n)
	}
	for range 10 {
		h.Keep(h.Number(make([]Event, 1))...)
	}
	if got := ids(h.After(0)); !slices.Equal(got, []uint64{10, 11, 12}) || h.Len() != 3 {
		t.Fatalf("After(0) = %v", got)
	}
	if got := ids(h.After(11)); !slices.Equal(got, []uint64{12}) {
		t.Fatalf("After(11) = %v", got)
	}
	if got := h.After(12); len(got) != 0 {
		t.Fatalf("After(12) = %v", got)
	}
	h.Advance(40)
	h.Advance(20)
	if got := ids(h.Number(make([]Event, 1))); !slices.Equal(got, []uint64{41}) {
		t.Fatalf("after Advance, Number = %v", got)
	}
	// The copies are the caller's.
	out := h.After(0)
	out[0].Message = "changed"
	if h.After(0)[0].Message == "changed" {
		t.Fatal("After returned the history's own slice")
	}
}
