package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

// ClusterView is one cluster as the fleet listing shows it.
type ClusterView struct {
	core.Cluster
	// Default marks the seed contract's cluster.
	Default bool
}

// Status returns name's record. With refresh it first reconciles the record with
// `sky status --refresh`, unless this process is carrying out an operation of it (its
// outcome will settle the record); a cluster sky has under a name with no record is
// adopted. Concurrent refreshes share one sky run.
func (s *Service) Status(ctx context.Context, name string, refresh bool) (core.Cluster, error) {
	if err := core.ValidateClusterName(pathName, name); err != nil {
		return core.Cluster{}, err
	}
	if refresh {
		if err := s.refresh(ctx, []string{name}); err != nil {
			return core.Cluster{}, err
		}
	}
	return s.store.Load(ctx, name)
}

// Clusters lists every managed cluster, sorted by name: each that exists, and the
// default cluster always. With refresh they are first reconciled with one
// `sky status --refresh`. The slice may be shared with other callers: it must not be
// written to.
func (s *Service) Clusters(ctx context.Context, refresh bool) ([]ClusterView, error) {
	if refresh {
		names, err := s.managedNames(ctx)
		if err != nil {
			return nil, err
		}
		if err := s.refresh(ctx, names); err != nil {
			return nil, err
		}
	}
	recs, err := s.store.Clusters(ctx)
	if err != nil {
		return nil, err
	}
	return s.listing.of(recs, s.cfg.DefaultCluster), nil
}

// fleetListing keeps the views of the store's last snapshot. A front end polls the
// fleet listing every few seconds, and until a record changes the store hands out the
// same snapshot, which never changes (ports.Store.Clusters): its views are the same too.
type fleetListing struct {
	mu       sync.Mutex
	snapshot []core.Cluster
	views    []ClusterView
}

// of returns the views of recs, shared with other callers: they must not be written to.
func (l *fleetListing) of(recs []core.Cluster, defaultCluster string) []ClusterView {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.views != nil && len(recs) == len(l.snapshot) && (len(recs) == 0 || &recs[0] == &l.snapshot[0]) {
		return l.views
	}
	views := make([]ClusterView, 0, len(recs)+1)
	sawDefault := false
	for _, r := range recs {
		isDefault := r.Name == defaultCluster
		sawDefault = sawDefault || isDefault
		if r.Exists() || isDefault {
			views = append(views, ClusterView{Cluster: r, Default: isDefault})
		}
	}
	if !sawDefault {
		views = append(views, ClusterView{Cluster: core.NoCluster(defaultCluster), Default: true})
		slices.SortFunc(views, func(a, b ClusterView) int { return strings.Compare(a.Name, b.Name) })
	}
	l.snapshot, l.views = recs, views
	return views
}

// managedNames are the names sky is asked about: every cluster that exists, and the
// default one (so a cluster sky has under it is adopted), sorted.
func (s *Service) managedNames(ctx context.Context) ([]string, error) {
	recs, err := s.store.Clusters(ctx)
	if err != nil {
		return nil, err
	}
	names := []string{s.cfg.DefaultCluster}
	for _, r := range recs {
		if r.Exists() && r.Name != s.cfg.DefaultCluster {
			names = append(names, r.Name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// refresh reconciles names with sky; concurrent calls for the same names share one run.
func (s *Service) refresh(ctx context.Context, names []string) error {
	_, err := s.shared(ctx, "status:"+strings.Join(names, " "), func(ctx context.Context) (any, error) {
		return nil, s.reconcile(ctx, names)
	})
	return err
}

// reconcile asks one `sky status --refresh` about names and applies each answer with
// core.Observe to the clusters this process is not carrying an operation out for.
func (s *Service) reconcile(ctx context.Context, names []string) error {
	before := make(map[string]core.Cluster, len(names))
	var ask []string
	for _, name := range names {
		if s.busy(name) {
			continue
		}
		rec, err := s.store.Load(ctx, name)
		if err != nil {
			return err
		}
		before[name] = rec
		ask = append(ask, name)
	}
	if len(ask) == 0 {
		return nil
	}
	answers, err := s.runner.Status(ctx, ask, true)
	if err != nil {
		return skyError(err)
	}
	for _, name := range ask {
		if err := s.observe(ctx, before[name], answers[name]); err != nil {
			return err
		}
	}
	return nil
}

// observe applies what sky reported about a cluster at rest, unless the record changed
// while sky was asked (the change is newer than the answer).
func (s *Service) observe(ctx context.Context, asked core.Cluster, sc core.SkyCluster) error {
	ip := asked.IP
	if sc.Found && sc.Status == core.SkyUp && (asked.Status != core.StatusRunning || ip == "" || sc.HeadIP != "") {
		// Only a cluster that came up asks sky for its address: a refresh of a fleet
		// at rest stays one sky run.
		ip = s.headIP(ctx, asked.Name, sc)
	}
	cs := s.cluster(asked.Name)
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.current != nil {
		return nil
	}
	rec, err := s.store.Load(ctx, asked.Name)
	if err != nil || rec.OperationID != asked.OperationID || rec.Status != asked.Status {
		return err
	}
	d, _ := core.Observe(rec, sc, ip, s.clock.Now())
	if len(d.Events) == 0 && d.Cluster == rec {
		return nil
	}
	if _, err := s.apply(ctx, rec.Name, d); err != nil {
		return err
	}
	if d.Run != "" {
		s.startLocked(cs, d.Cluster, ports.LaunchSpec{})
	}
	return nil
}

// skyError makes a runner's failure a domain error for the HTTP answer.
func skyError(err error) error {
	if errors.Is(err, ports.ErrSkyNotFound) {
		return skyMissing()
	}
	if _, ok := core.AsError(err); ok || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return core.Errorf(core.KindUpstream, core.KeySky, "sky status failed: %v", err)
}

func skyMissing() error {
	return core.Errorf(core.KindDependencyMissing, core.KeySky, "SkyPilot is not installed: the sky command was not found")
}

// resumeAll follows every operation that a restart cut off, and reconciles the clusters
// at rest (adopting one sky has under the default name).
func (s *Service) resumeAll() {
	recs, err := s.store.Clusters(s.base)
	if err != nil {
		s.log.Error().Err(err).Msg("loading the records at start failed")
		return
	}
	atRest := []string{s.cfg.DefaultCluster}
	for _, rec := range recs {
		switch {
		case rec.Status.InFlight():
			s.resume(rec)
		case rec.Exists() && rec.Name != s.cfg.DefaultCluster:
			atRest = append(atRest, rec.Name)
		}
	}
	slices.Sort(atRest)
	if err := s.refresh(s.base, atRest); err != nil && s.base.Err() == nil {
		if de, ok := core.AsError(err); ok && de.Kind == core.KindDependencyMissing {
			// No sky: nothing to reconcile with, and the check says so to every client.
			s.log.Info().Err(err).Msg("no sky to reconcile the clusters with at start")
			return
		}
		s.log.Warn().Err(err).Msg("reconciling the clusters at start failed")
	}
}

// resume follows an operation of rec that a restart cut off: its supervised run is
// re-attached (its log followed from the last line published) or settled from how it
// ended; with no run to find, sky is polled until it settles.
func (s *Service) resume(rec core.Cluster) {
	cs := s.cluster(rec.Name)
	cs.mu.Lock()
	if cs.current != nil {
		cs.mu.Unlock()
		return
	}
	op, ctx := newOperation(s.base, rec)
	cs.current = op
	cs.mu.Unlock()
	s.log.Info().Str("cluster", rec.Name).Str("status", string(rec.Status)).Msg("resuming an operation cut off by a restart")
	s.work.Add(1)
	go func() {
		defer s.work.Done()
		defer close(op.finished)
		if rec.Operation == "" {
			// A record from before operations had runs of their own.
			close(op.exited)
			s.poll(ctx, cs, op, rec)
			return
		}
		offset, err := s.publishedOffset(ctx, rec)
		if err != nil {
			s.log.Warn().Err(err).Msg("reading the last published line failed; following from the start")
		}
		op.started.Store(true)
		s.slots.take()
		res, err := s.runner.Attach(ctx, op.key, offset, s.lineSink(ctx, op))
		s.slots.release()
		close(op.exited)
		if errors.Is(err, ports.ErrNoOperation) {
			s.poll(ctx, cs, op, rec)
			return
		}
		s.settleRun(ctx, cs, op, res, err)
	}()
}

// publishedOffset is where the run of rec's operation continues after the last line
// published from it.
func (s *Service) publishedOffset(ctx context.Context, rec core.Cluster) (int64, error) {
	events, err := s.store.Events(ctx, ports.EventFilter{Cluster: rec.Name, OperationID: rec.OperationID})
	if err != nil {
		return 0, err
	}
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].Type == core.EventProgress && events[i].Offset > 0 {
			return events[i].Offset, nil
		}
	}
	return 0, nil
}

// poll follows a cluster whose operation lost its run: it asks sky until sky settles,
// then settles the record, carrying on with what the user asked for (a destroy that sky
// has not finished is run again). The follower counts as the operation in flight, so a
// destroy supersedes it like any other.
func (s *Service) poll(ctx context.Context, cs *clusterState, op *operation, rec core.Cluster) {
	defer s.release(cs, op)
	started := rec.UpdatedAt
	if started.IsZero() {
		started = s.clock.Now()
	}
	deadline := started.Add(s.cfg.RecoveryTimeout)
	for {
		sc, err := s.skyStatusOf(ctx, op.cluster, true)
		if ctx.Err() != nil {
			return
		}
		if err == nil && s.settlePolled(ctx, cs, op, sc) {
			return
		}
		if !s.clock.Now().Before(deadline) {
			s.giveUp(ctx, cs, op, sc, err)
			return
		}
		if err != nil {
			s.log.Warn().Err(err).Str("cluster", op.cluster).Msg("recovery: sky status failed; polling again")
		}
		select {
		case <-ctx.Done():
			return
		case <-s.clock.After(s.cfg.PollInterval):
		}
	}
}

// settlePolled applies sky's answer to the record of a followed operation and reports
// whether following is over.
func (s *Service) settlePolled(ctx context.Context, cs *clusterState, op *operation, sc core.SkyCluster) bool {
	ip := s.headIP(ctx, op.cluster, sc)
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.current != op {
		return true
	}
	rec, err := s.store.Load(ctx, op.cluster)
	if err != nil || rec.OperationID != op.id {
		return err == nil
	}
	d, poll := core.Observe(rec, sc, ip, s.clock.Now())
	if poll {
		return false
	}
	if _, err := s.apply(ctx, op.cluster, d); err != nil {
		s.log.Error().Err(err).Msg("recovery: saving the outcome failed")
		return true
	}
	if d.Run != "" {
		s.startLocked(cs, d.Cluster, ports.LaunchSpec{})
	}
	return true
}

// giveUp settles a followed operation that sky did not settle in time as an error.
func (s *Service) giveUp(ctx context.Context, cs *clusterState, op *operation, sc core.SkyCluster, cause error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	rec, err := s.store.Load(ctx, op.cluster)
	if err != nil || cs.current != op || rec.OperationID != op.id {
		return
	}
	msg := fmt.Sprintf("sky still reported the cluster as %s %s after the operation started", sc.Status, s.cfg.RecoveryTimeout)
	if cause != nil {
		msg = fmt.Sprintf("sky could not be asked for %s after the operation started: %v", s.cfg.RecoveryTimeout, cause)
	}
	d := core.Complete(rec, core.Outcome{OperationID: op.id, RunFailed: true, Message: msg}, s.clock.Now())
	if _, err := s.apply(ctx, op.cluster, d); err != nil {
		s.log.Error().Err(err).Msg("recovery: saving the outcome failed")
	}
}

// refreshLoop follows changes made outside the service to clusters at rest (autostop,
// preemption, `sky down` by hand) with one sky status run per period, and forgets the
// logs of old runs.
func (s *Service) refreshLoop() {
	for {
		select {
		case <-s.base.Done():
			return
		case <-s.clock.After(s.cfg.RefreshInterval):
		}
		names, err := s.existingNames(s.base)
		if err == nil && len(names) > 0 {
			err = s.refresh(s.base, names)
		}
		if err != nil && s.base.Err() == nil {
			s.log.Warn().Err(err).Msg("background refresh failed")
		}
		if err := s.runner.Forget(s.cfg.KeepRuns); err != nil {
			s.log.Warn().Err(err).Msg("removing old run logs failed")
		}
	}
}

// existingNames are the clusters that exist, sorted.
func (s *Service) existingNames(ctx context.Context) ([]string, error) {
	recs, err := s.store.Clusters(ctx)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, r := range recs {
		if r.Exists() {
			names = append(names, r.Name)
		}
	}
	return names, nil
}
