package filestore_test

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skygate/skygate/adapters/filestore"
	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports/porttest"
)

func span(from, to uint64) []uint64 {
	var out []uint64
	for id := from; id <= to; id++ {
		out = append(out, id)
	}
	return out
}

// writeDir writes files (name → content) into a new dir.
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// snapshot returns the name and content of every file in dir.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(data)
	}
	return out
}

// read reads dir and checks that reading left it as it was.
func read(t *testing.T, dir string) (filestore.State, bool, error) {
	t.Helper()
	before := snapshot(t, dir)
	state, found, err := filestore.Read(dir, "default-name")
	if after := snapshot(t, dir); !maps.Equal(before, after) {
		t.Fatalf("Read changed the state dir: %v, then %v", before, after)
	}
	return state, found, err
}

func mustRead(t *testing.T, dir string) filestore.State {
	t.Helper()
	state, found, err := read(t, dir)
	if err != nil || !found {
		t.Fatalf("Read = found %v, %v; want the state", found, err)
	}
	return state
}

// TestReadsAStateDirOfTheEarlierService reads files the earlier skygate wrote: a launch,
// a stop and a start of cluster legacy-one.
func TestReadsAStateDirOfTheEarlierService(t *testing.T) {
	state := mustRead(t, "testdata/at-rest")
	wantFiles := []string{"testdata/at-rest/state.json", "testdata/at-rest/events.jsonl"}
	if !slices.Equal(state.Files, wantFiles) {
		t.Errorf("Files = %v, want %v", state.Files, wantFiles)
	}
	c := state.Cluster
	if c == nil {
		t.Fatal("no record")
	}
	launched := time.Date(2026, 12, 1, 22, 14, 20, 931335966, time.UTC)
	if c.Name != "legacy-one" || c.Status != core.StatusRunning || c.Desired != core.DesiredUp || c.Cloud != "aws" ||
		c.Region != "us-east-1" || c.IP != "3.91.73.3" || !c.LaunchedAt.Equal(launched) || c.OperationID != 3 ||
		c.Launch != (core.LaunchRequest{Cloud: "aws", Region: "us-east-1"}) {
		t.Errorf("record = %+v", *c)
	}
	if !slices.Equal(porttest.IDs(state.Events), span(1, 32)) || state.LastEventID != 32 {
		t.Fatalf("events %v, last ID %d; want 1..32, 32", porttest.IDs(state.Events), state.LastEventID)
	}
	for _, e := range state.Events {
		if e.Cluster != "legacy-one" {
			t.Fatalf("event %d names cluster %q, want legacy-one", e.ID, e.Cluster)
		}
	}
	if e := state.Events[31]; e.Type != core.EventComplete || e.OperationID != 3 || e.Message != "Cluster is UP" {
		t.Errorf("last event = %+v", e)
	}
}

// TestReadsALaunchCutOff reads files the earlier skygate left when it was killed while
// provisioning: the record is in flight, and its intent is the launch's.
func TestReadsALaunchCutOff(t *testing.T) {
	state := mustRead(t, "testdata/in-flight")
	c := state.Cluster
	if c == nil || c.Name != "skygate" || c.Status != core.StatusProvisioning || c.Operation != core.ActionLaunch ||
		c.OperationID != 1 || c.Desired != core.DesiredUp {
		t.Fatalf("record = %+v", c)
	}
	if !slices.Equal(porttest.IDs(state.Events), span(1, 3)) || state.LastEventID != 3 {
		t.Fatalf("events %v, last ID %d; want 1..3, 3", porttest.IDs(state.Events), state.LastEventID)
	}
}

func TestIntentOfAnOldRecord(t *testing.T) {
	for _, tc := range []struct {
		record string
		want   core.Desired
	}{
		{`{"status":"stopping","operation":"stop"}`, core.DesiredStopped},
		{`{"status":"starting","operation":"start"}`, core.DesiredUp},
		{`{"status":"destroying","operation":"destroy"}`, core.DesiredAbsent},
		{`{"status":"stopped"}`, core.DesiredStopped},
		{`{"status":"no_server","operation_id":4}`, core.DesiredAbsent},
		{`{"status":"error","error":"launch failed"}`, core.DesiredNone},
	} {
		dir := writeDir(t, map[string]string{"state.json": `{"cluster":` + tc.record + `}`})
		if c := mustRead(t, dir).Cluster; c.Desired != tc.want {
			t.Errorf("record %s read with intent %q, want %q", tc.record, c.Desired, tc.want)
		}
	}
}

func TestNoFilesIsNotFound(t *testing.T) {
	dir := writeDir(t, map[string]string{"lock": ""})
	if _, found, err := read(t, dir); found || err != nil {
		t.Fatalf("Read of a dir without the old files = found %v, %v; want not found", found, err)
	}
}

func TestRecordWithoutNameTakesTheDefault(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"state.json":   `{"cluster":{"status":"no_server"},"last_event_id":9}`,
		"events.jsonl": `{"id":2,"type":"progress","message":"a"}` + "\n",
	})
	state := mustRead(t, dir)
	if state.Cluster.Name != "default-name" || state.Events[0].Cluster != "default-name" || state.LastEventID != 9 {
		t.Fatalf("Read = %+v", state)
	}
}

func TestLogWithoutStateFile(t *testing.T) {
	dir := writeDir(t, map[string]string{"events.jsonl": "{\"id\":1}\n{\"id\":2}\n"})
	state := mustRead(t, dir)
	if state.Cluster != nil || !slices.Equal(porttest.IDs(state.Events), span(1, 2)) || state.LastEventID != 2 ||
		state.Events[1].Cluster != "default-name" || !slices.Equal(state.Files, []string{filepath.Join(dir, "events.jsonl")}) {
		t.Fatalf("Read = %+v", state)
	}
}

func TestUpdateEventsMissingFromTheLogAreAdded(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"state.json": `{"cluster":{"name":"a","status":"running"},"last_event_id":4,"events":[` +
			`{"id":2,"type":"progress","message":"already logged"},` +
			`{"id":3,"type":"status","message":"up","status":"running"},{"id":4,"type":"complete","message":"done"}]}`,
		"events.jsonl": "{\"id\":1}\n{\"id\":2,\"message\":\"already logged\"}\n",
	})
	state := mustRead(t, dir)
	if !slices.Equal(porttest.IDs(state.Events), span(1, 4)) || state.Events[2].Status != core.StatusRunning {
		t.Fatalf("events = %+v, want 1..4", state.Events)
	}
}

func TestTornLastLogLineIsLeftOut(t *testing.T) {
	dir := writeDir(t, map[string]string{"events.jsonl": "{\"id\":1}\n{\"id\":2}\n{\"id\":3,\"type\":\"progr"})
	state := mustRead(t, dir)
	if !slices.Equal(porttest.IDs(state.Events), span(1, 2)) || state.LastEventID != 2 {
		t.Fatalf("events %v, last ID %d; want 1..2, 2", porttest.IDs(state.Events), state.LastEventID)
	}
}

func TestCorruptFileIsReported(t *testing.T) {
	for _, tc := range []struct {
		name, file, content, wantInError string
	}{
		{"state: bad JSON", "state.json", `{"cluster": {"status": "running"`, "corrupt"},
		{"state: empty", "state.json", ``, "corrupt"},
		{"state: unknown status", "state.json", `{"cluster": {"status": "exploded"}}`, "exploded"},
		{"log: bad JSON", "events.jsonl", "{\"id\":1}\nnot json\n{\"id\":3}\n", "line 2"},
		{"log: blank line", "events.jsonl", "{\"id\":1}\n\n{\"id\":3}\n", "line 2"},
		{"log: ID going back", "events.jsonl", "{\"id\":1}\n{\"id\":5}\n{\"id\":4}\n", "line 3"},
		{"log: bad last line with its newline", "events.jsonl", "{\"id\":1}\n{\"id\":\n", "line 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeDir(t, map[string]string{tc.file: tc.content})
			path := filepath.Join(dir, tc.file)
			_, _, err := read(t, dir)
			if err == nil || !strings.Contains(err.Error(), path+" is corrupt") || !strings.Contains(err.Error(), tc.wantInError) {
				t.Fatalf("Read = %v, want an error calling %s corrupt and naming %q", err, path, tc.wantInError)
			}
		})
	}
}

func TestUnreadableFileIsReported(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "state.json"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, _, err := filestore.Read(dir, "a"); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "state.json")) {
		t.Fatalf("Read with state.json a directory = %v, want an error naming it", err)
	}
}
