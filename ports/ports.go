// Package ports declares the interfaces the use cases consume. Adapters satisfy them; the
// app depends only on these and on core.
package ports

import (
	"context"
	"errors"
	"time"

	"github.com/skygate/skygate/core"
)

// ErrSkyNotFound is returned by a Runner when the sky executable cannot be found.
var ErrSkyNotFound = errors.New("sky executable not found")

// RunResult is how one `sky` invocation ended. Stdout and Stderr are bounded: a Runner
// keeps at most their last MaxOutputBytes each.
type RunResult struct {
	ExitCode int
	Stdout   string
	Stderr   string
}

// MaxOutputBytes bounds what a Runner keeps of each output stream.
const MaxOutputBytes = 1 << 20

// LineFunc receives one cleaned output line (core.LineCleaner) as soon as sky prints it.
// It is called from one goroutine at a time, in the order the lines were read.
type LineFunc func(line string)

// LaunchSpec is one `sky launch`.
type LaunchSpec struct {
	YAMLPath    string
	ClusterName string
	// DetachRun returns once the task's job is submitted instead of following it.
	DetachRun bool
	// IdleMinutesToAutostop, when > 0, is passed as -i (versions before 0.10 have no
	// resources.autostop in the task YAML).
	IdleMinutesToAutostop int
}

// Runner runs the sky CLI. Every method runs one child process with argv only (no shell),
// resolving the executable at each call. The error is non-nil only when sky could not be
// run to its end: ErrSkyNotFound, or the context's error when it was cancelled or timed
// out (the child is then gone). A run that ended with any exit code has a nil error; the
// caller interprets the exit code and the output.
type Runner interface {
	// Launch runs `sky launch -y -c NAME [-d] [-i N] YAML`, streaming lines to onLine.
	Launch(ctx context.Context, spec LaunchSpec, onLine LineFunc) (RunResult, error)
	// Stop runs `sky stop -y NAME`, streaming lines to onLine.
	Stop(ctx context.Context, clusterName string, onLine LineFunc) (RunResult, error)
	// Start runs `sky start -y NAME`, streaming lines to onLine.
	Start(ctx context.Context, clusterName string, onLine LineFunc) (RunResult, error)
	// Down runs `sky down -y NAME`, streaming lines to onLine.
	Down(ctx context.Context, clusterName string, onLine LineFunc) (RunResult, error)
	// Status runs `sky status [--refresh] [-o json] NAME`.
	Status(ctx context.Context, clusterName string, opts StatusOptions) (RunResult, error)
	// IP runs `sky status --ip NAME`.
	IP(ctx context.Context, clusterName string) (RunResult, error)
	// Check runs `sky check [-o json]`.
	Check(ctx context.Context, json bool) (RunResult, error)
	// Version runs `sky --version`.
	Version(ctx context.Context) (RunResult, error)
}

// StatusOptions selects the form of a `sky status` run.
type StatusOptions struct {
	Refresh bool // --refresh: ask the cloud, not SkyPilot's cache
	JSON    bool // -o json (sky >= 0.12)
}

// Store keeps the cluster record and the event log durably.
type Store interface {
	// Load returns the saved record, or core.NoCluster() when nothing was ever saved.
	Load(ctx context.Context) (core.Cluster, error)
	// Update calls fn with the current record under the store's lock. When fn returns no
	// error, the store numbers fn's events (each ID one more than the last ever issued; the
	// first is 1),
	// saves the record and the events durably, and returns both; the saved state is never
	// partly written. When fn fails, nothing changes and its error is returned.
	Update(ctx context.Context, fn func(core.Cluster) (core.Cluster, []core.Event, error)) (core.Cluster, []core.Event, error)
	// Append numbers and saves events that change no record (progress lines). They survive
	// a crash of the process; they need not be flushed to the disk one by one, so after a
	// crash of the machine their IDs may be issued again.
	Append(ctx context.Context, events ...core.Event) ([]core.Event, error)
	// Events returns the kept events with an ID greater than after, oldest first. The store
	// keeps a bounded history (the most recent events); an after older than that history
	// gets the whole history.
	Events(ctx context.Context, after uint64) ([]core.Event, error)
	// Close releases the store (and its lock on the state directory). Later calls of any
	// method fail; a second Close returns nil.
	Close() error
}

// EventBus fans numbered events out to live subscribers and keeps the recent ones for
// replay.
type EventBus interface {
	// Publish hands events to every subscriber, in order, without ever blocking: a
	// subscriber whose buffer is full is dropped (its channel closed). Events must come
	// with growing IDs; Publish keeps them for replay.
	Publish(events ...core.Event)
	// Subscribe returns the kept events with an ID greater than after, and a subscription
	// that receives every event published afterwards, with no gap and no duplicate
	// between the two. Live events are not filtered by after.
	Subscribe(after uint64) (replay []core.Event, sub Subscription)
}

// Subscription is one subscriber of an EventBus.
type Subscription interface {
	// Events delivers events; it is closed when the subscriber is dropped or closed. The
	// events are shared by every subscriber and must not be modified.
	Events() <-chan *core.Event
	// Close unsubscribes; it is safe to call more than once.
	Close()
}

// Clock tells the time and waits. Use cases take time only from here, so tests can move it.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// After returns a channel that receives the time once d has passed (at once for d <= 0).
	After(d time.Duration) <-chan time.Time
}
