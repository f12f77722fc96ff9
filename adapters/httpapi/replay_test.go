package httpapi_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/skygate/skygate/adapters/fakerunner"
	"github.com/skygate/skygate/adapters/httpapi"
	"github.com/skygate/skygate/adapters/memstore"
	"github.com/skygate/skygate/app"
	"github.com/skygate/skygate/core"
)

// A stream asked for a history longer than a replay page gets all of it, each event
// once and in order, and then the live events.
func TestLongHistoryStreamsInPages(t *testing.T) {
	ctx := context.Background()
	store := memstore.New(memstore.Options{})
	const perCluster = app.ReplayPage*3/4 + 1
	for _, cluster := range []string{"a", "b", "c"} {
		var batch []core.Event
		for i := range perCluster {
			batch = append(batch, core.Event{Cluster: cluster, Type: core.EventProgress, Message: fmt.Sprintf("%s %d", cluster, i), Timestamp: time.Now()})
		}
		if _, err := store.Append(ctx, batch...); err != nil {
			t.Fatal(err)
		}
	}
	kept := uint64(3 * perCluster)
	svc := serviceOver(t, fakerunner.New(), store, app.Config{})
	ts := httptest.NewServer(httpapi.New(svc, httpapi.Options{Logger: zerolog.Nop()}))
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
	})

	resp := openStream(t, ts.URL+"/events?after=0")
	var launched bool
	events, _ := readEvents(t, resp.Body, func(ev sseEvent) bool {
		if ev.id == kept && !launched {
			launched = true
			if _, err := svc.Launch(ctx, "skygate", core.LaunchRequest{}); err != nil {
				t.Errorf("launch: %v", err)
				return true
			}
		}
		return ev.event == string(core.EventComplete)
	})
	if len(events) <= int(kept) {
		t.Fatalf("got %d events, want the %d kept and then the launch's", len(events), kept)
	}
	for i, ev := range events {
		if ev.id != uint64(i+1) {
			t.Fatalf("event %d has id %d: the stream skipped or repeated one", i, ev.id)
		}
	}
}
