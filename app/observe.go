package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

// Status returns the record. With refresh it first reconciles the record with
// `sky status --refresh`, unless this process is carrying out an operation (its outcome
// will settle the record); concurrent refreshes share one sky run.
func (s *Service) Status(ctx context.Context, refresh bool) (core.Cluster, error) {
	if refresh {
		if err := s.reconcile(ctx); err != nil {
			return core.Cluster{}, err
		}
	}
	return s.store.Load(ctx)
}

// reconcile asks sky for the truth and applies it with core.Observe when no operation of
// this process is running (its outcome will settle the record). Concurrent calls share
// one sky run.
func (s *Service) reconcile(ctx context.Context) error {
	_, err, _ := s.flight.Do("reconcile", func() (any, error) {
		return nil, s.reconcileOnce(context.WithoutCancel(ctx))
	})
	return err
}

func (s *Service) reconcileOnce(ctx context.Context) error {
	rec, err := s.store.Load(ctx)
	if err != nil || !rec.Exists() || s.busy() {
		return err
	}
	sc, err := s.observeStrict(ctx, true)
	if err != nil {
		return err
	}
	ip := s.headIP(ctx, sc)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current != nil {
		return nil
	}
	now, err := s.store.Load(ctx)
	if err != nil || now.OperationID != rec.OperationID || now.Status != rec.Status {
		return err // changed while sky was asked; the change is newer than the answer
	}
	d, _ := core.Observe(now, sc, ip, s.clock.Now())
	if len(d.Events) == 0 && d.Cluster == now {
		return nil
	}
	_, err = s.apply(ctx, d)
	return err
}

func (s *Service) busy() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current != nil
}

// observe asks `sky status` about the cluster and reports false when sky could not tell.
func (s *Service) observe(ctx context.Context, refresh bool) (core.SkyCluster, bool) {
	sc, err := s.observeStrict(ctx, refresh)
	if err != nil {
		s.log.Warn().Err(err).Msg("sky status could not tell the cluster's status")
		return core.SkyCluster{}, false
	}
	return sc, true
}

// observeStrict asks `sky status` about the cluster; -o json is used where sky has it.
func (s *Service) observeStrict(ctx context.Context, refresh bool) (core.SkyCluster, error) {
	opts := ports.StatusOptions{Refresh: refresh, JSON: s.knownVersion().HasJSONOutput()}
	res, err := s.runner.Status(ctx, s.cfg.ClusterName, opts)
	if err == nil && opts.JSON && res.ExitCode == usageErrorExit {
		// A build that reports 0.12 without -o json: the table says the same.
		opts.JSON = false
		res, err = s.runner.Status(ctx, s.cfg.ClusterName, opts)
	}
	if errors.Is(err, ports.ErrSkyNotFound) {
		return core.SkyCluster{}, skyMissing()
	}
	if err != nil {
		return core.SkyCluster{}, err
	}
	if res.ExitCode != 0 {
		return core.SkyCluster{}, core.Errorf(core.KindUpstream, core.KeySky, "sky status failed: %s", core.ExtractError(res.Stderr, res.Stdout))
	}
	sc, err := core.ParseStatus(res.Stdout, s.cfg.ClusterName)
	if err != nil {
		return core.SkyCluster{}, core.Errorf(core.KindUpstream, core.KeySky, "reading sky status: %v", err)
	}
	return sc, nil
}

// usageErrorExit is click's exit code for an unknown option.
const usageErrorExit = 2

func skyMissing() error {
	return core.Errorf(core.KindDependencyMissing, core.KeySky, "SkyPilot is not installed: the sky command was not found")
}

// recoverInFlight follows an operation that a restart cut off: it polls sky until sky
// settles, then settles the record. The follower counts as the operation in flight, so a
// destroy cancels it like any other.
func (s *Service) recoverInFlight() {
	s.mu.Lock()
	rec, err := s.store.Load(s.base)
	if err != nil || !rec.Status.InFlight() || s.current != nil {
		s.mu.Unlock()
		return
	}
	op, ctx := newOperation(s.base, rec.OperationID, rec.Operation)
	s.current = op
	s.mu.Unlock()
	s.log.Info().Str("status", string(rec.Status)).Msg("reconciling an operation cut off by a restart")
	close(op.exited) // no child of this process runs it
	defer close(op.finished)
	defer s.release(op)
	started := rec.UpdatedAt
	if started.IsZero() {
		started = s.clock.Now()
	}
	deadline := started.Add(s.cfg.RecoveryTimeout)
	for {
		sc, err := s.observeStrict(ctx, true)
		if ctx.Err() != nil {
			return
		}
		if err == nil && s.settleRecovered(ctx, op, sc) {
			return
		}
		if !s.clock.Now().Before(deadline) {
			s.giveUp(ctx, op, sc, err)
			return
		}
		if err != nil {
			s.log.Warn().Err(err).Msg("recovery: sky status failed; polling again")
		}
		select {
		case <-ctx.Done():
			return
		case <-s.clock.After(s.cfg.PollInterval):
		}
	}
}

// settleRecovered applies sky's answer to the record of the recovered operation and
// reports whether it is settled.
func (s *Service) settleRecovered(ctx context.Context, op *operation, sc core.SkyCluster) bool {
	ip := s.headIP(ctx, sc)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current != op {
		return true
	}
	rec, err := s.store.Load(ctx)
	if err != nil || rec.OperationID != op.id {
		return err == nil
	}
	d, poll := core.Observe(rec, sc, ip, s.clock.Now())
	if poll {
		return false
	}
	if _, err := s.apply(context.WithoutCancel(ctx), d); err != nil {
		s.log.Error().Err(err).Msg("recovery: saving the outcome failed")
	}
	return true
}

// giveUp settles a recovered operation that sky did not settle in time as an error.
func (s *Service) giveUp(ctx context.Context, op *operation, sc core.SkyCluster, cause error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.store.Load(ctx)
	if err != nil || s.current != op || rec.OperationID != op.id {
		return
	}
	msg := fmt.Sprintf("sky still reported the cluster as %s %s after the operation started", sc.Status, s.cfg.RecoveryTimeout)
	if cause != nil {
		msg = fmt.Sprintf("sky could not be asked for %s after the operation started: %v", s.cfg.RecoveryTimeout, cause)
	}
	d := core.Complete(rec, core.Outcome{OperationID: op.id, RunFailed: true, Message: msg}, s.clock.Now())
	if _, err := s.apply(context.WithoutCancel(ctx), d); err != nil {
		s.log.Error().Err(err).Msg("recovery: saving the outcome failed")
	}
}

// refreshLoop follows changes made outside the service while a cluster exists and
// nothing runs (autostop, preemption, `sky down` by hand).
func (s *Service) refreshLoop() {
	for {
		select {
		case <-s.base.Done():
			return
		case <-s.clock.After(s.cfg.RefreshInterval):
		}
		if err := s.reconcile(s.base); err != nil && s.base.Err() == nil {
			s.log.Warn().Err(err).Msg("background refresh failed")
		}
	}
}

func (s *Service) knownVersion() core.Version {
	s.checkMu.Lock()
	defer s.checkMu.Unlock()
	return s.checked.Version
}
