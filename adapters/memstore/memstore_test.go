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
	porttest.Store(t, func(t *testing.T) ports.Store { return memstore.New(memstore.Options{}) })
}

func TestHistoryLimit(t *testing.T) {
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
		for range tc.appended {
			if _, err := s.Append(ctx, core.Event{Type: core.EventProgress}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Events(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		var ids []uint64
		for _, e := range got {
			ids = append(ids, e.ID)
		}
		var want []uint64
		for id := tc.wantFirst; id <= uint64(tc.appended); id++ {
			want = append(want, id)
		}
		if !slices.Equal(ids, want) {
			t.Errorf("limit %d, %d appended: Events(0) IDs = %v, want %v", tc.limit, tc.appended, ids, want)
		}
	}
}

func TestClosedStoreRefusesCalls(t *testing.T) {
	ctx := context.Background()
	s := memstore.New(memstore.Options{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, loadErr := s.Load(ctx)
	_, _, updateErr := s.Update(ctx, func(c core.Cluster) (core.Cluster, []core.Event, error) { return c, nil, nil })
	_, appendErr := s.Append(ctx, core.Event{})
	_, eventsErr := s.Events(ctx, 0)
	for name, err := range map[string]error{"Load": loadErr, "Update": updateErr, "Append": appendErr, "Events": eventsErr} {
		if !errors.Is(err, memstore.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

func TestCancelledContextSkipsFn(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := memstore.New(memstore.Options{})
	_, _, err := s.Update(ctx, func(c core.Cluster) (core.Cluster, []core.Event, error) {
		t.Fatal("fn called with a cancelled context")
		return c, nil, nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Update = %v, want context.Canceled", err)
	}
}
