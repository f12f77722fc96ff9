package porttest

import (
	"cmp"
	"context"
	"errors"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

// Bounds the Store suite puts on the history an adapter keeps of each cluster: at least
// StoreMinHistory events, and fewer than StoreHistoryProbe.
const (
	StoreMinHistory   = 1000
	StoreHistoryProbe = 5000
)

var errRefused = errors.New("refused by fn")

// launchedCluster is a record of name as a successful launch leaves it, with every field set.
func launchedCluster(name string, opID uint64) core.Cluster {
	return core.Cluster{
		Name:         name,
		Status:       core.StatusRunning,
		Desired:      core.DesiredUp,
		Cloud:        "aws",
		Region:       "us-east-1",
		InstanceType: "m6i.large",
		IP:           "203.0.113.7",
		LaunchedAt:   baseTime.Add(123456789 * time.Nanosecond),
		Error:        "an earlier stop failed: <&> \"quoted\" ünïcode",
		Operation:    core.ActionLaunch,
		OperationID:  opID,
		Launch:       core.LaunchRequest{Cloud: "aws", Region: "us-east-1", InstanceType: "m6i.large"},
		UpdatedAt:    baseTime.Add(time.Minute + 7*time.Nanosecond),
	}
}

// setTo returns an Update fn that replaces the record with c and emits events.
func setTo(c core.Cluster, events ...core.Event) func(core.Cluster) (core.Cluster, []core.Event, error) {
	return func(core.Cluster) (core.Cluster, []core.Event, error) { return c, events, nil }
}

// progressOf returns n unnumbered progress events of cluster whose messages start at "line from".
func progressOf(cluster string, from, n int) []core.Event {
	events := progressEvents(from, n)
	for i := range events {
		events[i].Cluster = cluster
	}
	return events
}

// fullEvent is an event of cluster with every field set, as the store is given it.
func fullEvent(cluster string, opID uint64) core.Event {
	e := core.StatusEvent(baseTime.Add(987654321*time.Nanosecond), opID, core.StatusStopping, "line with <&>, \"quotes\", ünïcode and\ttab")
	e.Cluster = cluster
	e.Offset = 1<<40 + 17
	return e
}

// Store checks a ports.Store. open returns a new, empty store that keeps at least
// StoreMinHistory and fewer than StoreHistoryProbe events of each cluster; the suite closes
// it. reopen is nil for a store that keeps nothing beyond its life; for a durable store it
// opens again the state of a store that the suite has just closed, and the suite closes
// what it returns.
func Store(t *testing.T, open func(t *testing.T) ports.Store, reopen func(t *testing.T, closed ports.Store) ports.Store) {
	closeAtEnd := func(t *testing.T, s ports.Store) ports.Store {
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}
	openStore := func(t *testing.T) ports.Store { return closeAtEnd(t, open(t)) }

	t.Run("NeverSavedNameLoadsAsNoCluster", func(t *testing.T) {
		s := openStore(t)
		wantRecord(t, s, core.NoCluster("web-1"))
		wantClusters(t, s)
		wantEventIDs(t, s, ports.EventFilter{}, idRange(1, 0))
		wantLastID(t, s, 0)
	})

	t.Run("UpdateNumbersSavesAndReturns", func(t *testing.T) {
		s := openStore(t)
		rec := launchedCluster("web-1", 1)
		emitted := []core.Event{
			core.StatusEvent(baseTime, 1, core.StatusRunning, "cluster is up"),
			core.CompleteEvent(baseTime, 1, "launch complete"),
		}
		emitted[1].Cluster = "some-other-name"
		var seen core.Cluster
		gotRec, gotEvents, err := s.Update(context.Background(), "web-1", func(c core.Cluster) (core.Cluster, []core.Event, error) {
			seen = c
			return rec, emitted, nil
		})
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		if !reflect.DeepEqual(seen, core.NoCluster("web-1")) {
			t.Errorf("fn got %+v for a never saved name, want core.NoCluster(\"web-1\")", seen)
		}
		if !reflect.DeepEqual(normalizeCluster(gotRec), normalizeCluster(rec)) {
			t.Errorf("Update returned record %+v, want %+v", gotRec, rec)
		}
		want := numberedFor("web-1", emitted, 1)
		if !reflect.DeepEqual(normalizeEvents(gotEvents), want) {
			t.Errorf("Update returned events %+v, want %+v (numbered from 1, Cluster set to the name)", gotEvents, want)
		}
		wantRecord(t, s, rec)
		wantClusters(t, s, rec)
		wantEvents(t, s, ports.EventFilter{}, want)
		wantLastID(t, s, 2)
	})

	t.Run("UpdateGivesFnTheSavedRecord", func(t *testing.T) {
		s := openStore(t)
		mustUpdate(t, s, "web-1", setTo(launchedCluster("web-1", 1)))
		mustUpdate(t, s, "web-2", setTo(launchedCluster("web-2", 5)))
		var seen core.Cluster
		mustUpdate(t, s, "web-1", func(c core.Cluster) (core.Cluster, []core.Event, error) {
			seen = c
			c.Status = core.StatusStopping
			return c, nil, nil
		})
		if !reflect.DeepEqual(normalizeCluster(seen), normalizeCluster(launchedCluster("web-1", 1))) {
			t.Errorf("fn got %+v, want the saved record %+v", seen, launchedCluster("web-1", 1))
		}
		stopping := launchedCluster("web-1", 1)
		stopping.Status = core.StatusStopping
		wantRecord(t, s, stopping)
		wantRecord(t, s, launchedCluster("web-2", 5))
	})

	t.Run("RecordOfEveryFieldRoundTrips", func(t *testing.T) {
		s := openStore(t)
		for _, desired := range []core.Desired{core.DesiredUp, core.DesiredStopped, core.DesiredAbsent, core.DesiredNone} {
			rec := launchedCluster("web-1", 3)
			rec.Desired = desired
			mustUpdate(t, s, "web-1", setTo(rec))
			wantRecord(t, s, rec)
		}
		zero := core.Cluster{Name: "bare", Status: core.StatusError}
		mustUpdate(t, s, "bare", setTo(zero))
		wantRecord(t, s, zero)
	})

	t.Run("UpdateRefusesARecordOfAnotherName", func(t *testing.T) {
		s := openStore(t)
		mustUpdate(t, s, "web-1", setTo(launchedCluster("web-1", 1), progressEvents(1, 1)...))
		for _, other := range []string{"web-2", ""} {
			_, _, err := s.Update(context.Background(), "web-1", setTo(launchedCluster(other, 2), progressEvents(2, 1)...))
			if err == nil {
				t.Errorf("Update of web-1 saved a record named %q", other)
			}
		}
		wantRecord(t, s, launchedCluster("web-1", 1))
		wantRecord(t, s, core.NoCluster("web-2"))
		wantClusters(t, s, launchedCluster("web-1", 1))
		wantLastID(t, s, 1)
	})

	t.Run("UpdateWithoutEventsIssuesNoID", func(t *testing.T) {
		s := openStore(t)
		_, events := mustUpdate(t, s, "web-1", setTo(launchedCluster("web-1", 1)))
		if len(events) != 0 {
			t.Errorf("Update without events returned %+v", events)
		}
		wantEventIDs(t, s, ports.EventFilter{}, idRange(1, 0))
		wantLastID(t, s, 0)
		wantAppendIDs(t, s, "web-1", idRange(1, 2))
	})

	t.Run("FailedUpdateChangesNothing", func(t *testing.T) {
		s := openStore(t)
		mustUpdate(t, s, "web-1", setTo(launchedCluster("web-1", 1), progressEvents(1, 2)...))
		for _, name := range []string{"web-1", "never-saved"} {
			called := false
			_, _, err := s.Update(context.Background(), name, func(c core.Cluster) (core.Cluster, []core.Event, error) {
				called = true
				c.Status = core.StatusError
				return c, progressEvents(3, 2), errRefused
			})
			if !called {
				t.Fatal("Update did not call fn")
			}
			if !errors.Is(err, errRefused) {
				t.Fatalf("Update returned error %v, want fn's error %v", err, errRefused)
			}
		}
		wantRecord(t, s, launchedCluster("web-1", 1))
		wantRecord(t, s, core.NoCluster("never-saved"))
		wantClusters(t, s, launchedCluster("web-1", 1))
		wantEventIDs(t, s, ports.EventFilter{}, idRange(1, 2))
		wantLastID(t, s, 2)
		wantAppendIDs(t, s, "web-1", idRange(3, 3))
	})

	t.Run("ClustersListsEverySavedRecordByName", func(t *testing.T) {
		s := openStore(t)
		for _, name := range []string{"web-b", "db", "web-a", "Zeta", "web-c"} {
			mustUpdate(t, s, name, setTo(launchedCluster(name, 1)))
		}
		destroyed := core.NoCluster("web-a")
		destroyed.OperationID = 9
		mustUpdate(t, s, "web-a", setTo(destroyed))
		wantClusters(t, s, launchedCluster("Zeta", 1), launchedCluster("db", 1), destroyed,
			launchedCluster("web-b", 1), launchedCluster("web-c", 1))
	})

	t.Run("ClustersSnapshotNeverChanges", func(t *testing.T) {
		s := openStore(t)
		mustUpdate(t, s, "a", setTo(launchedCluster("a", 1)))
		mustUpdate(t, s, "c", setTo(launchedCluster("c", 1)))
		before, err := s.Clusters(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		kept := slices.Clone(before)
		mustUpdate(t, s, "b", setTo(launchedCluster("b", 1)))
		mustUpdate(t, s, "a", setTo(core.NoCluster("a")))
		if !slices.Equal(before, kept) {
			t.Fatalf("a listing handed out earlier changed with later updates: %+v, was %+v", before, kept)
		}
		wantClusters(t, s, core.NoCluster("a"), launchedCluster("b", 1), launchedCluster("c", 1))
	})

	t.Run("IDsAreGlobalAcrossClusters", func(t *testing.T) {
		s := openStore(t)
		_, a := mustUpdate(t, s, "a", setTo(launchedCluster("a", 1), progressEvents(1, 2)...))
		appended := mustAppend(t, s, progressOf("b", 3, 1)...)
		_, b := mustUpdate(t, s, "b", setTo(launchedCluster("b", 1), progressEvents(4, 1)...))
		mixed := mustAppend(t, s, append(progressOf("a", 5, 1), progressOf("b", 6, 1)...)...)
		all := concat(a, appended, b, mixed)
		if !sameIDs(all, idRange(1, 6)) {
			t.Fatalf("events numbered %v over two clusters, want 1..6", IDs(all))
		}
		wantEvents(t, s, ports.EventFilter{}, normalizeEvents(all))
		wantEvents(t, s, ports.EventFilter{Cluster: "a"}, normalizeEvents(concat(a, mixed[:1])))
		wantEvents(t, s, ports.EventFilter{Cluster: "b"}, normalizeEvents(concat(appended, b, mixed[1:])))
		wantLastID(t, s, 6)
	})

	t.Run("AppendNumbersAfterTheLastID", func(t *testing.T) {
		s := openStore(t)
		_, fromUpdate := mustUpdate(t, s, "web-1", setTo(launchedCluster("web-1", 1), progressEvents(1, 2)...))
		emitted := progressOf("web-1", 3, 3)
		got := mustAppend(t, s, emitted...)
		want := numberedFor("web-1", emitted, 3)
		if !reflect.DeepEqual(normalizeEvents(got), want) {
			t.Errorf("Append returned %+v, want %+v", got, want)
		}
		wantEvents(t, s, ports.EventFilter{}, append(normalizeEvents(fromUpdate), want...))
		wantRecord(t, s, launchedCluster("web-1", 1))
		_, afterAppend := mustUpdate(t, s, "web-1", setTo(launchedCluster("web-1", 2), progressEvents(6, 1)...))
		if !sameIDs(afterAppend, idRange(6, 6)) {
			t.Errorf("Update after Append numbered its event %v, want [6]", IDs(afterAppend))
		}
	})

	t.Run("AppendReplacesCallerIDs", func(t *testing.T) {
		s := openStore(t)
		emitted := progressOf("web-1", 1, 2)
		emitted[0].ID, emitted[1].ID = 42, 7
		if got := mustAppend(t, s, emitted...); !sameIDs(got, idRange(1, 2)) {
			t.Errorf("Append numbered %v, want [1 2]", IDs(got))
		}
	})

	t.Run("AppendNothingIssuesNoID", func(t *testing.T) {
		s := openStore(t)
		if got := mustAppend(t, s); len(got) != 0 {
			t.Fatalf("Append() = %+v; want no events", got)
		}
		wantLastID(t, s, 0)
		wantAppendIDs(t, s, "web-1", idRange(1, 1))
	})

	t.Run("AppendRefusesAnEventWithoutCluster", func(t *testing.T) {
		s := openStore(t)
		batch := append(progressOf("web-1", 1, 1), progressEvents(2, 1)...)
		if got, err := s.Append(context.Background(), batch...); err == nil {
			t.Fatalf("Append of an event naming no cluster = %v, want an error", IDs(got))
		}
		wantEventIDs(t, s, ports.EventFilter{}, idRange(1, 0))
		wantLastID(t, s, 0)
	})

	t.Run("EventOfEveryFieldRoundTrips", func(t *testing.T) {
		s := openStore(t)
		_, fromUpdate := mustUpdate(t, s, "web-1", setTo(launchedCluster("web-1", 4), fullEvent("", 4)))
		fromAppend := mustAppend(t, s, fullEvent("web-1", 4), core.Event{Cluster: "web-1"})
		want := numberedFor("web-1", []core.Event{fullEvent("", 4), fullEvent("web-1", 4), {}}, 1)
		if got := normalizeEvents(concat(fromUpdate, fromAppend)); !reflect.DeepEqual(got, want) {
			t.Errorf("Update and Append returned %+v, want %+v", got, want)
		}
		wantEvents(t, s, ports.EventFilter{}, want)
	})

	t.Run("EventsFilter", func(t *testing.T) {
		s := openStore(t)
		// IDs: a 1-2 (operation 1), b 3-4 (1), a 5-6 (2), ab 7 (2), a 8 (none), a 9 (2, by Update).
		mustAppend(t, s, withOp(progressOf("a", 1, 2), 1)...)
		mustAppend(t, s, withOp(progressOf("b", 3, 2), 1)...)
		mustAppend(t, s, withOp(progressOf("a", 5, 2), 2)...)
		mustAppend(t, s, withOp(progressOf("ab", 7, 1), 2)...)
		mustAppend(t, s, withOp(progressOf("a", 8, 1), 0)...)
		mustUpdate(t, s, "a", setTo(launchedCluster("a", 2), withOp(progressEvents(9, 1), 2)...))
		for _, tc := range []struct {
			filter ports.EventFilter
			want   []uint64
		}{
			{ports.EventFilter{}, idRange(1, 9)},
			{ports.EventFilter{After: 4}, idRange(5, 9)},
			{ports.EventFilter{After: 9}, idRange(1, 0)},
			{ports.EventFilter{After: 99}, idRange(1, 0)},
			{ports.EventFilter{Cluster: "a"}, []uint64{1, 2, 5, 6, 8, 9}},
			{ports.EventFilter{Cluster: "a", After: 2}, []uint64{5, 6, 8, 9}},
			{ports.EventFilter{Cluster: "b", After: 3}, []uint64{4}},
			{ports.EventFilter{Cluster: "ab"}, []uint64{7}},
			{ports.EventFilter{Cluster: "A"}, idRange(1, 0)},
			{ports.EventFilter{Cluster: "nobody"}, idRange(1, 0)},
			{ports.EventFilter{Limit: 3}, idRange(1, 3)},
			{ports.EventFilter{After: 7, Limit: 5}, idRange(8, 9)},
			{ports.EventFilter{Limit: -1}, idRange(1, 9)},
			{ports.EventFilter{Cluster: "a", After: 1, Limit: 2}, []uint64{2, 5}},
			{ports.EventFilter{Cluster: "a", OperationID: 2, Limit: 2}, []uint64{5, 6}},
			{ports.EventFilter{Cluster: "a", OperationID: 1}, []uint64{1, 2}},
			{ports.EventFilter{Cluster: "a", OperationID: 2}, []uint64{5, 6, 9}},
			{ports.EventFilter{Cluster: "a", OperationID: 2, After: 5}, []uint64{6, 9}},
			{ports.EventFilter{Cluster: "b", OperationID: 2}, idRange(1, 0)},
			{ports.EventFilter{Cluster: "a", OperationID: 3}, idRange(1, 0)},
		} {
			wantEventIDs(t, s, tc.filter, tc.want)
		}
		if got, err := s.Events(context.Background(), ports.EventFilter{OperationID: 1}); err == nil {
			t.Errorf("Events with an OperationID but no Cluster = %v, want an error", IDs(got))
		}
	})

	t.Run("StoreKeepsNoAliasOfCallerSlices", func(t *testing.T) {
		s := openStore(t)
		emitted := progressOf("web-1", 1, 3)
		got := mustAppend(t, s, emitted...)
		want := normalizeEvents(got)
		emitted[0].Message, got[1].Message = "changed input", "changed result"
		listed, err := s.Events(context.Background(), ports.EventFilter{})
		if err != nil {
			t.Fatalf("Events: %v", err)
		}
		listed[2].Message = "changed listing"
		wantEvents(t, s, ports.EventFilter{}, want)

		fromUpdate := progressEvents(4, 1)
		_, returned := mustUpdate(t, s, "web-1", setTo(launchedCluster("web-1", 1), fromUpdate...))
		fromUpdate[0].Message, returned[0].Message = "changed input", "changed result"
		wantEvents(t, s, ports.EventFilter{After: 3}, numberedFor("web-1", progressEvents(4, 1), 4))
	})

	t.Run("HistoryIsBoundedPerCluster", func(t *testing.T) {
		s := openStore(t)
		quiet := mustAppend(t, s, progressOf("quiet", 1, 3)...)
		_, fromUpdate := mustUpdate(t, s, "quiet", setTo(launchedCluster("quiet", 1), progressEvents(4, 1)...))
		const batch = 250
		var chatty []core.Event
		for from := 1; from <= StoreHistoryProbe; from += batch {
			chatty = append(chatty, mustAppend(t, s, progressOf("chatty", from, batch)...)...)
		}
		quiet = concat(quiet, fromUpdate, mustAppend(t, s, progressOf("quiet", 5, 1)...))
		// One batch far over the bound, of a third cluster.
		burst := mustAppend(t, s, progressOf("burst", 1, StoreHistoryProbe)...)

		wantEvents(t, s, ports.EventFilter{Cluster: "quiet"}, normalizeEvents(quiet))
		keptChatty := wantNewest(t, s, "chatty", chatty)
		keptBurst := wantNewest(t, s, "burst", burst)
		wantEventIDs(t, s, ports.EventFilter{}, IDs(mergeByID(quiet, keptChatty, keptBurst)))
		last := chatty[len(chatty)-1].ID
		wantEventIDs(t, s, ports.EventFilter{Cluster: "chatty", After: last - 3}, idRange(last-2, last))
		wantLastID(t, s, burst[len(burst)-1].ID)
	})

	t.Run("LastEventID", func(t *testing.T) {
		s := openStore(t)
		wantLastID(t, s, 0)
		mustUpdate(t, s, "a", setTo(launchedCluster("a", 1), progressEvents(1, 2)...))
		wantLastID(t, s, 2)
		mustAppend(t, s, progressOf("b", 3, 3)...)
		wantLastID(t, s, 5)
		mustUpdate(t, s, "b", setTo(launchedCluster("b", 1)))
		wantLastID(t, s, 5)
	})

	t.Run("ConcurrentUpdatesSerialize", func(t *testing.T) {
		s := openStore(t)
		clusters := []string{"c0", "c1", "c2", "c3"}
		const updaters, updatesEach, appenders, appendsEach = 16, 20, 4, 20
		var wg sync.WaitGroup
		for i := range updaters {
			// Several updaters per cluster: the same cluster and different ones at once.
			name := clusters[i%len(clusters)]
			wg.Go(func() {
				for range updatesEach {
					_, _, err := s.Update(context.Background(), name, func(c core.Cluster) (core.Cluster, []core.Event, error) {
						// Yielding between the read and the write lets a store that does
						// not serialize fn lose increments.
						runtime.Gosched()
						c.OperationID++
						return c, []core.Event{core.StatusEvent(baseTime, c.OperationID, core.StatusRunning, "counted")}, nil
					})
					if err != nil {
						t.Errorf("Update: %v", err)
						return
					}
				}
			})
		}
		for i := range appenders {
			wg.Go(func() {
				for j := range appendsEach {
					if _, err := s.Append(context.Background(), progressOf(clusters[j%len(clusters)], i*appendsEach+j, 1)...); err != nil {
						t.Errorf("Append: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()
		perCluster := uint64(updaters / len(clusters) * updatesEach)
		for _, name := range clusters {
			rec, err := s.Load(context.Background(), name)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if rec.OperationID != perCluster {
				t.Fatalf("%s counter is %d after %d concurrent increments: updates were lost", name, rec.OperationID, perCluster)
			}
		}
		all := wantEventIDs(t, s, ports.EventFilter{}, idRange(1, updaters*updatesEach+appenders*appendsEach))
		wantLastID(t, s, updaters*updatesEach+appenders*appendsEach)
		// Each Update emitted the counter value it wrote: in ID order each cluster's must
		// count up by one, which shows that numbering followed the order in which fn ran.
		count := map[string]uint64{}
		for _, e := range all {
			if e.Type != core.EventStatus {
				continue
			}
			count[e.Cluster]++
			if e.OperationID != count[e.Cluster] {
				t.Fatalf("status event %d of %s carries counter %d, want %d", e.ID, e.Cluster, e.OperationID, count[e.Cluster])
			}
		}
	})

	t.Run("ClosedStoreRefusesCalls", func(t *testing.T) {
		s := open(t)
		mustUpdate(t, s, "web-1", setTo(launchedCluster("web-1", 1), progressEvents(1, 1)...))
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		ctx := context.Background()
		_, clustersErr := s.Clusters(ctx)
		_, loadErr := s.Load(ctx, "web-1")
		called := false
		_, _, updateErr := s.Update(ctx, "web-1", func(c core.Cluster) (core.Cluster, []core.Event, error) {
			called = true
			return c, nil, nil
		})
		_, appendErr := s.Append(ctx, progressOf("web-1", 1, 1)...)
		_, eventsErr := s.Events(ctx, ports.EventFilter{})
		_, lastErr := s.LastEventID(ctx)
		for name, err := range map[string]error{"Clusters": clustersErr, "Load": loadErr, "Update": updateErr,
			"Append": appendErr, "Events": eventsErr, "LastEventID": lastErr} {
			if err == nil {
				t.Errorf("%s after Close succeeded, want an error", name)
			}
		}
		if called {
			t.Error("Update after Close called fn")
		}
	})

	if reopen == nil {
		return
	}
	// again closes s and reopens its state; the reopened store is closed when the test ends.
	again := func(t *testing.T, s ports.Store) ports.Store {
		t.Helper()
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		return closeAtEnd(t, reopen(t, s))
	}

	t.Run("ReopenKeepsRecordsEventsAndIDs", func(t *testing.T) {
		s := open(t)
		_, a := mustUpdate(t, s, "a", setTo(launchedCluster("a", 3), fullEvent("", 3)))
		b := mustAppend(t, s, progressOf("b", 2, 2)...)
		_, a2 := mustUpdate(t, s, "a", setTo(launchedCluster("a", 4), progressEvents(4, 1)...))
		mustUpdate(t, s, "b", setTo(launchedCluster("b", 1)))
		s = again(t, s)
		wantRecord(t, s, launchedCluster("a", 4))
		wantRecord(t, s, core.NoCluster("c"))
		wantClusters(t, s, launchedCluster("a", 4), launchedCluster("b", 1))
		wantEvents(t, s, ports.EventFilter{}, normalizeEvents(concat(a, b, a2)))
		wantEvents(t, s, ports.EventFilter{Cluster: "a", OperationID: 3}, normalizeEvents(a))
		wantLastID(t, s, 4)
		wantAppendIDs(t, s, "c", idRange(5, 5))
	})

	for _, tc := range []struct {
		name  string
		write func(t *testing.T, s ports.Store)
	}{
		{"IDsContinueAfterAppendLast", func(t *testing.T, s ports.Store) {
			mustUpdate(t, s, "a", setTo(launchedCluster("a", 1), progressEvents(1, 1)...))
			wantAppendIDs(t, s, "b", idRange(2, 4))
		}},
		{"IDsContinueAfterUpdateLast", func(t *testing.T, s ports.Store) {
			wantAppendIDs(t, s, "a", idRange(1, 3))
			mustUpdate(t, s, "b", setTo(launchedCluster("b", 1), progressEvents(4, 1)...))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			tc.write(t, s)
			s = again(t, s)
			wantEventIDs(t, s, ports.EventFilter{}, idRange(1, 4))
			wantLastID(t, s, 4)
			_, events := mustUpdate(t, s, "a", setTo(launchedCluster("a", 2), progressEvents(5, 1)...))
			if !sameIDs(events, idRange(5, 5)) {
				t.Errorf("after reopen Update numbered %v, want [5]", IDs(events))
			}
		})
	}

	t.Run("FailedUpdateIsNotSaved", func(t *testing.T) {
		s := open(t)
		mustUpdate(t, s, "a", setTo(launchedCluster("a", 1), progressEvents(1, 1)...))
		_, _, err := s.Update(context.Background(), "a", func(c core.Cluster) (core.Cluster, []core.Event, error) {
			return launchedCluster("a", 9), progressEvents(2, 1), errRefused
		})
		if !errors.Is(err, errRefused) {
			t.Fatalf("Update returned %v, want %v", err, errRefused)
		}
		s = again(t, s)
		wantRecord(t, s, launchedCluster("a", 1))
		wantEventIDs(t, s, ports.EventFilter{}, idRange(1, 1))
	})

	t.Run("HistoryBoundHoldsAcrossReopen", func(t *testing.T) {
		s := open(t)
		quiet := mustAppend(t, s, progressOf("quiet", 1, 2)...)
		chatty := mustAppend(t, s, progressOf("chatty", 1, StoreHistoryProbe/2)...)
		s = again(t, s)
		wantNewest(t, s, "chatty", chatty)
		for from := 1; from <= StoreHistoryProbe/2; from += 100 {
			chatty = append(chatty, mustAppend(t, s, progressOf("chatty", from, 100)...)...)
		}
		wantNewest(t, s, "chatty", chatty)
		wantEvents(t, s, ports.EventFilter{Cluster: "quiet"}, normalizeEvents(quiet))
		s = again(t, s)
		wantNewest(t, s, "chatty", chatty)
		wantEvents(t, s, ports.EventFilter{Cluster: "quiet"}, normalizeEvents(quiet))
		wantLastID(t, s, chatty[len(chatty)-1].ID)
		wantAppendIDs(t, s, "quiet", idRange(chatty[len(chatty)-1].ID+1, chatty[len(chatty)-1].ID+1))
	})
}

// wantNewest checks that the store keeps of cluster a bounded number of the newest of its
// events issued, and returns those it keeps.
func wantNewest(t *testing.T, s ports.Store, cluster string, issued []core.Event) []core.Event {
	t.Helper()
	kept, err := s.Events(context.Background(), ports.EventFilter{Cluster: cluster})
	if err != nil {
		t.Fatalf("Events(%s): %v", cluster, err)
	}
	n := len(kept)
	if n < min(StoreMinHistory, len(issued)) || n >= StoreHistoryProbe {
		t.Fatalf("store keeps %d of %d events of %s, want at least %d and fewer than %d",
			n, len(issued), cluster, StoreMinHistory, StoreHistoryProbe)
	}
	if newest := normalizeEvents(issued[len(issued)-n:]); !reflect.DeepEqual(normalizeEvents(kept), newest) {
		t.Fatalf("kept events of %s, IDs %v..%v, are not its newest", cluster, kept[0].ID, kept[n-1].ID)
	}
	return kept
}

// mergeByID returns the events of every list in ID order.
func mergeByID(lists ...[]core.Event) []core.Event {
	out := concat(lists...)
	slices.SortFunc(out, func(a, b core.Event) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func concat(lists ...[]core.Event) []core.Event {
	var out []core.Event
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

func withOp(events []core.Event, opID uint64) []core.Event {
	for i := range events {
		events[i].OperationID = opID
	}
	return events
}

// numberedFor returns events as the store numbers them for cluster from firstID.
func numberedFor(cluster string, events []core.Event, firstID uint64) []core.Event {
	out := normalizeEvents(events)
	for i := range out {
		out[i].ID = firstID + uint64(i)
		out[i].Cluster = cluster
	}
	return out
}

func mustUpdate(t *testing.T, s ports.Store, name string, fn func(core.Cluster) (core.Cluster, []core.Event, error)) (core.Cluster, []core.Event) {
	t.Helper()
	rec, events, err := s.Update(context.Background(), name, fn)
	if err != nil {
		t.Fatalf("Update(%s): %v", name, err)
	}
	return rec, events
}

func mustAppend(t *testing.T, s ports.Store, events ...core.Event) []core.Event {
	t.Helper()
	got, err := s.Append(context.Background(), events...)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return got
}

func wantRecord(t *testing.T, s ports.Store, want core.Cluster) {
	t.Helper()
	got, err := s.Load(context.Background(), want.Name)
	if err != nil {
		t.Fatalf("Load(%s): %v", want.Name, err)
	}
	if !reflect.DeepEqual(normalizeCluster(got), normalizeCluster(want)) {
		t.Fatalf("Load(%s) = %+v, want %+v", want.Name, got, want)
	}
}

func wantClusters(t *testing.T, s ports.Store, want ...core.Cluster) {
	t.Helper()
	got, err := s.Clusters(context.Background())
	if err != nil {
		t.Fatalf("Clusters: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("Clusters = %+v, want %+v", got, want)
	}
	existing := 0
	for i := range got {
		if !reflect.DeepEqual(normalizeCluster(got[i]), normalizeCluster(want[i])) {
			t.Fatalf("Clusters()[%d] = %+v, want %+v", i, got[i], want[i])
		}
		if want[i].Exists() {
			existing++
		}
	}
	if n, err := s.Existing(context.Background()); err != nil || n != existing {
		t.Fatalf("Existing = %d, %v; want %d", n, err, existing)
	}
}

func wantEvents(t *testing.T, s ports.Store, filter ports.EventFilter, want []core.Event) {
	t.Helper()
	got, err := s.Events(context.Background(), filter)
	if err != nil {
		t.Fatalf("Events(%+v): %v", filter, err)
	}
	if !reflect.DeepEqual(normalizeEvents(got), normalizeEvents(want)) {
		t.Fatalf("Events(%+v) = %+v, want %+v", filter, got, want)
	}
}

func wantEventIDs(t *testing.T, s ports.Store, filter ports.EventFilter, want []uint64) []core.Event {
	t.Helper()
	got, err := s.Events(context.Background(), filter)
	if err != nil {
		t.Fatalf("Events(%+v): %v", filter, err)
	}
	if !sameIDs(got, want) {
		t.Fatalf("Events(%+v) has IDs %v, want %v", filter, IDs(got), want)
	}
	return got
}

func wantLastID(t *testing.T, s ports.Store, want uint64) {
	t.Helper()
	got, err := s.LastEventID(context.Background())
	if err != nil {
		t.Fatalf("LastEventID: %v", err)
	}
	if got != want {
		t.Fatalf("LastEventID = %d, want %d", got, want)
	}
}

// wantAppendIDs appends one event of cluster per wanted ID and checks the IDs the store
// gave them.
func wantAppendIDs(t *testing.T, s ports.Store, cluster string, want []uint64) {
	t.Helper()
	got := mustAppend(t, s, progressOf(cluster, 100, len(want))...)
	if !sameIDs(got, want) {
		t.Fatalf("Append numbered %v, want %v", IDs(got), want)
	}
	for _, e := range got {
		if e.Cluster != cluster {
			t.Fatalf("Append returned event %d of cluster %q, want %q", e.ID, e.Cluster, cluster)
		}
	}
}
