package memstore_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/skygate/skygate/adapters/memstore"
	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
	"github.com/skygate/skygate/ports/porttest"
)

func TestStoreContract(t *testing.T) {
	porttest.Store(t, func(t *testing.T) ports.Store { return memstore.New(memstore.Options{}) }, nil)
}

func TestHistoryLimitIsPerCluster(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		limit, appended int
		wantFirst       uint64
	}{
		{limit: 3, appended: 2, wantFirst: 1},
		{limit: 3, appended: 3, wantFirst: 1},
		{limit: 3, appended: 7, wantFirst: 5},
		{limit: 3, appended: 20, wantFirst: 18},
	} {
		s := memstore.New(memstore.Options{HistoryLimit: tc.limit})
		quiet, err := s.Append(ctx, core.Event{Cluster: "quiet"})
		if err != nil {
			t.Fatal(err)
		}
		for range tc.appended {
			if _, err := s.Append(ctx, core.Event{Cluster: "chatty"}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Events(ctx, ports.EventFilter{})
		if err != nil {
			t.Fatal(err)
		}
		want := []uint64{quiet[0].ID}
		for id := tc.wantFirst; id <= uint64(tc.appended); id++ {
			want = append(want, id+1)
		}
		if ids := porttest.IDs(got); !slices.Equal(ids, want) {
			t.Errorf("limit %d, %d appended: Events IDs = %v, want %v", tc.limit, tc.appended, ids, want)
		}
	}
}

func TestClosedStoreRefusesCallsWithErrClosed(t *testing.T) {
	ctx := context.Background()
	s := memstore.New(memstore.Options{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, clustersErr := s.Clusters(ctx)
	_, loadErr := s.Load(ctx, "a")
	_, _, updateErr := s.Update(ctx, "a", func(c core.Cluster) (core.Cluster, []core.Event, error) { return c, nil, nil })
	_, appendErr := s.Append(ctx, core.Event{Cluster: "a"})
	_, eventsErr := s.Events(ctx, ports.EventFilter{})
	_, lastErr := s.LastEventID(ctx)
	for name, err := range map[string]error{"Clusters": clustersErr, "Load": loadErr, "Update": updateErr,
		"Append": appendErr, "Events": eventsErr, "LastEventID": lastErr} {
		if !errors.Is(err, memstore.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

func TestCancelledContextSkipsFn(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := memstore.New(memstore.Options{})
	_, _, err := s.Update(ctx, "a", func(c core.Cluster) (core.Cluster, []core.Event, error) {
		t.Fatal("fn called with a cancelled context")
		return c, nil, nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Update = %v, want context.Canceled", err)
	}
}
