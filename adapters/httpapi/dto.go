package httpapi

import (
	"time"

	"github.com/skygate/skygate/app"
	"github.com/skygate/skygate/core"
)

// LaunchBody is the optional body of POST /cluster/launch; an absent or null body, and
// absent or null fields, mean auto.
type LaunchBody struct {
	_            struct{} `nullable:"true"`
	Cloud        *string  `json:"cloud,omitempty" nullable:"true" maxLength:"64" doc:"SkyPilot cloud name in lower case, e.g. aws, gcp (null = auto)." example:"aws"`
	Region       *string  `json:"region,omitempty" nullable:"true" maxLength:"64" doc:"Region, e.g. us-east-1 (null = auto)." example:"us-east-1"`
	InstanceType *string  `json:"instance_type,omitempty" nullable:"true" maxLength:"64" doc:"Instance type, e.g. m5.xlarge (null = auto)." example:"m5.xlarge"`
}

// NoBody is the body of stop, start and destroy, which take no options: none, null or
// {}. A field is refused as unknown rather than ignored.
type NoBody struct {
	_ struct{} `nullable:"true"`
}

func (b *LaunchBody) request() core.LaunchRequest {
	if b == nil {
		return core.LaunchRequest{}
	}
	deref := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	return core.LaunchRequest{Cloud: deref(b.Cloud), Region: deref(b.Region), InstanceType: deref(b.InstanceType)}
}

// AcceptedResult answers a lifecycle request that was taken on (202).
type AcceptedResult struct {
	Message     string `json:"message" example:"Launching cluster skygate"`
	ClusterName string `json:"cluster_name" example:"skygate"`
}

// StatusResult is the cluster's state.
type StatusResult struct {
	Status     string  `json:"status" enum:"no_server,provisioning,running,stopping,stopped,starting,destroying,error"`
	Name       *string `json:"name" doc:"Cluster name (null if no_server)."`
	Cloud      *string `json:"cloud" doc:"Cloud provider."`
	Region     *string `json:"region"`
	IP         *string `json:"ip" doc:"Head node IP (null until running)."`
	LaunchedAt *int64  `json:"launched_at" doc:"Unix timestamp (seconds) of when the cluster came up."`
	Error      *string `json:"error" doc:"Error message if status is error."`
}

func statusResult(c core.Cluster) StatusResult {
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	r := StatusResult{Status: string(c.Status), Name: opt(c.Name), Cloud: opt(c.Cloud), Region: opt(c.Region), IP: opt(c.IP), Error: opt(c.Error)}
	if !c.Exists() {
		// The contract: name is null at no_server.
		r.Status, r.Name = string(core.StatusNoServer), nil
	}
	if !c.LaunchedAt.IsZero() {
		ts := c.LaunchedAt.Unix()
		r.LaunchedAt = &ts
	}
	return r
}

// ClusterRecord is one cluster in the fleet listing: the status result with its name.
type ClusterRecord struct {
	Name       string  `json:"name" doc:"Cluster name."`
	Default    bool    `json:"default" doc:"Whether this is the default cluster, the one of the /cluster/* routes."`
	Status     string  `json:"status"`
	Cloud      *string `json:"cloud" doc:"Cloud provider."`
	Region     *string `json:"region"`
	IP         *string `json:"ip" doc:"Head node IP (null until running)."`
	LaunchedAt *int64  `json:"launched_at" doc:"Unix timestamp (seconds) of when the cluster came up."`
	Error      *string `json:"error" doc:"Error message when an operation failed."`
}

func clusterRecord(v app.ClusterView) ClusterRecord {
	r := statusResult(v.Cluster)
	return ClusterRecord{Name: v.Name, Default: v.Default, Status: r.Status, Cloud: r.Cloud, Region: r.Region, IP: r.IP, LaunchedAt: r.LaunchedAt, Error: r.Error}
}

// CheckResult is the SkyPilot installation and cloud access.
type CheckResult struct {
	SkyInstalled   bool              `json:"sky_installed"`
	SkyVersion     *string           `json:"sky_version" example:"0.10.3"`
	EnabledClouds  []string          `json:"enabled_clouds" example:"[\"aws\",\"gcp\"]"`
	DisabledClouds map[string]string `json:"disabled_clouds" doc:"Cloud to the reason it is disabled."`
}

func checkResult(info app.CheckInfo) CheckResult {
	r := CheckResult{SkyInstalled: info.SkyInstalled, EnabledClouds: info.Enabled, DisabledClouds: info.Disabled}
	if info.Version.Known() {
		v := info.Version.String()
		r.SkyVersion = &v
	}
	if r.EnabledClouds == nil {
		r.EnabledClouds = []string{}
	}
	if r.DisabledClouds == nil {
		r.DisabledClouds = map[string]string{}
	}
	return r
}

// HealthResult answers GET /healthz.
type HealthResult struct {
	Status string `json:"status" enum:"ok"`
}

// The event stream's data, one type per event name.

// ProgressEventData is one line of sky output.
type ProgressEventData struct {
	Timestamp string `json:"timestamp" format:"date-time"`
	Type      string `json:"type" enum:"progress"`
	Message   string `json:"message"`
}

// CompleteEventData ends an operation that reached its goal.
type CompleteEventData struct {
	Timestamp string `json:"timestamp" format:"date-time"`
	Type      string `json:"type" enum:"complete"`
	Message   string `json:"message"`
}

// ErrorEventData ends an operation that failed, or reports a failure.
type ErrorEventData struct {
	Timestamp string `json:"timestamp" format:"date-time"`
	Type      string `json:"type" enum:"error"`
	Message   string `json:"message"`
}

// StatusEventData announces a status change.
type StatusEventData struct {
	Timestamp string `json:"timestamp" format:"date-time"`
	Type      string `json:"type" enum:"status"`
	Message   string `json:"message"`
	Status    string `json:"status" enum:"no_server,provisioning,running,stopping,stopped,starting,destroying,error"`
}

// The fleet streams' data: the same, with the cluster each event is about.

// FleetProgressEventData is one line of a cluster's sky output.
type FleetProgressEventData struct {
	ProgressEventData
	Cluster string `json:"cluster"`
}

// FleetCompleteEventData ends a cluster's operation that reached its goal.
type FleetCompleteEventData struct {
	CompleteEventData
	Cluster string `json:"cluster"`
}

// FleetErrorEventData ends a cluster's operation that failed, or reports a failure.
type FleetErrorEventData struct {
	ErrorEventData
	Cluster string `json:"cluster"`
}

// FleetStatusEventData announces a cluster's status change.
type FleetStatusEventData struct {
	StatusEventData
	Cluster string `json:"cluster"`
}

// fleetEventData is the data of ev on a fleet stream.
func fleetEventData(ev core.Event) any {
	switch d := eventData(ev).(type) {
	case CompleteEventData:
		return FleetCompleteEventData{d, ev.Cluster}
	case ErrorEventData:
		return FleetErrorEventData{d, ev.Cluster}
	case StatusEventData:
		return FleetStatusEventData{d, ev.Cluster}
	case ProgressEventData:
		return FleetProgressEventData{d, ev.Cluster}
	}
	return nil
}

func eventData(ev core.Event) any {
	ts := ev.Timestamp.UTC().Format(time.RFC3339Nano)
	switch ev.Type {
	case core.EventComplete:
		return CompleteEventData{Timestamp: ts, Type: string(ev.Type), Message: ev.Message}
	case core.EventError:
		return ErrorEventData{Timestamp: ts, Type: string(ev.Type), Message: ev.Message}
	case core.EventStatus:
		return StatusEventData{Timestamp: ts, Type: string(ev.Type), Message: ev.Message, Status: string(ev.Status)}
	}
	return ProgressEventData{Timestamp: ts, Type: string(core.EventProgress), Message: ev.Message}
}
