package app

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

// Accepted is the answer to a lifecycle request that was taken on.
type Accepted struct {
	Message     string
	ClusterName string
}

// operation is one lifecycle action being carried out by this process: a supervised sky
// run (started here, or found again after a restart), or the following of a cluster whose
// run was lost.
type operation struct {
	id      uint64
	key     ports.OperationKey
	cluster string
	action  core.Action
	cancel  context.CancelFunc
	// fromNothing marks a launch of a name that had no cluster: if it never got to run
	// sky, there is nothing to tear down.
	fromNothing bool
	// started is set before the operation's supervised run may begin; a run that
	// supersedes it must then cancel that run.
	started atomic.Bool
	// exited is closed once this process follows no run of the operation any more.
	exited chan struct{}
	// finished is closed once the operation's outcome is saved (or abandoned).
	finished chan struct{}
}

func newOperation(parent context.Context, rec core.Cluster) (*operation, context.Context) {
	ctx, cancel := context.WithCancel(parent)
	return &operation{
		id: rec.OperationID, key: ports.OperationKey(rec.OperationKey()), cluster: rec.Name, action: rec.Operation,
		cancel: cancel, exited: make(chan struct{}), finished: make(chan struct{}),
	}, ctx
}

// Launch validates the request, checks that sky and the cloud are usable, moves the
// record to provisioning and starts `sky launch` in the background.
func (s *Service) Launch(ctx context.Context, name string, req core.LaunchRequest) (Accepted, error) {
	if err := core.ValidateClusterName(pathName, name); err != nil {
		return Accepted{}, err
	}
	req, err := core.ValidateLaunch(req)
	if err != nil {
		return Accepted{}, err
	}
	config := s.cfg.Template.WithRequest(req)
	config.Name = name
	// A request that the status refuses is answered without asking sky anything.
	if err := s.precheck(ctx, name, core.ActionLaunch); err != nil {
		return Accepted{}, err
	}
	info, err := s.launchCheck(ctx)
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
	spec := ports.LaunchSpec{DetachRun: config.Run != ""}
	if config.AutostopMinutes > 0 && !info.Version.HasInfra() {
		spec.IdleMinutesToAutostop = config.AutostopMinutes
	}
	request := core.Request{Action: core.ActionLaunch, Launch: config.Defaults()}
	return s.transition(ctx, name, request, func(opID uint64) (ports.LaunchSpec, error) {
		path, err := s.files.Write(name, opID, yaml)
		if err != nil {
			return spec, fmt.Errorf("writing the task YAML: %w", err)
		}
		spec.YAMLPath = path
		return spec, nil
	})
}

// launchCheck is the check a launch is judged by: the cached one (stale or not), sky
// looked for again when the cache says it is missing, and a check sky could not answer
// taken as "every cloud", since sky launch itself then reports missing credentials.
func (s *Service) launchCheck(ctx context.Context) (CheckInfo, error) {
	info, err := s.Check(ctx, false)
	if err == nil && !info.SkyInstalled {
		// Looking for sky again is cheap, and an operator who just installed it should not
		// wait for the cache to expire.
		info, err = s.Check(ctx, true)
	}
	if de, ok := core.AsError(err); ok && de.Kind == core.KindUpstream {
		s.log.Warn().Err(err).Msg("launching without a readable sky check")
		return CheckInfo{SkyInstalled: true, Enabled: core.KnownClouds(), Version: s.knownVersion()}, nil
	}
	return info, err
}

// Stop moves a running cluster to stopping and starts `sky stop`.
func (s *Service) Stop(ctx context.Context, name string) (Accepted, error) {
	return s.simple(ctx, name, core.ActionStop)
}

// Start moves a stopped cluster to starting and starts `sky start`.
func (s *Service) Start(ctx context.Context, name string) (Accepted, error) {
	return s.simple(ctx, name, core.ActionStart)
}

// Destroy moves the cluster to destroying, cancels the operation in flight if any, and
// starts `sky down` once that operation's run is gone.
func (s *Service) Destroy(ctx context.Context, name string) (Accepted, error) {
	return s.simple(ctx, name, core.ActionDestroy)
}

// pathName is the envelope key of a cluster name given in the path.
const pathName = "path.name"

func (s *Service) simple(ctx context.Context, name string, action core.Action) (Accepted, error) {
	if err := core.ValidateClusterName(pathName, name); err != nil {
		return Accepted{}, err
	}
	return s.transition(ctx, name, core.Request{Action: action}, nil)
}

// precheck answers a request the current status refuses, without side effects.
func (s *Service) precheck(ctx context.Context, name string, action core.Action) error {
	rec, err := s.store.Load(ctx, name)
	if err != nil {
		return err
	}
	_, err = core.Decide(rec, core.Request{Action: action}, s.clock.Now())
	return err
}

// prepareLaunch is called under the cluster's lock with the new operation's ID; it
// writes what the launch's sky run needs.
type prepareLaunch func(opID uint64) (ports.LaunchSpec, error)

// transition decides the request, saves the new record with its status event, and starts
// the operation in the background. Exactly one of any number of concurrent requests wins.
func (s *Service) transition(ctx context.Context, name string, req core.Request, prepare prepareLaunch) (Accepted, error) {
	cs := s.cluster(name)
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if s.base.Err() != nil {
		return Accepted{}, core.Errorf(core.KindConflict, core.KeyCluster, "skygate is shutting down")
	}
	rec, err := s.store.Load(ctx, name)
	if err != nil {
		return Accepted{}, err
	}
	d, err := core.Decide(rec, req, s.clock.Now())
	if err != nil {
		return Accepted{}, err
	}
	creates := req.Action == core.ActionLaunch && !rec.Exists()
	if creates {
		// A first look, so that a launch refused by the bound writes no task file; the
		// count that counts is taken again with the save.
		if err := s.underClusterBound(ctx); err != nil {
			return Accepted{}, err
		}
	}
	var spec ports.LaunchSpec
	if prepare != nil {
		if spec, err = prepare(d.Cluster.OperationID); err != nil {
			return Accepted{}, err
		}
	}
	saved, err := s.applyWithinBound(ctx, name, d, creates)
	if err != nil {
		return Accepted{}, err
	}
	op := s.startLocked(cs, saved, spec)
	op.fromNothing = req.Action == core.ActionLaunch && !rec.Exists()
	return Accepted{Message: acceptedMessage(req.Action, name), ClusterName: name}, nil
}

// applyWithinBound applies d; when d creates a cluster, only if fewer than MaxClusters
// exist. Creations hold createMu across the count and the save, so concurrent launches
// of different names cannot both pass the bound; every other transition runs in
// parallel with them.
func (s *Service) applyWithinBound(ctx context.Context, name string, d core.Decision, creates bool) (core.Cluster, error) {
	if creates {
		s.createMu.Lock()
		defer s.createMu.Unlock()
		if err := s.underClusterBound(ctx); err != nil {
			return core.Cluster{}, err
		}
	}
	return s.apply(ctx, name, d)
}

// underClusterBound refuses a new cluster when MaxClusters exist already.
func (s *Service) underClusterBound(ctx context.Context) error {
	n, err := s.store.Existing(ctx)
	if err != nil {
		return err
	}
	if n >= s.cfg.MaxClusters {
		return core.Errorf(core.KindConflict, core.KeyCluster, "cannot launch: skygate already manages %d clusters, its limit (--max-clusters %d)", n, s.cfg.MaxClusters)
	}
	return nil
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

// startLocked begins carrying out rec's operation; cs.mu is held. The operation in
// flight, if any, is superseded: it stops, and its run is cancelled before the new run.
func (s *Service) startLocked(cs *clusterState, rec core.Cluster, spec ports.LaunchSpec) *operation {
	prev := cs.current
	if prev != nil {
		prev.cancel()
	}
	op, ctx := newOperation(s.base, rec)
	cs.current = op
	s.work.Add(1)
	go s.carryOut(ctx, cs, op, prev, spec)
	return op
}

// carryOut runs the operation's sky command through its supervisor, streaming its lines
// as progress events, then confirms the outcome with `sky status` and settles the record.
func (s *Service) carryOut(ctx context.Context, cs *clusterState, op *operation, prev *operation, spec ports.LaunchSpec) {
	defer s.work.Done()
	defer close(op.finished)
	if prev != nil {
		<-prev.exited
		if !prev.started.Load() && prev.fromNothing && op.action == core.ActionDestroy {
			// A launch that was still waiting for a slot: dequeued, nothing to tear down.
			close(op.exited)
			s.finish(ctx, cs, op, core.Outcome{OperationID: op.id, Observed: &core.SkyCluster{}})
			return
		}
		if prev.started.Load() {
			if err := s.runner.Cancel(ctx, prev.key); err != nil {
				s.log.Warn().Err(err).Str("cluster", op.cluster).Msg("cancelling the superseded sky run failed")
			}
		}
	}
	err := s.slots.acquire(ctx, func(position int) {
		s.emit(ctx, s.progress(op, fmt.Sprintf("Waiting for a free sky slot: position %d in line (at most %d sky runs at once)", position, s.cfg.MaxSkyProcs), 0))
	})
	if err != nil {
		close(op.exited)
		s.release(cs, op)
		return
	}
	op.started.Store(true)
	run := ports.Operation{Key: op.key, Action: op.action, Cluster: op.cluster, Launch: spec}
	res, err := s.runner.Start(ctx, run, s.lineSink(ctx, op))
	s.slots.release()
	close(op.exited)
	s.settleRun(ctx, cs, op, res, err)
}

// lineSink publishes a run's lines as progress events of op.
func (s *Service) lineSink(ctx context.Context, op *operation) ports.LineFunc {
	return func(line ports.Line) {
		s.emit(context.WithoutCancel(ctx), s.progress(op, line.Text, line.Offset))
	}
}

func (s *Service) progress(op *operation, text string, offset int64) core.Event {
	ev := core.ProgressEvent(s.clock.Now(), op.id, text)
	ev.Cluster = op.cluster
	ev.Offset = offset
	return ev
}

// settleRun judges a finished run and settles the record. A run that this process
// stopped following (superseded, or shut down) settles nothing: the operation that
// superseded it, or the next start, does.
func (s *Service) settleRun(ctx context.Context, cs *clusterState, op *operation, res ports.RunOutcome, err error) {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		s.release(cs, op)
		return
	}
	out := core.Outcome{OperationID: op.id, RunFailed: res.Failed, Message: res.Message}
	switch {
	case errors.Is(err, ports.ErrSkyNotFound):
		out = core.Outcome{OperationID: op.id, RunFailed: true, Message: "SkyPilot is not installed: the sky command was not found"}
	case err != nil:
		out = core.Outcome{OperationID: op.id, RunFailed: true, Message: err.Error()}
	}
	if !(op.action == core.ActionLaunch && out.RunFailed) {
		// sky stop, start and down exit 0 on many failures, and a launch's cluster may
		// not be up: sky status says how it really ended.
		sc, ip, ok := s.confirm(ctx, op.cluster)
		if !ok {
			s.release(cs, op) // cut off by shutdown: recovery decides after the restart
			return
		}
		out.Observed, out.IP = &sc, ip
	}
	s.finish(ctx, cs, op, out)
}

// confirm asks `sky status` about a cluster whose run ended (in one run with the others
// that end at the same time), again and again while sky cannot answer: a failed confirm
// says nothing about the run. It reports false only when ctx ended first.
func (s *Service) confirm(ctx context.Context, name string) (core.SkyCluster, string, bool) {
	wait := s.cfg.PollInterval / 16
	for {
		sc, err := s.skyStatusOf(ctx, name, false)
		if ctx.Err() != nil {
			return core.SkyCluster{}, "", false
		}
		if err == nil {
			return sc, s.headIP(ctx, name, sc), true
		}
		s.log.Warn().Err(err).Str("cluster", name).Msg("sky status could not confirm an operation; asking again")
		select {
		case <-ctx.Done():
			return core.SkyCluster{}, "", false
		case <-s.clock.After(wait):
		}
		wait = min(2*wait, s.cfg.PollInterval)
	}
}

// finish settles the record with the operation's outcome.
func (s *Service) finish(ctx context.Context, cs *clusterState, op *operation, out core.Outcome) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	defer s.releaseLocked(cs, op)
	rec, err := s.store.Load(ctx, op.cluster)
	if err != nil {
		s.log.Error().Err(err).Msg("loading the record to settle an operation failed")
		return
	}
	d := core.Complete(rec, out, s.clock.Now())
	if len(d.Events) == 0 {
		return
	}
	if _, err := s.apply(ctx, op.cluster, d); err != nil {
		s.log.Error().Err(err).Msg("saving an operation's outcome failed")
		return
	}
	s.log.Info().Str("cluster", op.cluster).Str("action", string(op.action)).Str("status", string(d.Cluster.Status)).Str("error", d.Cluster.Error).Msg("operation finished")
}

func (s *Service) release(cs *clusterState, op *operation) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	s.releaseLocked(cs, op)
}

func (s *Service) releaseLocked(cs *clusterState, op *operation) {
	if cs.current == op {
		cs.current = nil
	}
	op.cancel()
}

// headIP is the head node's address of a cluster that is up ("" otherwise): the one the
// status output showed, else `sky status --ip`.
func (s *Service) headIP(ctx context.Context, name string, sc core.SkyCluster) string {
	if !sc.Found || sc.Status != core.SkyUp {
		return ""
	}
	if sc.HeadIP != "" {
		return sc.HeadIP
	}
	ip, err := s.runner.IP(ctx, name)
	if err != nil {
		s.log.Warn().Err(err).Str("cluster", name).Msg("sky status --ip failed")
		return ""
	}
	return ip
}
