package core

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 2, 14, 12, 34, 0, 0, time.UTC)

// designTable is the design's transition table, written out cell by cell: the target
// status, or the error kind of a refusal.
var designTable = []struct {
	from   ClusterStatus
	action Action
	to     ClusterStatus
	kind   ErrorKind
}{
	{StatusNoServer, ActionLaunch, StatusProvisioning, 0},
	{StatusNoServer, ActionStop, "", KindNotFound},
	{StatusNoServer, ActionStart, "", KindNotFound},
	{StatusNoServer, ActionDestroy, "", KindNotFound},
	{StatusProvisioning, ActionLaunch, "", KindConflict},
	{StatusProvisioning, ActionStop, "", KindConflict},
	{StatusProvisioning, ActionStart, "", KindConflict},
	{StatusProvisioning, ActionDestroy, StatusDestroying, 0},
	{StatusRunning, ActionLaunch, "", KindConflict},
	{StatusRunning, ActionStop, StatusStopping, 0},
	{StatusRunning, ActionStart, "", KindConflict},
	{StatusRunning, ActionDestroy, StatusDestroying, 0},
	{StatusStopping, ActionLaunch, "", KindConflict},
	{StatusStopping, ActionStop, "", KindConflict},
	{StatusStopping, ActionStart, "", KindConflict},
	{StatusStopping, ActionDestroy, StatusDestroying, 0},
	{StatusStopped, ActionLaunch, "", KindConflict},
	{StatusStopped, ActionStop, "", KindConflict},
	{StatusStopped, ActionStart, StatusStarting, 0},
	{StatusStopped, ActionDestroy, StatusDestroying, 0},
	{StatusStarting, ActionLaunch, "", KindConflict},
	{StatusStarting, ActionStop, "", KindConflict},
	{StatusStarting, ActionStart, "", KindConflict},
	{StatusStarting, ActionDestroy, StatusDestroying, 0},
	{StatusDestroying, ActionLaunch, "", KindConflict},
	{StatusDestroying, ActionStop, "", KindConflict},
	{StatusDestroying, ActionStart, "", KindConflict},
	{StatusDestroying, ActionDestroy, "", KindConflict},
	{StatusError, ActionLaunch, StatusProvisioning, 0},
	{StatusError, ActionStop, "", KindConflict},
	{StatusError, ActionStart, "", KindConflict},
	{StatusError, ActionDestroy, StatusDestroying, 0},
}

func TestDecideEveryCell(t *testing.T) {
	if got, want := len(designTable), len(AllStatuses())*len(AllActions()); got != want {
		t.Fatalf("table has %d cells, want %d", got, want)
	}
	for _, tc := range designTable {
		t.Run(string(tc.from)+"/"+string(tc.action), func(t *testing.T) {
			rec := Cluster{Name: "c1", Status: tc.from, OperationID: 7, Error: "old"}
			d, err := Decide(rec, Request{Action: tc.action}, t0)
			if tc.kind != 0 {
				de, ok := AsError(err)
				if !ok || de.Kind != tc.kind || de.Key != KeyCluster {
					t.Fatalf("err = %v, want kind %v on %q", err, tc.kind, KeyCluster)
				}
				if tc.kind == KindConflict && !strings.Contains(de.Message, string(tc.from)) {
					t.Errorf("conflict message %q does not name the blocking status %s", de.Message, tc.from)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			c := d.Cluster
			if c.Status != tc.to || c.Operation != tc.action || c.OperationID != 8 || c.Error != "" || c.Name != "c1" {
				t.Fatalf("record = %+v", c)
			}
			if len(d.Events) != 1 || d.Events[0].Type != EventStatus || d.Events[0].Status != tc.to || d.Events[0].OperationID != 8 {
				t.Fatalf("events = %+v", d.Events)
			}
			if d.Run != tc.action || c.Desired != desiredBy[tc.action] || c.Desired == DesiredNone {
				t.Errorf("run = %q desired = %q", d.Run, c.Desired)
			}
			if d.Cancels != tc.from.InFlight() {
				t.Errorf("Cancels = %v, want %v", d.Cancels, tc.from.InFlight())
			}
		})
	}
}

func TestDecideLaunchTakesRequest(t *testing.T) {
	rec := Cluster{Name: "c1", Status: StatusError, IP: "1.2.3.4", LaunchedAt: t0, Error: "boom"}
	req := Request{Action: ActionLaunch, Launch: LaunchRequest{Cloud: "aws", Region: "us-east-1", InstanceType: "m5.xlarge"}}
	d, err := Decide(rec, req, t0)
	if err != nil {
		t.Fatal(err)
	}
	c := d.Cluster
	if c.Name != "c1" || c.Cloud != "aws" || c.Region != "us-east-1" || c.InstanceType != "m5.xlarge" || c.IP != "" || !c.LaunchedAt.IsZero() || c.Error != "" || c.Launch != req.Launch {
		t.Fatalf("record = %+v", c)
	}
}

func TestDecideZeroRecordIsNoServer(t *testing.T) {
	_, err := Decide(Cluster{}, Request{Action: ActionStop}, t0)
	if de, ok := AsError(err); !ok || de.Kind != KindNotFound {
		t.Fatalf("err = %v", err)
	}
}

func found(s SkyStatus) *SkyCluster {
	return &SkyCluster{Found: true, Status: s, Cloud: "aws", Region: "us-east-1"}
}

func TestComplete(t *testing.T) {
	absent := &SkyCluster{}
	cases := []struct {
		name      string
		from      ClusterStatus
		op        Action
		out       Outcome
		want      ClusterStatus
		verdict   EventType
		wantError string // substring of the record's error
	}{
		{"launch ok", StatusProvisioning, ActionLaunch, Outcome{Observed: found(SkyUp), IP: "3.3.3.3"}, StatusRunning, EventComplete, ""},
		{"launch ok, status unreadable", StatusProvisioning, ActionLaunch, Outcome{IP: "3.3.3.3"}, StatusRunning, EventComplete, ""},
		{"launch failed", StatusProvisioning, ActionLaunch, Outcome{RunFailed: true, Observed: absent, Message: "quota exceeded"}, StatusError, EventError, "quota exceeded"},
		{"launch failed, cluster INIT", StatusProvisioning, ActionLaunch, Outcome{RunFailed: true, Observed: found(SkyInit), Message: "setup failed"}, StatusError, EventError, "setup failed"},
		{"launch cut off, absent", StatusProvisioning, ActionLaunch, Outcome{Observed: absent}, StatusError, EventError, "Failed to launch"},
		{"stop ok", StatusStopping, ActionStop, Outcome{Observed: found(SkyStopped)}, StatusStopped, EventComplete, ""},
		{"stop unsupported", StatusStopping, ActionStop, Outcome{Observed: found(SkyUp), Message: "Stopping is currently not supported for Kubernetes."}, StatusRunning, EventError, "not supported for Kubernetes"},
		{"stop, status unknown", StatusStopping, ActionStop, Outcome{Message: "boom"}, StatusError, EventError, "boom"},
		{"stop, cluster gone", StatusStopping, ActionStop, Outcome{Observed: absent}, StatusNoServer, EventError, ""},
		{"start ok", StatusStarting, ActionStart, Outcome{Observed: found(SkyUp), IP: "4.4.4.4"}, StatusRunning, EventComplete, ""},
		{"start failed, still stopped", StatusStarting, ActionStart, Outcome{RunFailed: true, Observed: found(SkyStopped), Message: "capacity"}, StatusStopped, EventError, "Failed to start: capacity"},
		{"start, INIT", StatusStarting, ActionStart, Outcome{Observed: found(SkyInit)}, StatusError, EventError, "Failed to start"},
		{"destroy ok", StatusDestroying, ActionDestroy, Outcome{Observed: absent}, StatusNoServer, EventComplete, ""},
		{"destroy failed, still up", StatusDestroying, ActionDestroy, Outcome{Observed: found(SkyUp), Message: "Terminating failed"}, StatusRunning, EventError, "Failed to destroy: Terminating failed"},
		{"destroy failed, unknown", StatusDestroying, ActionDestroy, Outcome{}, StatusError, EventError, "could not report"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := Cluster{Name: "c1", Status: tc.from, Operation: tc.op, OperationID: 3, Cloud: "gcp", IP: "9.9.9.9"}
			if tc.op != ActionLaunch {
				rec.LaunchedAt = t0.Add(-time.Hour)
			}
			tc.out.OperationID = 3
			d := Complete(rec, tc.out, t0)
			c := d.Cluster
			if c.Status != tc.want || c.Operation != "" {
				t.Fatalf("status = %s op %q, want %s", c.Status, c.Operation, tc.want)
			}
			if len(d.Events) != 2 || d.Events[0].Type != EventStatus || d.Events[0].Status != tc.want || d.Events[1].Type != tc.verdict {
				t.Fatalf("events = %+v", d.Events)
			}
			if tc.verdict == EventError && tc.out.Message != "" && !strings.Contains(d.Events[1].Message, tc.out.Message) {
				t.Errorf("error event %q lacks %q", d.Events[1].Message, tc.out.Message)
			}
			if !strings.Contains(c.Error, tc.wantError) || (tc.wantError == "" && c.Error != "") {
				t.Errorf("error = %q, want %q", c.Error, tc.wantError)
			}
			switch tc.want {
			case StatusRunning:
				if c.LaunchedAt.IsZero() || c.IP == "" {
					t.Errorf("running record lacks ip or launched_at: %+v", c)
				}
				if tc.out.IP != "" && c.IP != tc.out.IP {
					t.Errorf("ip = %q, want %q", c.IP, tc.out.IP)
				}
				if tc.out.Observed != nil && c.Cloud != "aws" {
					t.Errorf("cloud = %q, want the observed aws", c.Cloud)
				}
			case StatusStopped:
				if c.IP != "" || !c.LaunchedAt.IsZero() {
					t.Errorf("stopped record keeps ip %q or launched_at %v", c.IP, c.LaunchedAt)
				}
			case StatusError:
				if c.IP != "" {
					t.Errorf("error record keeps ip %q", c.IP)
				}
			case StatusNoServer:
				if c.Name != "c1" || c.Cloud != "" || c.Region != "" || c.IP != "" || c.OperationID != 3 {
					t.Errorf("no_server record = %+v", c)
				}
			}
		})
	}
}

func TestCompleteIgnoresStaleOutcome(t *testing.T) {
	rec := Cluster{Name: "c1", Status: StatusDestroying, Operation: ActionDestroy, OperationID: 5}
	d := Complete(rec, Outcome{OperationID: 4, RunFailed: true, Message: "cancelled"}, t0)
	if d.Cluster != rec || len(d.Events) != 0 {
		t.Fatalf("stale outcome changed the record: %+v %+v", d.Cluster, d.Events)
	}
	idle := Cluster{Name: "c1", Status: StatusRunning, OperationID: 5}
	if d := Complete(idle, Outcome{OperationID: 5}, t0); d.Cluster != idle || len(d.Events) != 0 {
		t.Fatalf("outcome with nothing in flight changed the record")
	}
}

func TestObserve(t *testing.T) {
	absent := SkyCluster{}
	cases := []struct {
		name    string
		rec     Cluster
		sc      SkyCluster
		want    ClusterStatus
		poll    bool
		nEvents int
	}{
		{"provisioning, UP", Cluster{Status: StatusProvisioning, Operation: ActionLaunch}, *found(SkyUp), StatusRunning, false, 2},
		{"provisioning, INIT polls", Cluster{Status: StatusProvisioning, Operation: ActionLaunch}, *found(SkyInit), StatusProvisioning, true, 0},
		{"provisioning, absent is error", Cluster{Status: StatusProvisioning, Operation: ActionLaunch}, absent, StatusError, false, 2},
		{"provisioning, STOPPED", Cluster{Status: StatusProvisioning, Operation: ActionLaunch}, *found(SkyStopped), StatusStopped, false, 2},
		{"stopping, STOPPED", Cluster{Status: StatusStopping, Operation: ActionStop}, *found(SkyStopped), StatusStopped, false, 2},
		{"starting, UP", Cluster{Status: StatusStarting, Operation: ActionStart}, *found(SkyUp), StatusRunning, false, 2},
		{"destroying, absent", Cluster{Status: StatusDestroying, Operation: ActionDestroy}, absent, StatusNoServer, false, 2},
		{"destroying, no operation recorded", Cluster{Status: StatusDestroying}, absent, StatusNoServer, false, 2},
		{"running, unchanged", Cluster{Status: StatusRunning, IP: "1.1.1.1"}, *found(SkyUp), StatusRunning, false, 0},
		{"running, autostopped", Cluster{Status: StatusRunning, IP: "1.1.1.1"}, *found(SkyStopped), StatusStopped, false, 1},
		{"running, downed by hand", Cluster{Status: StatusRunning}, absent, StatusNoServer, false, 1},
		{"running, autostopping ignored", Cluster{Status: StatusRunning}, *found(SkyAutostopping), StatusRunning, false, 0},
		{"stopped, started by hand", Cluster{Status: StatusStopped}, *found(SkyUp), StatusRunning, false, 1},
		{"error, absent stays error", Cluster{Status: StatusError, Error: "quota"}, absent, StatusError, false, 0},
		{"error, UP recovers", Cluster{Status: StatusError, Error: "quota"}, *found(SkyUp), StatusRunning, false, 1},
		{"no_server adopts UP", NoCluster("c1"), *found(SkyUp), StatusRunning, false, 1},
		{"no_server adopts STOPPED", NoCluster("c1"), *found(SkyStopped), StatusStopped, false, 1},
		{"no_server ignores INIT", NoCluster("c1"), *found(SkyInit), StatusNoServer, false, 0},
		{"no_server, absent", NoCluster("c1"), absent, StatusNoServer, false, 0},
		{"error after destroy, absent is gone", Cluster{Status: StatusError, Desired: DesiredAbsent, Error: "x"}, absent, StatusNoServer, false, 1},
		{"destroying, UP carries on", Cluster{Status: StatusDestroying, Desired: DesiredAbsent, Operation: ActionDestroy, OperationID: 3}, *found(SkyUp), StatusDestroying, false, 1},
		{"destroying, STOPPED carries on", Cluster{Status: StatusDestroying, Desired: DesiredAbsent, Operation: ActionDestroy, OperationID: 3}, *found(SkyStopped), StatusDestroying, false, 1},
		{"stopping, UP carries on", Cluster{Status: StatusStopping, Desired: DesiredStopped, Operation: ActionStop, OperationID: 3}, *found(SkyUp), StatusStopping, false, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.rec.Name = "c1"
			d, poll := Observe(tc.rec, tc.sc, "2.2.2.2", t0)
			if tc.rec.Status.InFlight() && d.Cluster.Status == tc.rec.Status && !poll {
				// Carrying on: a new operation whose run the caller starts.
				if d.Run == "" || d.Cluster.OperationID != tc.rec.OperationID+1 || d.Cluster.Operation != d.Run {
					t.Fatalf("carry-on decision = %+v", d)
				}
			}
			if d.Cluster.Status != tc.want || poll != tc.poll || len(d.Events) != tc.nEvents {
				t.Fatalf("got %s poll=%v events=%+v, want %s poll=%v %d events", d.Cluster.Status, poll, d.Events, tc.want, tc.poll, tc.nEvents)
			}
			if d.Cluster.Status == StatusRunning && tc.rec.Status != StatusRunning && d.Cluster.IP != "2.2.2.2" {
				t.Errorf("ip = %q", d.Cluster.IP)
			}
			if d.Cluster.Name != "c1" {
				t.Errorf("name = %q", d.Cluster.Name)
			}
			if d.Cluster.Status == StatusError && d.Cluster.Error == "" {
				t.Errorf("error record without message")
			}
		})
	}
}

func TestSkyStatusMapping(t *testing.T) {
	cases := map[SkyStatus]ClusterStatus{
		SkyUp: StatusRunning, SkyStopped: StatusStopped, SkyInit: StatusProvisioning,
		SkyPending: StatusProvisioning, SkyAutostopping: StatusStopping, "WEIRD": StatusError,
	}
	for in, want := range cases {
		if got := in.ClusterStatus(); got != want {
			t.Errorf("%s → %s, want %s", in, got, want)
		}
	}
}
