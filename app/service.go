// Package app holds skygate's use cases: launch, stop, start, destroy, status, check,
// events, and the reconciliation that keeps every record true to sky and to the user's
// intent. It is the only place that sequences IO; it reaches the world only through the
// ports.
package app

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/singleflight"

	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

// Config tunes the use cases. Zero values take the defaults of the design.
type Config struct {
	// DefaultCluster is the cluster of the seed contract's /cluster/* routes.
	DefaultCluster string
	// Template is the operator's task template; request fields override its defaults.
	Template core.SkyPilotConfig
	// CheckTTL is how long a `sky check` result is fresh (default 5 min); an older one is
	// still used while a new check runs in the background.
	CheckTTL time.Duration
	// RefreshInterval is the background refresh period of clusters at rest (default 60 s).
	RefreshInterval time.Duration
	// PollInterval is how often a cluster sky reports in transition is asked again, and
	// the longest wait between retries of a confirming `sky status` (default 5 s).
	PollInterval time.Duration
	// RecoveryTimeout bounds the polling of an operation whose run was lost, counted
	// from the operation's start (default 60 min, the launch timeout): past it the
	// operation is settled as an error, so no record stays in flight for ever.
	RecoveryTimeout time.Duration
	// MaxClusters bounds the clusters that exist (any status but no_server); default 100.
	MaxClusters int
	// MaxSkyProcs bounds the mutating sky runs at once over the fleet; default 4.
	MaxSkyProcs int
	// KeepRuns is how many finished runs' logs are kept (default 100).
	KeepRuns int
}

func (c *Config) setDefaults() {
	if c.DefaultCluster == "" {
		c.DefaultCluster = "skygate"
	}
	if c.CheckTTL <= 0 {
		c.CheckTTL = 5 * time.Minute
	}
	if c.RefreshInterval <= 0 {
		c.RefreshInterval = 60 * time.Second
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 5 * time.Second
	}
	if c.RecoveryTimeout <= 0 {
		c.RecoveryTimeout = 60 * time.Minute
	}
	if c.MaxClusters <= 0 {
		c.MaxClusters = 100
	}
	if c.MaxSkyProcs <= 0 {
		c.MaxSkyProcs = 4
	}
	if c.KeepRuns <= 0 {
		c.KeepRuns = 100
	}
}

// Service runs the use cases for every managed cluster.
type Service struct {
	cfg    Config
	runner ports.Runner
	store  ports.Store
	bus    ports.EventBus
	clock  ports.Clock
	files  TaskFiles
	log    zerolog.Logger

	// createMu serialises the transitions that make a cluster exist, so the count
	// against MaxClusters holds under concurrent launches of different names.
	createMu sync.Mutex
	// clustersMu guards clusters.
	clustersMu sync.Mutex
	clusters   map[string]*clusterState

	// journalMu keeps events published in the order the store numbered them.
	journalMu sync.Mutex
	// unsaved holds the progress events handed to emit and not yet saved; guarded by
	// unsavedMu, taken in a batch by the emit that holds journalMu.
	unsavedMu sync.Mutex
	unsaved   []core.Event

	slots *slots // bounds mutating sky runs over the fleet

	listing fleetListing

	flight   singleflight.Group // shares concurrent sky status and sky check runs
	batches  statusBatches      // coalesces the sky status runs about one cluster each
	checkMu  sync.Mutex
	checked  CheckInfo
	hasCheck bool

	base     context.Context // parent of every operation and shared run; cancelled at shutdown
	stopBase context.CancelFunc
	work     sync.WaitGroup // operations and background loops
}

// clusterState is what the service holds in memory for one cluster.
type clusterState struct {
	// mu serialises the cluster's transitions: reading the record, deciding, saving, and
	// registering or finishing the operation that carries them out.
	mu      sync.Mutex
	current *operation // the operation this process is carrying out, if any
}

// TaskFiles writes task YAML files; the composition root gives a file-system one.
type TaskFiles interface {
	// Write saves content as the task file of one operation of cluster with mode 0600,
	// removes the cluster's older task files, and returns the new file's path.
	Write(cluster string, opID uint64, content string) (string, error)
}

// New builds the service. Call Resume to begin recovery and the background refresh.
func New(cfg Config, runner ports.Runner, store ports.Store, bus ports.EventBus, clock ports.Clock, files TaskFiles, log zerolog.Logger) *Service {
	cfg.setDefaults()
	base, stop := context.WithCancel(context.Background())
	return &Service{
		cfg: cfg, runner: runner, store: store, bus: bus, clock: clock, files: files, log: log,
		clusters: map[string]*clusterState{}, slots: newSlots(cfg.MaxSkyProcs),
		base: base, stopBase: stop,
	}
}

// DefaultCluster is the name of the seed contract's cluster.
func (s *Service) DefaultCluster() string { return s.cfg.DefaultCluster }

func (s *Service) cluster(name string) *clusterState {
	s.clustersMu.Lock()
	defer s.clustersMu.Unlock()
	cs := s.clusters[name]
	if cs == nil {
		cs = &clusterState{}
		s.clusters[name] = cs
	}
	return cs
}

// busy reports whether this process carries out an operation of name.
func (s *Service) busy(name string) bool {
	cs := s.cluster(name)
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.current != nil
}

// Resume begins, in the background, the recovery of operations cut off by a restart,
// the adoption of clusters sky has under managed names, and the periodic refresh. It
// returns at once.
func (s *Service) Resume() {
	s.work.Add(2)
	go func() {
		defer s.work.Done()
		s.resumeAll()
		s.refreshLoop()
	}()
	go func() {
		defer s.work.Done()
		// Warm the check cache so the first launch does not wait on `sky check`.
		if _, err := s.Check(s.base, false); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Warn().Err(err).Msg("initial sky check failed")
		}
	}()
}

// Shutdown stops following operations and ends the background work within the context's
// deadline. Running sky operations are left to their supervisors; the next start
// re-attaches to them.
func (s *Service) Shutdown(ctx context.Context) {
	s.stopBase()
	done := make(chan struct{})
	go func() {
		s.work.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		s.log.Warn().Msg("shutdown: background work did not end in time")
	}
}

// commit applies fn to name's record in the store and publishes the events it returns,
// in the order the store numbered them.
func (s *Service) commit(ctx context.Context, name string, fn func(core.Cluster) (core.Cluster, []core.Event, error)) (core.Cluster, error) {
	s.journalMu.Lock()
	defer s.journalMu.Unlock()
	rec, events, err := s.store.Update(ctx, name, fn)
	if err != nil {
		return rec, err
	}
	s.bus.Publish(events...)
	return rec, nil
}

// emit saves and publishes events that change no record (progress lines), and returns
// once they are saved. Lines that arrive while a save is under way are saved together
// by the next (a group commit): with many runs printing at once, a transaction per line
// would queue every line behind every other. The save has a context of its own, since
// the batch holds other callers' events too.
func (s *Service) emit(ctx context.Context, events ...core.Event) {
	s.unsavedMu.Lock()
	s.unsaved = append(s.unsaved, events...)
	s.unsavedMu.Unlock()
	s.journalMu.Lock()
	defer s.journalMu.Unlock()
	s.unsavedMu.Lock()
	batch := s.unsaved
	s.unsaved = nil
	s.unsavedMu.Unlock()
	if len(batch) == 0 {
		return // an emit that came before took them
	}
	numbered, err := s.store.Append(context.WithoutCancel(ctx), batch...)
	if err != nil {
		s.log.Error().Err(err).Int("events", len(batch)).Msg("saving events failed")
		return
	}
	s.bus.Publish(numbered...)
}

// apply saves a decision about name. Callers hold the cluster's lock, so the record
// cannot have changed since the decision read it. The save has a context of its own:
// once decided, a transition must not be lost because a client went away.
func (s *Service) apply(ctx context.Context, name string, d core.Decision) (core.Cluster, error) {
	return s.commit(context.WithoutCancel(ctx), name, func(core.Cluster) (core.Cluster, []core.Event, error) {
		return d.Cluster, d.Events, nil
	})
}

// shared runs fn once for every concurrent caller with the same key, under the service's
// own context (so shutdown ends it), and waits for its result or the caller's context.
func (s *Service) shared(ctx context.Context, key string, fn func(ctx context.Context) (any, error)) (any, error) {
	ch := s.flight.DoChan(key, func() (any, error) { return fn(s.base) })
	select {
	case r := <-ch:
		return r.Val, r.Err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
