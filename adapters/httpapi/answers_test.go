package httpapi

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/skygate/skygate/app"
	"github.com/skygate/skygate/core"
)

func TestStatusCache(t *testing.T) {
	rec := core.Cluster{Name: "a", Status: core.StatusRunning, Cloud: "aws", IP: "1.2.3.4", LaunchedAt: time.Unix(1796171816, 0)}
	direct := func(c core.Cluster) []byte {
		out := huma2JSON(t, statusResult(c))
		return out[:len(out)-1]
	}
	var c statusCache
	first, err := c.encode(rec)
	if err != nil || !bytes.Equal(first, direct(rec)) {
		t.Fatalf("encode = %s, %v; want %s", first, err, direct(rec))
	}
	if again, _ := c.encode(rec); &again[0] != &first[0] {
		t.Error("an unchanged record was encoded again")
	}
	for _, change := range []func(*core.Cluster){
		func(r *core.Cluster) { r.Status = core.StatusStopped; r.IP = "" },
		func(r *core.Cluster) { r.Error = "boom <b>" },
		func(r *core.Cluster) { r.Status = core.StatusNoServer },
		func(r *core.Cluster) { r.UpdatedAt = time.Unix(1, 0) },
	} {
		changed := rec
		change(&changed)
		if got, err := c.encode(changed); err != nil || !bytes.Equal(got, direct(changed)) {
			t.Errorf("after a change: %s, %v; want %s", got, err, direct(changed))
		}
	}
	// Each name has its own entry, and asking about many names keeps the cache bounded.
	other := core.NoCluster("b")
	if got, _ := c.encode(other); !bytes.Equal(got, direct(other)) {
		t.Errorf("another name: %s", got)
	}
	for i := range maxCachedStatuses + 10 {
		_, _ = c.encode(core.NoCluster(fmt.Sprintf("n%d", i)))
	}
	if n := len(c.byName); n > maxCachedStatuses {
		t.Errorf("cache holds %d entries, more than %d", n, maxCachedStatuses)
	}
}

func TestListCache(t *testing.T) {
	at := time.Unix(1796171816, 0)
	views := []app.ClusterView{
		{Cluster: core.Cluster{Name: "a", Status: core.StatusRunning, Cloud: "aws", IP: "1.2.3.4", LaunchedAt: at}, Default: true},
		{Cluster: core.Cluster{Name: "b", Status: core.StatusError, Error: "quota <exceeded>"}},
	}
	encodeDirect := func(vs []app.ClusterView) []byte {
		records := make([]ClusterRecord, len(vs))
		for i, v := range vs {
			records[i] = clusterRecord(v)
		}
		out := huma2JSON(t, records)
		return out[:len(out)-1]
	}
	var c listCache
	first, err := c.encode(views)
	if err != nil || !bytes.Equal(first, encodeDirect(views)) {
		t.Fatalf("encode = %s, %v; want %s", first, err, encodeDirect(views))
	}
	same := []app.ClusterView{views[0], views[1]}
	if again, _ := c.encode(same); &again[0] != &first[0] {
		t.Error("equal views were encoded again")
	}
	// Any change to a listed cluster is a new answer; so is a change only the record
	// holds (the cache compares whole views), and the cache never answers stale.
	for _, change := range []func(v []app.ClusterView){
		func(v []app.ClusterView) { v[1].Status = core.StatusStopped },
		func(v []app.ClusterView) { v[0].IP = "5.6.7.8" },
		func(v []app.ClusterView) { v[0].Default = false },
		func(v []app.ClusterView) { v[1].Desired = core.DesiredAbsent },
	} {
		changed := []app.ClusterView{views[0], views[1]}
		change(changed)
		got, err := c.encode(changed)
		if err != nil || !bytes.Equal(got, encodeDirect(changed)) {
			t.Errorf("after a change: %s, %v; want %s", got, err, encodeDirect(changed))
		}
	}
	if got, _ := c.encode(views[:1]); !bytes.Equal(got, encodeDirect(views[:1])) {
		t.Errorf("a shorter fleet: %s", got)
	}
	if got, _ := c.encode(nil); string(got) != "[]" {
		t.Errorf("an empty fleet: %s", got)
	}
}
