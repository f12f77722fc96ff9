package app

import (
	"cmp"
	"context"
	"slices"

	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

// ReplayPage is how many kept events a resumed stream's replay holds at most; the stream
// asks Backlog for the rest, a page at a time, so a client asking for the whole history
// of a large fleet (after=0) does not make the service hold it all at once.
const ReplayPage = 1000

// Events subscribes to the events of one cluster, or of every cluster when cluster is "".
// The subscription comes first, so no event falls between the replay and the live events
// (the stream drops the ones it has already sent, by ID). With after (resume), the
// replay is the first ReplayPage kept events after it (Backlog has the rest); an ID the
// service never issued (a state dir reset, a tab left open) counts as no ID. Without,
// the replay is the events of the operations in flight, so a new stream costs no more
// than those.
func (s *Service) Events(ctx context.Context, cluster string, after *uint64) (Replay, ports.Subscription, error) {
	if err := validateStreamCluster(cluster); err != nil {
		return Replay{}, nil, err
	}
	sub := s.bus.Subscribe(cluster)
	replay, err := s.replay(ctx, cluster, after)
	if err != nil {
		sub.Close()
		return Replay{}, nil, err
	}
	return replay, sub, nil
}

// validateStreamCluster checks the cluster of a stream; "" is every cluster.
func validateStreamCluster(cluster string) error {
	if cluster == "" {
		return nil
	}
	return core.ValidateClusterName(pathName, cluster)
}

// Replay is what a new stream is sent before the live events.
type Replay struct {
	Events []core.Event
	// More says that kept events follow the last of Events: Backlog has them.
	More bool
	// After is the ID the stream resumes after, nil when it starts afresh (no ID, or one
	// the service never issued): the stream sends no event at or below it.
	After *uint64
}

// Backlog returns the next ReplayPage kept events of cluster ("" for every cluster)
// after the ID after, oldest first: fewer means the stream has caught up with the store.
func (s *Service) Backlog(ctx context.Context, cluster string, after uint64) ([]core.Event, error) {
	if err := validateStreamCluster(cluster); err != nil {
		return nil, err
	}
	return s.store.Events(ctx, ports.EventFilter{After: after, Cluster: cluster, Limit: ReplayPage})
}

func (s *Service) replay(ctx context.Context, cluster string, after *uint64) (Replay, error) {
	if after != nil {
		last, err := s.store.LastEventID(ctx)
		if err != nil {
			return Replay{}, err
		}
		if *after <= last {
			page, err := s.Backlog(ctx, cluster, *after)
			return Replay{Events: page, More: len(page) >= ReplayPage, After: after}, err
		}
	}
	events, err := s.inFlightEvents(ctx, cluster)
	return Replay{Events: events}, err
}

// inFlightEvents are the kept events of the operations in flight of cluster ("" for
// every cluster), oldest first.
func (s *Service) inFlightEvents(ctx context.Context, cluster string) ([]core.Event, error) {
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
