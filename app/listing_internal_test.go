package app

import (
	"slices"
	"testing"

	"github.com/skygate/skygate/core"
)

func TestFleetListingFollowsTheSnapshot(t *testing.T) {
	running := func(name string) core.Cluster { return core.Cluster{Name: name, Status: core.StatusRunning} }
	var l fleetListing
	snapshot := []core.Cluster{running("a"), core.NoCluster("gone"), running("z")}
	views := l.of(snapshot, "m")
	want := []ClusterView{{Cluster: running("a")}, {Cluster: core.NoCluster("m"), Default: true}, {Cluster: running("z")}}
	if !slices.Equal(views, want) {
		t.Fatalf("views = %+v, want %+v", views, want)
	}
	if again := l.of(snapshot, "m"); &again[0] != &views[0] {
		t.Error("the same snapshot was listed again")
	}
	// A new snapshot is a new listing, even of the same length.
	next := []core.Cluster{running("a"), running("m"), core.NoCluster("z")}
	want = []ClusterView{{Cluster: running("a")}, {Cluster: running("m"), Default: true}}
	if got := l.of(next, "m"); !slices.Equal(got, want) {
		t.Fatalf("views of a new snapshot = %+v, want %+v", got, want)
	}
	if got := l.of(nil, "m"); !slices.Equal(got, []ClusterView{{Cluster: core.NoCluster("m"), Default: true}}) {
		t.Fatalf("views of no records = %+v", got)
	}
}
