package porttest

import (
	"context"
	"errors"
	"reflect"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

// Bounds the Store suite puts on the history an adapter keeps: at least
// StoreMinHistory events, and fewer than StoreHistoryProbe.
const (
	StoreMinHistory   = 1000
	StoreHistoryProbe = 5000
)

var errRefused = errors.New("refused by fn")

// launchedCluster is a record as a successful launch leaves it.
func launchedCluster(opID uint64) core.Cluster {
	return core.Cluster{
		Name:         "skygate",
		Status:       core.StatusRunning,
		Cloud:        "aws",
		Region:       "us-east-1",
		InstanceType: "m6i.large",
		IP:           "203.0.113.7",
		LaunchedAt:   baseTime,
		OperationID:  opID,
		Launch:       core.LaunchRequest{Cloud: "aws"},
		UpdatedAt:    baseTime.Add(time.Minute),
	}
}

// setTo returns an Update fn that replaces the record with c and emits events.
func setTo(c core.Cluster, events ...core.Event) func(core.Cluster) (core.Cluster, []core.Event, error) {
	return func(core.Cluster) (core.Cluster, []core.Event, error) { return c, events, nil }
}

// Store checks a ports.Store. open returns a new, empty store that keeps at least
// StoreMinHistory and fewer than StoreHistoryProbe events; the suite closes it.
func Store(t *testing.T, open func(t *testing.T) ports.Store) {
	ctx := context.Background()
	openStore := func(t *testing.T) ports.Store {
		s := open(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}

	t.Run("LoadOnEmptyReturnsNoCluster", func(t *testing.T) {
		s := openStore(t)
		wantRecord(t, s, core.NoCluster())
		wantEventIDs(t, s, 0, idRange(1, 0))
	})

	t.Run("UpdateNumbersSavesAndReturns", func(t *testing.T) {
		s := openStore(t)
		rec := launchedCluster(1)
		emitted := []core.Event{
			core.StatusEvent(baseTime, 1, core.StatusRunning, "cluster is up"),
			core.CompleteEvent(baseTime, 1, "launch complete"),
		}
		var seen core.Cluster
		gotRec, gotEvents, err := s.Update(ctx, func(c core.Cluster) (core.Cluster, []core.Event, error) {
			seen = c
			return rec, emitted, nil
		})
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		if !reflect.DeepEqual(seen, core.NoCluster()) {
			t.Errorf("fn got %+v on an empty store, want core.NoCluster()", seen)
		}
		if !reflect.DeepEqual(normalizeCluster(gotRec), normalizeCluster(rec)) {
			t.Errorf("Update returned record %+v, want %+v", gotRec, rec)
		}
		want := numbered(emitted, 1)
		if !reflect.DeepEqual(normalizeEvents(gotEvents), want) {
			t.Errorf("Update returned events %+v, want %+v", gotEvents, want)
		}
		wantRecord(t, s, rec)
		wantEvents(t, s, 0, want)
	})

	t.Run("UpdateGivesFnTheSavedRecord", func(t *testing.T) {
		s := openStore(t)
		mustUpdate(t, s, setTo(launchedCluster(1)))
		var seen core.Cluster
		mustUpdate(t, s, func(c core.Cluster) (core.Cluster, []core.Event, error) {
			seen = c
			c.Status = core.StatusStopping
			return c, nil, nil
		})
		if !reflect.DeepEqual(normalizeCluster(seen), normalizeCluster(launchedCluster(1))) {
			t.Errorf("fn got %+v, want the saved record %+v", seen, launchedCluster(1))
		}
		stopping := launchedCluster(1)
		stopping.Status = core.StatusStopping
		wantRecord(t, s, stopping)
	})

	t.Run("UpdateWithoutEventsIssuesNoID", func(t *testing.T) {
		s := openStore(t)
		_, events := mustUpdate(t, s, setTo(launchedCluster(1)))
		if len(events) != 0 {
			t.Errorf("Update without events returned %+v", events)
		}
		wantEventIDs(t, s, 0, idRange(1, 0))
		wantAppendIDs(t, s, idRange(1, 2))
	})

	t.Run("FailedUpdateChangesNothing", func(t *testing.T) {
		s := openStore(t)
		mustUpdate(t, s, setTo(launchedCluster(1), progressEvents(1, 2)...))
		called := false
		_, _, err := s.Update(ctx, func(c core.Cluster) (core.Cluster, []core.Event, error) {
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
		wantRecord(t, s, launchedCluster(1))
		wantEventIDs(t, s, 0, idRange(1, 2))
		wantAppendIDs(t, s, idRange(3, 3))
	})

	t.Run("AppendNumbersAfterTheLastID", func(t *testing.T) {
		s := openStore(t)
		_, fromUpdate := mustUpdate(t, s, setTo(launchedCluster(1), progressEvents(1, 2)...))
		emitted := progressEvents(3, 3)
		got, err := s.Append(ctx, emitted...)
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		want := numbered(emitted, 3)
		if !reflect.DeepEqual(normalizeEvents(got), want) {
			t.Errorf("Append returned %+v, want %+v", got, want)
		}
		wantEvents(t, s, 0, append(normalizeEvents(fromUpdate), want...))
		wantRecord(t, s, launchedCluster(1))
		_, afterAppend := mustUpdate(t, s, setTo(launchedCluster(2), progressEvents(6, 1)...))
		if !sameIDs(afterAppend, idRange(6, 6)) {
			t.Errorf("Update after Append numbered its event %v, want [6]", IDs(afterAppend))
		}
	})

	t.Run("AppendReplacesCallerIDs", func(t *testing.T) {
		s := openStore(t)
		emitted := progressEvents(1, 2)
		emitted[0].ID, emitted[1].ID = 42, 7
		got, err := s.Append(ctx, emitted...)
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		if !sameIDs(got, idRange(1, 2)) {
			t.Errorf("Append numbered %v, want [1 2]", IDs(got))
		}
	})

	t.Run("AppendNothingIssuesNoID", func(t *testing.T) {
		s := openStore(t)
		got, err := s.Append(ctx)
		if err != nil || len(got) != 0 {
			t.Fatalf("Append() = %+v, %v; want no events, no error", got, err)
		}
		wantAppendIDs(t, s, idRange(1, 1))
	})

	t.Run("EventsAfter", func(t *testing.T) {
		s := openStore(t)
		wantAppendIDs(t, s, idRange(1, 5))
		for _, tc := range []struct {
			after uint64
			want  []uint64
		}{
			{after: 0, want: idRange(1, 5)},
			{after: 1, want: idRange(2, 5)},
			{after: 4, want: idRange(5, 5)},
			{after: 5, want: idRange(1, 0)},
			{after: 99, want: idRange(1, 0)},
		} {
			wantEventIDs(t, s, tc.after, tc.want)
		}
	})

	t.Run("StoreKeepsNoAliasOfCallerSlices", func(t *testing.T) {
		s := openStore(t)
		emitted := progressEvents(1, 3)
		got, err := s.Append(ctx, emitted...)
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		want := normalizeEvents(got)
		emitted[0].Message, got[1].Message = "changed input", "changed result"
		listed, err := s.Events(ctx, 0)
		if err != nil {
			t.Fatalf("Events: %v", err)
		}
		listed[2].Message = "changed listing"
		wantEvents(t, s, 0, want)
	})

	t.Run("HistoryIsBoundedToTheNewest", func(t *testing.T) {
		s := openStore(t)
		const batch = 250
		for from := 1; from <= StoreHistoryProbe; from += batch {
			if _, err := s.Append(ctx, progressEvents(from, batch)...); err != nil {
				t.Fatalf("Append: %v", err)
			}
		}
		kept, err := s.Events(ctx, 0)
		if err != nil {
			t.Fatalf("Events: %v", err)
		}
		if len(kept) < StoreMinHistory || len(kept) >= StoreHistoryProbe {
			t.Fatalf("store keeps %d of %d events, want at least %d and fewer than %d",
				len(kept), StoreHistoryProbe, StoreMinHistory, StoreHistoryProbe)
		}
		first := uint64(StoreHistoryProbe - len(kept) + 1)
		if !sameIDs(kept, idRange(first, StoreHistoryProbe)) {
			t.Fatalf("kept IDs %v..%v are not the newest, consecutive ones", kept[0].ID, kept[len(kept)-1].ID)
		}
		wantEventIDs(t, s, 1, idRange(first, StoreHistoryProbe))
		wantEventIDs(t, s, StoreHistoryProbe-3, idRange(StoreHistoryProbe-2, StoreHistoryProbe))
	})

	t.Run("ConcurrentUpdatesSerialize", func(t *testing.T) {
		s := openStore(t)
		const updaters, updatesEach, appenders, appendsEach = 16, 25, 4, 25
		var wg sync.WaitGroup
		for range updaters {
			wg.Go(func() {
				for range updatesEach {
					_, _, err := s.Update(ctx, func(c core.Cluster) (core.Cluster, []core.Event, error) {
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
					if _, err := s.Append(ctx, progressEvents(i*appendsEach+j, 1)...); err != nil {
						t.Errorf("Append: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()
		rec, err := s.Load(ctx)
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		const updates = updaters * updatesEach
		if rec.OperationID != updates {
			t.Fatalf("counter is %d after %d concurrent increments: updates were lost", rec.OperationID, updates)
		}
		all := wantEventIDs(t, s, 0, idRange(1, updates+appenders*appendsEach))
		// Each Update emitted the counter value it wrote: in ID order they must count up by
		// one, which shows that numbering followed the order in which fn ran.
		var count uint64
		for _, e := range all {
			if e.Type != core.EventStatus {
				continue
			}
			count++
			if e.OperationID != count {
				t.Fatalf("status event %d carries counter %d, want %d", e.ID, e.OperationID, count)
			}
		}
	})
}

// StoreDurable checks what a store keeps across a Close and an open of the same state
// directory. open opens the store in dir; the suite closes what it opens.
func StoreDurable(t *testing.T, open func(t *testing.T, dir string) (ports.Store, error)) {
	ctx := context.Background()
	openIn := func(t *testing.T, dir string) ports.Store {
		t.Helper()
		s, err := open(t, dir)
		if err != nil {
			t.Fatalf("open %s: %v", dir, err)
		}
		return s
	}
	// reopen closes s and opens dir again; the reopened store is closed when the test ends.
	reopen := func(t *testing.T, s ports.Store, dir string) ports.Store {
		t.Helper()
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		again := openIn(t, dir)
		t.Cleanup(func() {
			if err := again.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return again
	}

	t.Run("RecordEventsAndIDsSurviveReopen", func(t *testing.T) {
		dir := t.TempDir()
		s := openIn(t, dir)
		_, fromUpdate := mustUpdate(t, s, setTo(launchedCluster(3), progressEvents(1, 2)...))
		fromAppend, err := s.Append(ctx, progressEvents(3, 2)...)
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		s = reopen(t, s, dir)
		wantRecord(t, s, launchedCluster(3))
		wantEvents(t, s, 0, normalizeEvents(append(fromUpdate, fromAppend...)))
		wantAppendIDs(t, s, idRange(5, 5))
	})

	for _, tc := range []struct {
		name  string
		write func(t *testing.T, s ports.Store)
	}{
		{"IDsContinueAfterAppendLast", func(t *testing.T, s ports.Store) {
			mustUpdate(t, s, setTo(launchedCluster(1), progressEvents(1, 1)...))
			wantAppendIDs(t, s, idRange(2, 4))
		}},
		{"IDsContinueAfterUpdateLast", func(t *testing.T, s ports.Store) {
			wantAppendIDs(t, s, idRange(1, 3))
			mustUpdate(t, s, setTo(launchedCluster(1), progressEvents(4, 1)...))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openIn(t, dir)
			tc.write(t, s)
			s = reopen(t, s, dir)
			wantEventIDs(t, s, 0, idRange(1, 4))
			_, events := mustUpdate(t, s, setTo(launchedCluster(2), progressEvents(5, 1)...))
			if !sameIDs(events, idRange(5, 5)) {
				t.Errorf("after reopen Update numbered %v, want [5]", IDs(events))
			}
		})
	}

	t.Run("FailedUpdateIsNotSaved", func(t *testing.T) {
		dir := t.TempDir()
		s := openIn(t, dir)
		mustUpdate(t, s, setTo(launchedCluster(1), progressEvents(1, 1)...))
		_, _, err := s.Update(ctx, func(c core.Cluster) (core.Cluster, []core.Event, error) {
			return launchedCluster(9), progressEvents(2, 1), errRefused
		})
		if !errors.Is(err, errRefused) {
			t.Fatalf("Update returned %v, want %v", err, errRefused)
		}
		s = reopen(t, s, dir)
		wantRecord(t, s, launchedCluster(1))
		wantEventIDs(t, s, 0, idRange(1, 1))
	})

	t.Run("SecondOpenRefusedUntilClose", func(t *testing.T) {
		dir := t.TempDir()
		s := openIn(t, dir)
		if second, err := open(t, dir); err == nil {
			second.Close()
			t.Fatal("a second open of a state dir in use succeeded")
		}
		reopen(t, s, dir)
	})
}

func numbered(events []core.Event, firstID uint64) []core.Event {
	out := normalizeEvents(events)
	for i := range out {
		out[i].ID = firstID + uint64(i)
	}
	return out
}

func mustUpdate(t *testing.T, s ports.Store, fn func(core.Cluster) (core.Cluster, []core.Event, error)) (core.Cluster, []core.Event) {
	t.Helper()
	rec, events, err := s.Update(context.Background(), fn)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	return rec, events
}

func wantRecord(t *testing.T, s ports.Store, want core.Cluster) {
	t.Helper()
	got, err := s.Load(context.Background())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if !reflect.DeepEqual(normalizeCluster(got), normalizeCluster(want)) {
		t.Fatalf("Load = %+v, want %+v", got, want)
	}
}

func wantEvents(t *testing.T, s ports.Store, after uint64, want []core.Event) {
	t.Helper()
	got, err := s.Events(context.Background(), after)
	if err != nil {
		t.Fatalf("Events(%d): %v", after, err)
	}
	if !reflect.DeepEqual(normalizeEvents(got), want) {
		t.Fatalf("Events(%d) = %+v, want %+v", after, got, want)
	}
}

func wantEventIDs(t *testing.T, s ports.Store, after uint64, want []uint64) []core.Event {
	t.Helper()
	got, err := s.Events(context.Background(), after)
	if err != nil {
		t.Fatalf("Events(%d): %v", after, err)
	}
	if !sameIDs(got, want) {
		t.Fatalf("Events(%d) has IDs %v, want %v", after, IDs(got), want)
	}
	return got
}

// wantAppendIDs appends one event per wanted ID and checks the IDs the store gave them.
func wantAppendIDs(t *testing.T, s ports.Store, want []uint64) {
	t.Helper()
	got, err := s.Append(context.Background(), progressEvents(100, len(want))...)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	if !sameIDs(got, want) {
		t.Fatalf("Append numbered %v, want %v", IDs(got), want)
	}
}
