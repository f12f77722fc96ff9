package app

import (
	"context"

	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

// Events subscribes to the event stream. With lastEventID (resume) the replay is every
// kept event after it; without, it is the events of the operation in flight, if any.
func (s *Service) Events(ctx context.Context, lastEventID *uint64) ([]core.Event, ports.Subscription, error) {
	if lastEventID != nil {
		replay, sub := s.bus.Subscribe(*lastEventID)
		return replay, sub, nil
	}
	rec, err := s.store.Load(ctx)
	if err != nil {
		return nil, nil, err
	}
	replay, sub := s.bus.Subscribe(0)
	if rec.Operation == "" {
		return nil, sub, nil
	}
	current := replay[:0:0]
	for _, ev := range replay {
		if ev.OperationID == rec.OperationID {
			current = append(current, ev)
		}
	}
	return current, sub, nil
}
