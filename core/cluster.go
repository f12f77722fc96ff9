// Package core holds skygate's domain: the cluster record, its state machine, the task YAML
// emitter and the parsers of `sky` output. It is pure: no IO, no goroutines, no clock reads
// (time comes in as an argument), standard library only, so it also builds for WebAssembly.
package core

import (
	"fmt"
	"time"
)

// ClusterStatus is the lifecycle status skygate reports for a cluster.
type ClusterStatus string

const (
	StatusNoServer     ClusterStatus = "no_server"
	StatusProvisioning ClusterStatus = "provisioning"
	StatusRunning      ClusterStatus = "running"
	StatusStopping     ClusterStatus = "stopping"
	StatusStopped      ClusterStatus = "stopped"
	StatusStarting     ClusterStatus = "starting"
	StatusDestroying   ClusterStatus = "destroying"
	StatusError        ClusterStatus = "error"
)

// AllStatuses lists every ClusterStatus in the order of the design's transition table.
func AllStatuses() []ClusterStatus {
	return []ClusterStatus{StatusNoServer, StatusProvisioning, StatusRunning, StatusStopping,
		StatusStopped, StatusStarting, StatusDestroying, StatusError}
}

// Valid reports whether s is one of the eight statuses.
func (s ClusterStatus) Valid() bool {
	for _, v := range AllStatuses() {
		if s == v {
			return true
		}
	}
	return false
}

// InFlight reports whether s means a `sky` operation is under way.
func (s ClusterStatus) InFlight() bool {
	switch s {
	case StatusProvisioning, StatusStopping, StatusStarting, StatusDestroying:
		return true
	}
	return false
}

// Action is a lifecycle request a client can make.
type Action string

const (
	ActionLaunch  Action = "launch"
	ActionStop    Action = "stop"
	ActionStart   Action = "start"
	ActionDestroy Action = "destroy"
)

// AllActions lists the actions in the order of the design's transition table.
func AllActions() []Action {
	return []Action{ActionLaunch, ActionStop, ActionStart, ActionDestroy}
}

// Desired is what the user last asked a cluster to be; recovery drives toward it.
type Desired string

const (
	DesiredNone    Desired = ""        // nothing asked yet (or followed from sky at rest)
	DesiredUp      Desired = "up"      // launch or start
	DesiredStopped Desired = "stopped" // stop
	DesiredAbsent  Desired = "absent"  // destroy
)

// desiredBy is the intent each action records.
var desiredBy = map[Action]Desired{
	ActionLaunch: DesiredUp, ActionStart: DesiredUp, ActionStop: DesiredStopped, ActionDestroy: DesiredAbsent,
}

// Cluster is the record skygate keeps of one cluster.
type Cluster struct {
	Name   string        `json:"name"`
	Status ClusterStatus `json:"status"`
	// Desired is what the user last asked for, beside Status (what sky last said).
	Desired      Desired `json:"desired,omitempty"`
	Cloud        string  `json:"cloud,omitempty"`
	Region       string  `json:"region,omitempty"`
	InstanceType string  `json:"instance_type,omitempty"`
	IP           string  `json:"ip,omitempty"`
	// LaunchedAt is when the cluster last came up; zero when it is not up or never was.
	LaunchedAt time.Time `json:"launched_at,omitzero"`
	Error      string    `json:"error,omitempty"`
	// Operation is the action whose `sky` run is in flight, empty when none is.
	Operation Action `json:"operation,omitempty"`
	// OperationID numbers operations so that the outcome of a superseded run (a launch
	// cancelled by a destroy) can be told apart from the current one and ignored.
	OperationID uint64 `json:"operation_id,omitempty"`
	// Launch is the validated request of the last launch, kept so a retry or a recovery
	// knows what was asked for.
	Launch LaunchRequest `json:"launch,omitzero"`
	// UpdatedAt is when the record last changed.
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// NoCluster is the record of a name that has no cluster (never launched, or destroyed).
func NoCluster(name string) Cluster { return Cluster{Name: name, Status: StatusNoServer} }

// Exists reports whether the record describes a cluster (anything but no_server).
func (c Cluster) Exists() bool { return c.Status != StatusNoServer && c.Status != "" }

// OperationKey names an operation's supervised sky run: the cluster and the operation's
// number, unique over the life of a state dir because a record's OperationID never goes
// back, not even when the cluster is destroyed.
func (c Cluster) OperationKey() string {
	return fmt.Sprintf("%s.%d", c.Name, c.OperationID)
}

// clusterNameRE is SkyPilot's own cluster-name rule: CLUSTER_NAME_VALID_REGEX in
// sky/skylet/constants.py, enforced by check_cluster_name_is_valid in
// sky/utils/common_utils.py. skygate also caps the length at 63, the longest name every
// cloud accepts as a resource label.
var clusterNameRE = lazyRegexp(`^[a-zA-Z]([-_.a-zA-Z0-9]*[a-zA-Z0-9])?$`)

// validClusterName is clusterNameRE.MatchString as a scan of bytes: every status request
// checks its name, and the regular expression was a visible share of that route's cost.
// FuzzValidClusterName holds the two equal.
func validClusterName(name string) bool {
	if name == "" || !isASCIILetter(name[0]) {
		return false
	}
	for i := 1; i < len(name); i++ {
		c := name[i]
		if !isASCIILetter(c) && !('0' <= c && c <= '9') && (c != '-' && c != '_' && c != '.' || i == len(name)-1) {
			return false
		}
	}
	return true
}

func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// ValidateClusterName checks a cluster name; its error is KindInvalid keyed by key.
func ValidateClusterName(key, name string) error {
	if len(name) > 63 || !validClusterName(name) {
		return Errorf(KindInvalid, key, "cluster name %q is invalid: it must match %s (letters, digits, '-', '_' and '.', starting with a letter and ending with a letter or digit) and be at most 63 characters", truncate(name, 64), clusterNameRE())
	}
	return nil
}

// LaunchRequest is what a client may ask of a launch; empty fields mean "auto".
type LaunchRequest struct {
	Cloud        string `json:"cloud,omitempty"`
	Region       string `json:"region,omitempty"`
	InstanceType string `json:"instance_type,omitempty"`
}
