// Package app holds skygate's use cases: launch, stop, start, destroy, status, check,
// events, and the reconciliation that keeps the record true to sky. It is the only place
// that sequences IO; it reaches the world only through the ports.
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

// Config tunes the use cases. Zero durations take the defaults of the design.
type Config struct {
	ClusterName string
	// TaskDir is where task YAML files are written (mode 0600).
	TaskDir string
	// Template is the operator's task template; request fields override its defaults.
	Template core.SkyPilotConfig
	// CheckTTL is how long a `sky check` result is reused (default 5 min).
	CheckTTL time.Duration
	// RefreshInterval is the background refresh period of a cluster at rest (default 60 s).
	RefreshInterval time.Duration
	// PollInterval is how often an operation cut off by a restart is polled while sky
	// still reports it in progress (default 5 s).
	PollInterval time.Duration
	// RecoveryTimeout bounds that polling, counted from the operation's start (default
	// 60 min, the launch timeout): past it the operation is settled as an error, so no
	// record stays in flight for ever.
	RecoveryTimeout time.Duration
}

func (c *Config) setDefaults() {
	if c.ClusterName == "" {
		c.ClusterName = "skygate"
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
}

// Service runs the use cases for one cluster.
type Service struct {
	cfg    Config
	runner ports.Runner
	store  ports.Store
	bus    ports.EventBus
	clock  ports.Clock
	files  TaskFiles
	log    zerolog.Logger

	// mu serialises transitions: reading the record, deciding, saving, and registering
	// or finishing the operation that carries them out.
	mu      sync.Mutex
	current *operation // the operation this process is carrying out, if any

	// journalMu keeps events published in the order the store numbered them.
	journalMu sync.Mutex

	flight   singleflight.Group // shares concurrent `sky status --refresh` and `sky check` runs
	checkMu  sync.Mutex
	checked  CheckInfo
	checkAt  time.Time
	hasCheck bool

	base     context.Context // parent of every operation; cancelled at shutdown
	stopBase context.CancelFunc
	work     sync.WaitGroup // operations and background loops
}

// TaskFiles writes task YAML files; the composition root gives a file-system one.
type TaskFiles interface {
	// Write saves content under name with mode 0600 and returns its path.
	Write(name, content string) (string, error)
}

// New builds the service. Call Start to begin recovery and the background refresh.
func New(cfg Config, runner ports.Runner, store ports.Store, bus ports.EventBus, clock ports.Clock, files TaskFiles, log zerolog.Logger) *Service {
	cfg.setDefaults()
	base, stop := context.WithCancel(context.Background())
	return &Service{cfg: cfg, runner: runner, store: store, bus: bus, clock: clock, files: files, log: log, base: base, stopBase: stop}
}

// ClusterName is the name of the cluster the service manages.
func (s *Service) ClusterName() string { return s.cfg.ClusterName }

// Resume begins, in the background, the recovery of an operation cut off by a restart
// and the periodic refresh. It returns at once.
func (s *Service) Resume() {
	s.work.Add(1)
	go func() {
		defer s.work.Done()
		s.recoverInFlight()
		s.refreshLoop()
	}()
	s.work.Add(1)
	go func() {
		defer s.work.Done()
		// Warm the check cache so the first launch does not wait on `sky check`.
		if _, err := s.Check(s.base, false); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Warn().Err(err).Msg("initial sky check failed")
		}
	}()
}

// Shutdown waits up to the context's deadline for running operations to finish, then
// cancels them. A cancelled operation leaves its record in flight, so the next start
// reconciles it with sky.
func (s *Service) Shutdown(ctx context.Context) {
	s.mu.Lock()
	op := s.current
	s.mu.Unlock()
	if op != nil {
		select {
		case <-op.finished:
		case <-ctx.Done():
		}
	}
	s.stopBase()
	s.work.Wait()
}

// commit applies fn to the record in the store and publishes the events it returns, in
// the order the store numbered them.
func (s *Service) commit(ctx context.Context, fn func(core.Cluster) (core.Cluster, []core.Event, error)) (core.Cluster, error) {
	s.journalMu.Lock()
	defer s.journalMu.Unlock()
	rec, events, err := s.store.Update(ctx, fn)
	if err != nil {
		return rec, err
	}
	s.bus.Publish(events...)
	return rec, nil
}

// emit saves and publishes events that change no record (progress lines).
func (s *Service) emit(ctx context.Context, events ...core.Event) {
	s.journalMu.Lock()
	defer s.journalMu.Unlock()
	numbered, err := s.store.Append(ctx, events...)
	if err != nil {
		s.log.Error().Err(err).Msg("saving events failed")
		return
	}
	s.bus.Publish(numbered...)
}

// apply saves a decision. Callers hold s.mu, so the record cannot have changed since
// the decision read it.
func (s *Service) apply(ctx context.Context, d core.Decision) (core.Cluster, error) {
	return s.commit(ctx, func(core.Cluster) (core.Cluster, []core.Event, error) {
		return d.Cluster, d.Events, nil
	})
}
