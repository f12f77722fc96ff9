package app

import (
	"cmp"
	"context"
	"slices"

	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

// Events subscribes to the events of one cluster, or of every cluster when cluster is "".
// The subscription comes first, so no event falls between the replay and the live events
// (the stream drops the ones it has already sent, by ID). With after (resume), the
// replay is every kept event after it; an ID the service never issued (a state dir
// reset, a tab left open) counts as no ID. Without, the replay is the events of the
// operations in flight, so a new stream costs no more than those.
func (s *Service) Events(ctx context.Context, cluster string, after *uint64) ([]core.Event, ports.Subscription, error) {
	if cluster != "" {
		if err := core.ValidateClusterName(pathName, cluster); err != nil {
			return nil, nil, err
		}
	}
	sub := s.bus.Subscribe(cluster)
	replay, err := s.replay(ctx, cluster, after)
	if err != nil {
		sub.Close()
		return nil, nil, err
	}
	return replay, sub, nil
}

func (s *Service) replay(ctx context.Context, cluster string, after *uint64) ([]core.Event, error) {
	if after != nil {
		last, err := s.store.LastEventID(ctx)
		if err != nil {
			return nil, err
		}
		if *after <= last {
			return s.store.Events(ctx, ports.EventFilter{After: *after, Cluster: cluster})
		}
	}
	var recs []core.Cluster
	if cluster != "" {
		rec, err := s.store.Load(ctx, cluster)
		if err != nil {
			return nil, err
		}
		recs = []core.Cluster{rec}
	} else {
		all, err := s.store.Clusters(ctx)
		if err != nil {
			return nil, err
		}
		recs = all
	}
	var replay []core.Event
	for _, rec := range recs {
		if rec.Operation == "" {
			continue
		}
		events, err := s.store.Events(ctx, ports.EventFilter{Cluster: rec.Name, OperationID: rec.OperationID})
		if err != nil {
			return nil, err
		}
		replay = append(replay, events...)
	}
	slices.SortFunc(replay, func(a, b core.Event) int { return cmp.Compare(a.ID, b.ID) })
	return replay, nil
}
