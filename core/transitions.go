package core

import (
	"fmt"
	"time"
)

// transitions is the design's transition table: for each status, the actions it accepts and
// the status each one moves to. A pair that is absent is refused (see refusal).
var transitions = map[ClusterStatus]map[Action]ClusterStatus{
	StatusNoServer:     {ActionLaunch: StatusProvisioning},
	StatusProvisioning: {ActionDestroy: StatusDestroying},
	StatusRunning:      {ActionStop: StatusStopping, ActionDestroy: StatusDestroying},
	StatusStopping:     {ActionDestroy: StatusDestroying},
	StatusStopped:      {ActionStart: StatusStarting, ActionDestroy: StatusDestroying},
	StatusStarting:     {ActionDestroy: StatusDestroying},
	StatusDestroying:   {},
	StatusError:        {ActionLaunch: StatusProvisioning, ActionDestroy: StatusDestroying},
}

// Target returns the status that action moves a cluster in status from, and whether the
// table allows it at all.
func Target(from ClusterStatus, action Action) (ClusterStatus, bool) {
	to, ok := transitions[from][action]
	return to, ok
}

// Request is a client's lifecycle request.
type Request struct {
	Action Action
	// Launch is the validated launch request (ActionLaunch only).
	Launch LaunchRequest
}

// Decision is the result of a transition: the new record and the events that announce it.
type Decision struct {
	Cluster Cluster
	Events  []Event
	// Cancels is true when the operation in flight must be cancelled before the new one
	// runs (a destroy during provisioning, stopping or starting).
	Cancels bool
	// Run, when set, is the action whose sky run must now be started as the record's
	// operation (Cluster.OperationID).
	Run Action
}

// Decide applies a request to the record. It returns the new record (with a new operation
// in flight and the user's intent) and its status event, or a typed error: not found when
// there is no cluster to act on, conflict when the status forbids the request.
func Decide(rec Cluster, req Request, now time.Time) (Decision, error) {
	if rec.Status == "" {
		rec.Status = StatusNoServer
	}
	to, ok := Target(rec.Status, req.Action)
	if !ok {
		return Decision{}, refusal(rec, req.Action)
	}
	next := rec
	next.Status = to
	next.Desired = desiredBy[req.Action]
	next.Operation = req.Action
	next.OperationID = rec.OperationID + 1
	next.Error = ""
	next.UpdatedAt = now.UTC()
	if req.Action == ActionLaunch {
		next.Launch = req.Launch
		next.Cloud = req.Launch.Cloud
		next.Region = req.Launch.Region
		next.InstanceType = req.Launch.InstanceType
		next.IP = ""
		next.LaunchedAt = time.Time{}
	}
	ev := StatusEvent(now, next.OperationID, to, fmt.Sprintf("%s requested: cluster %s is %s", req.Action, next.Name, to))
	return Decision{Cluster: next, Events: []Event{ev}, Cancels: rec.Status.InFlight(), Run: req.Action}, nil
}

// redo carries on with an operation that a restart cut off while sky had not yet reached
// the user's intent: the same status, a new operation (so its run has a key of its own).
func redo(rec Cluster, action Action, observed ClusterStatus, now time.Time) Decision {
	next := rec
	next.Operation = action
	next.OperationID = rec.OperationID + 1
	next.UpdatedAt = now.UTC()
	msg := fmt.Sprintf("sky reports cluster %s as %s; carrying on with %s", rec.Name, observed, action)
	return Decision{Cluster: next, Events: []Event{ProgressEvent(now, next.OperationID, msg)}, Run: action}
}

func refusal(rec Cluster, action Action) *Error {
	if !rec.Exists() {
		return Errorf(KindNotFound, KeyCluster, "no cluster exists")
	}
	if action == ActionDestroy && rec.Status == StatusDestroying {
		return Errorf(KindConflict, KeyCluster, "cluster %s is already being destroyed (status %s)", rec.Name, rec.Status)
	}
	need := map[Action]string{
		ActionLaunch: "no cluster or a failed one",
		ActionStop:   string(StatusRunning),
		ActionStart:  string(StatusStopped),
	}[action]
	return Errorf(KindConflict, KeyCluster, "cannot %s: cluster %s is %s (needs %s)", action, rec.Name, rec.Status, need)
}

// Outcome is how a `sky` run of an operation ended, as the use case observed it.
type Outcome struct {
	// OperationID is the operation the run belonged to; an outcome of any other operation
	// is stale (it was superseded) and changes nothing.
	OperationID uint64
	// RunFailed is the run's own verdict of failure (a non-zero exit). It alone makes a
	// launch fail; stop, start and destroy are judged by Observed since sky exits 0 on
	// many of their failures.
	RunFailed bool
	// Observed is what `sky status` reported after the run. A nil Observed means sky could
	// not tell (the status call failed or was unreadable).
	Observed *SkyCluster
	// IP is the head node's address when the cluster is up and sky reported one.
	IP string
	// Message is the human sentence explaining a failure (from ExtractError).
	Message string
}

// goals is the status each action aims for.
var goals = map[Action]ClusterStatus{
	ActionLaunch:  StatusRunning,
	ActionStart:   StatusRunning,
	ActionStop:    StatusStopped,
	ActionDestroy: StatusNoServer,
}

// Complete settles the operation in flight once its `sky` run has ended (or, in recovery,
// once sky has settled without one).
//
// A launch whose run failed is an error with the message. Otherwise the status sky reports
// afterwards decides: the action's goal is a success; running or stopped (and no_server for
// anything but a launch) is kept and explained by an error event; anything else is an error.
// A launch that succeeded counts as running when sky could not report a status.
func Complete(rec Cluster, out Outcome, now time.Time) Decision {
	if rec.Operation == "" || out.OperationID != rec.OperationID {
		return Decision{Cluster: rec}
	}
	action := rec.Operation
	goal := goals[action]
	next := rec
	next.Operation = ""
	next.UpdatedAt = now.UTC()
	observed := StatusError
	switch {
	case action == ActionLaunch && out.RunFailed:
	case out.Observed != nil:
		observed = observedStatus(*out.Observed)
		next = withObservation(next, *out.Observed)
	case action == ActionLaunch:
		observed = StatusRunning
	}
	kept := observed == StatusRunning || observed == StatusStopped ||
		(observed == StatusNoServer && action != ActionLaunch)
	var verdict Event
	switch {
	case observed == goal:
		next = settle(next, goal, out.IP, now)
		verdict = CompleteEvent(now, rec.OperationID, successMessage(action, next.Name))
	case kept:
		msg := failureMessage(action, out.Message, fmt.Sprintf("cluster is %s", observed))
		next = settle(next, observed, out.IP, now)
		if observed != StatusNoServer {
			// The record says both what sky reports and what failed.
			next.Error = msg
		}
		verdict = ErrorEvent(now, rec.OperationID, msg)
	default:
		msg := failureMessage(action, out.Message, "sky could not report the cluster's status")
		next.Status = StatusError
		next.Error = msg
		next.IP = ""
		next.LaunchedAt = time.Time{}
		verdict = ErrorEvent(now, rec.OperationID, msg)
	}
	events := []Event{StatusEvent(now, rec.OperationID, next.Status, statusMessage(rec.Name, next.Status)), verdict}
	return Decision{Cluster: next, Events: events}
}

func statusMessage(name string, s ClusterStatus) string {
	switch s {
	case StatusError:
		return "Cluster " + name + " has failed"
	case StatusNoServer:
		return "Cluster " + name + " no longer exists"
	}
	return "Cluster " + name + " is " + string(s)
}

// successMessage is the complete event's text; "Cluster is UP" is the contract's own.
func successMessage(action Action, name string) string {
	switch action {
	case ActionStop:
		return "Cluster is STOPPED"
	case ActionDestroy:
		return "Cluster " + name + " is destroyed"
	}
	return "Cluster is UP"
}

func failureMessage(action Action, message, fallback string) string {
	if message == "" {
		message = fallback
	}
	verb := map[Action]string{ActionLaunch: "launch", ActionStart: "start", ActionStop: "stop", ActionDestroy: "destroy"}[action]
	return "Failed to " + verb + ": " + message
}

// observedStatus maps what sky reported to a status; absent means no_server.
func observedStatus(sc SkyCluster) ClusterStatus {
	if !sc.Found {
		return StatusNoServer
	}
	return sc.Status.ClusterStatus()
}

// withObservation takes the cloud and region sky reports over what was requested.
func withObservation(rec Cluster, sc SkyCluster) Cluster {
	if sc.Found {
		if sc.Cloud != "" {
			rec.Cloud = sc.Cloud
		}
		if sc.Region != "" {
			rec.Region = sc.Region
		}
	}
	return rec
}

// settle puts the record at rest in status s, keeping the fields the contract shows for it.
func settle(rec Cluster, s ClusterStatus, ip string, now time.Time) Cluster {
	rec.Status = s
	rec.Operation = ""
	switch s {
	case StatusRunning:
		rec.Error = ""
		if ip != "" {
			rec.IP = ip
		}
		if rec.LaunchedAt.IsZero() {
			rec.LaunchedAt = now.UTC()
		}
	case StatusStopped:
		rec.Error = ""
		rec.IP = ""
		rec.LaunchedAt = time.Time{}
	case StatusNoServer:
		op := rec.OperationID
		rec = NoCluster(rec.Name)
		rec.OperationID = op
	}
	rec.UpdatedAt = now.UTC()
	return rec
}

// Observe reconciles the record with what `sky status --refresh` reports when no `sky`
// run of this process carries an operation out: after a restart for an operation whose
// supervised run is lost, in the background refresh, and on an explicit refresh.
//
// In flight, it drives toward the user's intent: a destroy or stop that sky has not yet
// carried out is run again (Run is set; an interrupted destroy is finished, never undone);
// INIT/PENDING/AUTOSTOPPING leave the record unchanged with pollAgain set, so the caller
// polls until sky settles; otherwise the operation is settled by what sky reports (absent
// after a launch is an error). At rest, the record follows sky (autostop, preemption, a
// `sky down` by hand), and the intent follows with it; an error record stays error while
// sky does not know the cluster, unless the user asked for it to be gone. With no cluster,
// a cluster sky reports settled under the name is adopted.
func Observe(rec Cluster, sc SkyCluster, ip string, now time.Time) (d Decision, pollAgain bool) {
	observed := observedStatus(sc)
	if sc.Found && !sc.Status.Settled() {
		return Decision{Cluster: rec}, rec.Status.InFlight()
	}
	if !rec.Exists() {
		if !sc.Found {
			return Decision{Cluster: rec}, false
		}
		next := settle(withObservation(rec, sc), observed, ip, now)
		next.Desired = desiredOf(observed)
		msg := fmt.Sprintf("cluster %s is %s (found by sky status)", rec.Name, observed)
		return Decision{Cluster: next, Events: []Event{StatusEvent(now, rec.OperationID, observed, msg)}}, false
	}
	if rec.Status.InFlight() {
		if rec.Operation == "" {
			// A record from before operations were tracked: treat it as its own operation.
			rec.Operation = inFlightAction(rec.Status)
		}
		switch {
		case rec.Desired == DesiredAbsent && sc.Found:
			return redo(rec, ActionDestroy, observed, now), false
		case rec.Desired == DesiredStopped && observed == StatusRunning:
			return redo(rec, ActionStop, observed, now), false
		}
		out := Outcome{OperationID: rec.OperationID, Observed: &sc, IP: ip}
		if rec.Operation == ActionLaunch && observed == StatusNoServer {
			out.Message = "the launch was interrupted before the cluster came up"
		}
		return Complete(rec, out, now), false
	}
	if rec.Status == StatusError && observed == StatusNoServer && rec.Desired != DesiredAbsent {
		return Decision{Cluster: rec}, false
	}
	if observed == rec.Status && (observed != StatusRunning || ip == "" || ip == rec.IP) {
		return Decision{Cluster: rec}, false
	}
	next := settle(withObservation(rec, sc), observed, ip, now)
	next.Desired = desiredOf(observed)
	msg := fmt.Sprintf("cluster %s is %s (reported by sky status)", rec.Name, observed)
	if observed == StatusNoServer {
		msg = fmt.Sprintf("cluster %s no longer exists (reported by sky status)", rec.Name)
	}
	if observed == rec.Status {
		return Decision{Cluster: next}, false
	}
	return Decision{Cluster: next, Events: []Event{StatusEvent(now, rec.OperationID, observed, msg)}}, false
}

// desiredOf is the intent that matches a status sky reports at rest.
func desiredOf(s ClusterStatus) Desired {
	switch s {
	case StatusRunning:
		return DesiredUp
	case StatusStopped:
		return DesiredStopped
	case StatusNoServer:
		return DesiredAbsent
	}
	return DesiredNone
}

func inFlightAction(s ClusterStatus) Action {
	switch s {
	case StatusProvisioning:
		return ActionLaunch
	case StatusStopping:
		return ActionStop
	case StatusStarting:
		return ActionStart
	}
	return ActionDestroy
}
