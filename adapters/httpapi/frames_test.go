package httpapi

import (
	"strings"
	"testing"
	"time"

	"github.com/skygate/skygate/core"
)

func TestFrameCache(t *testing.T) {
	frames := newStreamFrames()
	at := time.Date(2026, 12, 2, 0, 0, 0, 5, time.UTC)
	ev := &core.Event{ID: 7, Cluster: "a", Type: core.EventProgress, Message: `Launching "a" <now>`, Timestamp: at}
	want := "id: 7\nevent: progress\ndata: {\"timestamp\":\"2026-12-02T00:00:00.000000005Z\",\"type\":\"progress\",\"message\":\"Launching \\\"a\\\" \\u003cnow\\u003e\"}\n\n"
	first := frames.cluster.frame(ev)
	if string(first) != want {
		t.Fatalf("frame = %q\nwant %q", first, want)
	}
	if again := frames.cluster.frame(ev); &again[0] != &first[0] {
		t.Error("the frame of an event was encoded again")
	}
	fleet := string(frames.fleet.frame(ev))
	if fleet == want || !strings.Contains(fleet, `"cluster":"a"`) {
		t.Errorf("fleet frame = %q, want the event's cluster in it", fleet)
	}
	// An event whose id shares the slot replaces the frame there, and is framed as itself.
	other := &core.Event{ID: 7 + frameCacheSlots, Cluster: "b", Type: core.EventComplete, Message: "done", Timestamp: at}
	if got := string(frames.cluster.frame(other)); !strings.Contains(got, "id: 1031\nevent: complete\n") || !strings.Contains(got, `"message":"done"`) {
		t.Errorf("frame of the other event = %q", got)
	}
	if got := string(frames.cluster.frame(ev)); got != want {
		t.Errorf("frame after its slot was taken = %q", got)
	}
}
