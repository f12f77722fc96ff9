// Package ports declares the interfaces the use cases consume. Adapters satisfy them; the
// app depends only on these and on core. Ports speak domain values: no CLI text, exit
// codes or SQL rows cross them.
package ports

import (
	"context"
	"errors"
	"time"

	"github.com/skygate/skygate/core"
)

// ErrSkyNotFound is returned by a Runner when the sky executable cannot be found.
var ErrSkyNotFound = errors.New("sky executable not found")

// ErrNoOperation is returned by Runner.Attach when no supervised run of that operation
// exists: it never started, or its supervisor died without recording how sky ended.
var ErrNoOperation = errors.New("no supervised run of that operation")

// OperationKey names one supervised sky run; it is unique over the life of a state dir
// (see core.OperationKey).
type OperationKey string

// LaunchSpec is one `sky launch`.
type LaunchSpec struct {
	// YAMLPath is the task file, written by the app before the run.
	YAMLPath string
	// DetachRun returns once the task's job is submitted instead of following it.
	DetachRun bool
	// IdleMinutesToAutostop, when > 0, asks sky to stop the cluster after that many idle
	// minutes (for versions whose task YAML cannot say so).
	IdleMinutesToAutostop int
}

// Operation is one mutating sky run: a launch, stop, start or destroy of a cluster.
type Operation struct {
	Key     OperationKey
	Action  core.Action
	Cluster string
	Launch  LaunchSpec // ActionLaunch only
}

// Line is one cleaned line of a run's output (core.LineCleaner).
type Line struct {
	Text string
	// Offset is where the run's output continues after this line: passing it to Attach
	// delivers only the lines printed after this one.
	Offset int64
}

// LineFunc receives a run's lines as soon as sky prints them, from one goroutine at a
// time, in order.
type LineFunc func(Line)

// RunOutcome is how a finished sky run ended.
type RunOutcome struct {
	// Failed is sky's own verdict of failure: a non-zero exit, a kill or a timeout. sky
	// stop, start and down exit 0 on many failures, so a false Failed proves nothing for
	// them; the caller confirms with Status.
	Failed bool
	// Message is the one sentence that explains a failure, taken from the output
	// (core.ExtractError); it is set whenever the output holds one, Failed or not, and
	// is meaningful only when the run did not reach its goal.
	Message string
}

// Runner drives sky. Read-only calls (Status, IP, Check, Version) run sky directly and end
// with their context. Mutating runs (Start) go through a supervisor that outlives this
// process: cancelling the context of Start or Attach only stops following the run; Cancel
// ends it. Every method that runs sky returns ErrSkyNotFound when the executable is
// missing, and the context's error when the context ended first.
type Runner interface {
	// Start begins the supervised run of op and follows it until it ends, streaming its
	// lines to onLine. Starting a key that already has a run is an error. A Start whose
	// context has already ended starts nothing.
	Start(ctx context.Context, op Operation, onLine LineFunc) (RunOutcome, error)
	// Attach follows the supervised run of key, live or finished, streaming the lines
	// printed after offset, and returns its outcome once it has ended. It returns
	// ErrNoOperation when no run of key exists or its supervisor died without an outcome.
	Attach(ctx context.Context, key OperationKey, offset int64, onLine LineFunc) (RunOutcome, error)
	// Cancel ends the supervised run of key: SIGTERM to sky's process group, SIGKILL
	// after a grace period. It returns once no sky process of the run is left; cancelling
	// a run that is not running is not an error.
	Cancel(ctx context.Context, key OperationKey) error
	// Forget removes what is kept of finished runs other than the newest keep ones.
	Forget(keep int) error
	// Status asks sky about the named clusters in one run (with refresh, sky asks the
	// clouds). Every name is in the answer; a cluster sky does not know has Found false.
	Status(ctx context.Context, names []string, refresh bool) (map[string]core.SkyCluster, error)
	// IP returns the head node's address of a cluster that is up.
	IP(ctx context.Context, name string) (string, error)
	// Check returns which clouds sky can use.
	Check(ctx context.Context) (core.CheckResult, error)
	// Version returns the installed sky version (the zero Version when unreadable).
	Version(ctx context.Context) (core.Version, error)
}

// EventFilter selects kept events.
type EventFilter struct {
	// After keeps events with an ID greater than this.
	After uint64
	// Cluster keeps one cluster's events; "" keeps every cluster's.
	Cluster string
	// OperationID, when non-zero, keeps only that operation's events (Cluster required).
	OperationID uint64
	// Limit, when positive, keeps only the oldest Limit of the events that match: a
	// stream that replays a long history reads it a page at a time.
	Limit int
}

// Store keeps every cluster's record and the event log durably.
type Store interface {
	// Clusters returns every saved record, sorted by name. The slice is a snapshot that
	// never changes once returned, and may be shared with other callers until a record
	// changes (a fleet listing is read far more often than a record changes): the caller
	// must not write to it.
	Clusters(ctx context.Context) ([]core.Cluster, error)
	// Existing returns how many saved records are of clusters that exist
	// (core.Cluster.Exists): as many as Clusters would hold, at the cost of a count.
	Existing(ctx context.Context) (int, error)
	// Load returns the saved record of name, or core.NoCluster(name) when none was saved.
	Load(ctx context.Context, name string) (core.Cluster, error)
	// Update calls fn with the current record of name (core.NoCluster(name) when none)
	// under the store's lock. When fn returns no error, the store numbers fn's events
	// (each ID one more than the last ever issued, over every cluster; the first is 1),
	// sets their Cluster to name, saves the record and the events in one transaction, and
	// returns both. When fn fails, nothing changes and its error is returned.
	Update(ctx context.Context, name string, fn func(core.Cluster) (core.Cluster, []core.Event, error)) (core.Cluster, []core.Event, error)
	// Append numbers and saves events that change no record (progress lines); each event
	// names its cluster. They survive a crash of the process.
	Append(ctx context.Context, events ...core.Event) ([]core.Event, error)
	// Events returns the kept events that match filter, oldest first. The store keeps a
	// bounded history per cluster (its most recent events).
	Events(ctx context.Context, filter EventFilter) ([]core.Event, error)
	// LastEventID is the highest event ID ever issued (0 before the first).
	LastEventID(ctx context.Context) (uint64, error)
	// Close releases the store (and its lock on the state directory). Later calls of any
	// method fail; a second Close returns nil.
	Close() error
}

// EventBus fans numbered events out to live subscribers. It keeps nothing: replay comes
// from the Store.
type EventBus interface {
	// Publish hands events to every subscriber of their cluster and to every subscriber
	// of all clusters, in order, without ever blocking: a subscriber whose buffer is
	// full is dropped (its channel closed).
	Publish(events ...core.Event)
	// Subscribe returns a subscription to the events published from now on of one
	// cluster, or of every cluster when cluster is "".
	Subscribe(cluster string) Subscription
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
