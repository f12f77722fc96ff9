package app

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

// Accepted is the answer to a lifecycle request that was taken on.
type Accepted struct {
	Message     string
	ClusterName string
}

// operation is one lifecycle action being carried out by this process: a `sky` run, or
// the following of a run that a restart cut off.
type operation struct {
	id     uint64
	action core.Action
	cancel context.CancelFunc
	// exited is closed once no `sky` child of this operation runs any more.
	exited chan struct{}
	// finished is closed once the operation's outcome is saved (or abandoned).
	finished chan struct{}
}

func newOperation(parent context.Context, id uint64, action core.Action) (*operation, context.Context) {
	ctx, cancel := context.WithCancel(parent)
	return &operation{id: id, action: action, cancel: cancel, exited: make(chan struct{}), finished: make(chan struct{})}, ctx
}

// Launch validates the request, checks that sky and the cloud are usable, moves the
// record to provisioning and starts `sky launch` in the background.
func (s *Service) Launch(ctx context.Context, req core.LaunchRequest) (Accepted, error) {
	req, err := core.ValidateLaunch(req)
	if err != nil {
		return Accepted{}, err
	}
	config := s.cfg.Template.WithRequest(req)
	config.Name = s.cfg.ClusterName
	// A request that the status refuses is answered without asking sky anything.
	if err := s.precheck(ctx, core.ActionLaunch); err != nil {
		return Accepted{}, err
	}
	info, err := s.Check(ctx, false)
	if err == nil && !info.SkyInstalled {
		// Looking for sky again is cheap, and an operator who just installed it should not
		// wait for the cache to expire.
		info, err = s.Check(ctx, true)
	}
	if de, ok := core.AsError(err); ok && de.Kind == core.KindUpstream {
		// sky runs but its check could not be read: refuse nothing on a guess; sky launch
		// itself reports missing credentials, and the YAML takes the form every version reads.
		s.log.Warn().Err(err).Msg("launching without a readable sky check")
		info, err = CheckInfo{SkyInstalled: true, Enabled: core.KnownClouds()}, nil
	}
	if err != nil {
		return Accepted{}, err
	}
	if err := info.readyFor(config.Cloud); err != nil {
		return Accepted{}, err
	}
	yaml, err := core.GenerateYAML(config, info.Version)
	if err != nil {
		return Accepted{}, err
	}
	spec := ports.LaunchSpec{ClusterName: s.cfg.ClusterName, DetachRun: config.Run != ""}
	if config.AutostopMinutes > 0 && !info.Version.HasInfra() {
		spec.IdleMinutesToAutostop = config.AutostopMinutes
	}
	request := core.Request{Action: core.ActionLaunch, ClusterName: s.cfg.ClusterName, Launch: config.Defaults()}
	return s.transition(ctx, request, func(opID uint64) (skyRun, error) {
		path, err := s.files.Write(fmt.Sprintf("launch-%d.yaml", opID), yaml)
		if err != nil {
			return nil, fmt.Errorf("writing the task YAML: %w", err)
		}
		spec.YAMLPath = path
		return func(ctx context.Context, onLine ports.LineFunc) (ports.RunResult, error) {
			return s.runner.Launch(ctx, spec, onLine)
		}, nil
	})
}

// Stop moves a running cluster to stopping and starts `sky stop`.
func (s *Service) Stop(ctx context.Context) (Accepted, error) {
	return s.simple(ctx, core.ActionStop, s.runner.Stop)
}

// Start moves a stopped cluster to starting and starts `sky start`.
func (s *Service) Start(ctx context.Context) (Accepted, error) {
	return s.simple(ctx, core.ActionStart, s.runner.Start)
}

// Destroy moves the cluster to destroying, cancels the operation in flight if any, and
// starts `sky down` once that operation's child is gone.
func (s *Service) Destroy(ctx context.Context) (Accepted, error) {
	return s.simple(ctx, core.ActionDestroy, s.runner.Down)
}

type namedRun func(ctx context.Context, clusterName string, onLine ports.LineFunc) (ports.RunResult, error)

func (s *Service) simple(ctx context.Context, action core.Action, run namedRun) (Accepted, error) {
	req := core.Request{Action: action}
	return s.transition(ctx, req, func(uint64) (skyRun, error) {
		return func(ctx context.Context, onLine ports.LineFunc) (ports.RunResult, error) {
			return run(ctx, s.cfg.ClusterName, onLine)
		}, nil
	})
}

// precheck answers a request the current status refuses, without side effects.
func (s *Service) precheck(ctx context.Context, action core.Action) error {
	rec, err := s.store.Load(ctx)
	if err != nil {
		return err
	}
	_, err = core.Decide(rec, core.Request{Action: action, ClusterName: s.cfg.ClusterName}, s.clock.Now())
	return err
}

// skyRun is the `sky` command that carries an operation out.
type skyRun func(ctx context.Context, onLine ports.LineFunc) (ports.RunResult, error)

// prepareRun is called under the transition lock with the new operation's ID; it returns
// the `sky` run that carries the operation out.
type prepareRun func(opID uint64) (skyRun, error)

// transition decides the request, saves the new record with its status event, and starts
// the operation in the background. Exactly one of any number of concurrent requests wins.
func (s *Service) transition(ctx context.Context, req core.Request, prepare prepareRun) (Accepted, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.base.Err() != nil {
		return Accepted{}, core.Errorf(core.KindConflict, core.KeyCluster, "skygate is shutting down")
	}
	rec, err := s.store.Load(ctx)
	if err != nil {
		return Accepted{}, err
	}
	d, err := core.Decide(rec, req, s.clock.Now())
	if err != nil {
		return Accepted{}, err
	}
	run, err := prepare(d.Cluster.OperationID)
	if err != nil {
		return Accepted{}, err
	}
	// The record is saved with a context of its own: once decided, a transition must not
	// be lost because the client went away.
	saved, err := s.apply(context.WithoutCancel(ctx), d)
	if err != nil {
		return Accepted{}, err
	}
	prev := s.current
	if prev != nil {
		prev.cancel() // a destroy supersedes the operation in flight
	}
	op, opCtx := newOperation(s.base, saved.OperationID, req.Action)
	s.current = op
	s.work.Add(1)
	go s.carryOut(opCtx, op, prev, run)
	return Accepted{Message: acceptedMessage(req.Action, saved.Name), ClusterName: saved.Name}, nil
}

func acceptedMessage(action core.Action, name string) string {
	switch action {
	case core.ActionLaunch:
		return "Launching cluster " + name
	case core.ActionStop:
		return "Stopping cluster " + name
	case core.ActionStart:
		return "Starting cluster " + name
	}
	return "Destroying cluster " + name
}

// carryOut runs the operation's `sky` command, streaming its lines as progress events,
// then confirms the outcome with `sky status` and settles the record.
func (s *Service) carryOut(ctx context.Context, op *operation, prev *operation, run skyRun) {
	defer s.work.Done()
	defer close(op.finished)
	if prev != nil {
		<-prev.exited // the superseded child must be gone before sky down runs
	}
	var res ports.RunResult
	var err error
	if ctx.Err() == nil {
		res, err = run(ctx, func(line string) {
			s.emit(context.WithoutCancel(ctx), core.ProgressEvent(s.clock.Now(), op.id, line))
		})
	} else {
		err = ctx.Err()
	}
	close(op.exited)
	if errors.Is(err, context.Canceled) {
		// Superseded by a destroy, or shut down: the new operation or the next start's
		// recovery settles the record.
		s.release(op)
		return
	}
	out := s.judge(ctx, op.action, res, err)
	out.OperationID = op.id
	s.finish(ctx, op, out)
}

// judge turns a finished run into an Outcome, asking sky for the cluster's status when
// the run alone cannot tell.
func (s *Service) judge(ctx context.Context, action core.Action, res ports.RunResult, err error) core.Outcome {
	var out core.Outcome
	switch {
	case errors.Is(err, ports.ErrSkyNotFound):
		return core.Outcome{RunFailed: true, Message: "SkyPilot is not installed: the sky command was not found"}
	case errors.Is(err, context.DeadlineExceeded):
		out = core.Outcome{RunFailed: true, Message: fmt.Sprintf("sky %s timed out", skyCommand(action))}
	case err != nil:
		out = core.Outcome{RunFailed: true, Message: err.Error()}
	default:
		out.RunFailed = res.ExitCode != 0
		out.Message = core.ExtractError(res.Stderr, res.Stdout)
	}
	if action == core.ActionLaunch && out.RunFailed {
		return out
	}
	if sc, ok := s.observe(ctx, false); ok {
		out.Observed = &sc
		out.IP = s.headIP(ctx, sc)
	}
	return out
}

func skyCommand(action core.Action) string {
	if action == core.ActionDestroy {
		return "down"
	}
	return string(action)
}

// finish settles the record with the operation's outcome.
func (s *Service) finish(ctx context.Context, op *operation, out core.Outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.releaseLocked(op)
	rec, err := s.store.Load(ctx)
	if err != nil {
		s.log.Error().Err(err).Msg("loading the record to settle an operation failed")
		return
	}
	d := core.Complete(rec, out, s.clock.Now())
	if len(d.Events) == 0 {
		return
	}
	if _, err := s.apply(context.WithoutCancel(ctx), d); err != nil {
		s.log.Error().Err(err).Msg("saving an operation's outcome failed")
		return
	}
	s.log.Info().Str("action", string(op.action)).Str("status", string(d.Cluster.Status)).Str("error", d.Cluster.Error).Msg("operation finished")
}

func (s *Service) release(op *operation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releaseLocked(op)
}

func (s *Service) releaseLocked(op *operation) {
	if s.current == op {
		s.current = nil
	}
	op.cancel()
}

// headIP asks sky for the head node's address of a cluster that is up ("" otherwise); the
// status output's HEAD_IP is used when `sky status --ip` cannot tell.
func (s *Service) headIP(ctx context.Context, sc core.SkyCluster) string {
	if !sc.Found || sc.Status != core.SkyUp {
		return ""
	}
	res, err := s.runner.IP(ctx, s.cfg.ClusterName)
	if err == nil && res.ExitCode == 0 {
		for _, line := range core.CleanLines(res.Stdout) {
			if addr, err := netip.ParseAddr(line); err == nil {
				return addr.String()
			}
		}
	}
	return sc.HeadIP
}
