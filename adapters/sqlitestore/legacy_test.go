package sqlitestore_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skygate/skygate/adapters/sqlitestore"
	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
	"github.com/skygate/skygate/ports/porttest"
)

// legacyDir copies a state dir the earlier skygate wrote (../filestore/testdata) into a
// new dir, with the lock file that store left, and returns the new dir.
func legacyDir(t *testing.T, fixture string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"state.json", "events.jsonl"} {
		data, err := os.ReadFile(filepath.Join("../filestore/testdata", fixture, name))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, dir, name, string(data))
	}
	writeFile(t, dir, "lock", "")
	return dir
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func wantGone(t *testing.T, paths ...string) {
	t.Helper()
	for _, path := range paths {
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("%s is still there (%v)", path, err)
		}
	}
}

// wantImported checks the store holds the at-rest fixture's record and events (and
// perhaps events appended since).
func wantImported(t *testing.T, s ports.Store) {
	t.Helper()
	c, err := s.Load(ctx, "legacy-one")
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "legacy-one" || c.Status != core.StatusRunning || c.Desired != core.DesiredUp || c.IP != "3.91.73.3" ||
		c.OperationID != 3 || !c.LaunchedAt.Equal(time.Date(2026, 12, 1, 22, 14, 20, 931335966, time.UTC)) {
		t.Fatalf("imported record = %+v", c)
	}
	if all, _ := s.Clusters(ctx); len(all) != 1 {
		t.Fatalf("Clusters = %+v, want the imported one", all)
	}
	events, err := s.Events(ctx, ports.EventFilter{Cluster: "legacy-one"})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) < 32 || !slices.Equal(porttest.IDs(events[:32]), span(1, 32)) {
		t.Fatalf("imported events %v, want 1..32 first", porttest.IDs(events))
	}
	if e := events[0]; e.Type != core.EventStatus || e.Status != core.StatusProvisioning || e.OperationID != 1 ||
		e.Message != "launch requested: cluster legacy-one is provisioning" ||
		!e.Timestamp.Equal(time.Date(2026, 12, 1, 22, 14, 20, 818444440, time.UTC)) {
		t.Fatalf("first imported event = %+v", e)
	}
	// A browser tab that saw event 30 before the upgrade resumes after it.
	if got := eventIDs(t, s, ports.EventFilter{Cluster: "legacy-one", After: 30}); len(got) < 2 || !slices.Equal(got[:2], span(31, 32)) {
		t.Fatalf("events after 30 = %v, want 31, 32 first", got)
	}
}

func TestImportsTheEarlierStoreOnce(t *testing.T) {
	dir := legacyDir(t, "at-rest")
	state, log := readFile(t, filepath.Join(dir, "state.json")), readFile(t, filepath.Join(dir, "events.jsonl"))
	s := open(t, dir, sqlitestore.Options{LegacyCluster: "configured"})
	wantImported(t, s)
	if last, _ := s.LastEventID(ctx); last != 32 {
		t.Fatalf("LastEventID = %d, want 32", last)
	}
	if got := porttest.IDs(appendEvents(t, s, "legacy-one", 1)); !slices.Equal(got, []uint64{33}) {
		t.Fatalf("Append after the import numbered %v, want [33]", got)
	}
	wantGone(t, filepath.Join(dir, "state.json"), filepath.Join(dir, "events.jsonl"))
	if readFile(t, filepath.Join(dir, "state.json.imported")) != state || readFile(t, filepath.Join(dir, "events.jsonl.imported")) != log {
		t.Fatal("the renamed files differ from the earlier store's")
	}
	s.Close()

	s = openClosing(t, dir, sqlitestore.Options{})
	wantImported(t, s)
	if got := porttest.IDs(appendEvents(t, s, "legacy-one", 1)); !slices.Equal(got, []uint64{34}) {
		t.Fatalf("Append after reopen numbered %v, want [34]", got)
	}
}

func TestImportOfALaunchCutOff(t *testing.T) {
	s := openClosing(t, legacyDir(t, "in-flight"), sqlitestore.Options{})
	c, _ := s.Load(ctx, "skygate")
	if c.Status != core.StatusProvisioning || c.Operation != core.ActionLaunch || c.OperationID != 1 || c.Desired != core.DesiredUp {
		t.Fatalf("imported record = %+v, want provisioning, launch 1, desired up", c)
	}
	if got := eventIDs(t, s, ports.EventFilter{Cluster: "skygate", OperationID: 1}); !slices.Equal(got, span(1, 3)) {
		t.Fatalf("events of the launch %v, want 1..3", got)
	}
}

// TestImportFinishedAfterACrash covers a crash after the import committed and before the
// old files were renamed: they are renamed, not imported again.
func TestImportFinishedAfterACrash(t *testing.T) {
	dir := legacyDir(t, "at-rest")
	open(t, dir, sqlitestore.Options{}).Close()
	for _, name := range []string{"state.json", "events.jsonl"} {
		writeFile(t, dir, name, readFile(t, filepath.Join(dir, name+".imported")))
	}
	s := openClosing(t, dir, sqlitestore.Options{})
	wantImported(t, s)
	wantGone(t, filepath.Join(dir, "state.json"), filepath.Join(dir, "events.jsonl"))
}

func TestImportWithIDsIssuedBeyondTheLogAndALongLog(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "state.json", `{"cluster":{"status":"no_server","operation_id":6},"last_event_id":40}`)
	var log strings.Builder
	for id := 1; id <= 25; id++ {
		fmt.Fprintf(&log, `{"id":%d,"type":"progress","message":"m"}`+"\n", id)
	}
	writeFile(t, dir, "events.jsonl", log.String())
	opts := sqlitestore.Options{HistoryLimit: 10, LegacyCluster: "configured"}
	s := open(t, dir, opts)
	c, _ := s.Load(ctx, "configured")
	if c.Status != core.StatusNoServer || c.OperationID != 6 || c.Desired != core.DesiredAbsent {
		t.Fatalf("imported record = %+v", c)
	}
	if got := eventIDs(t, s, ports.EventFilter{}); !slices.Equal(got, span(16, 25)) {
		t.Fatalf("kept events %v, want the newest 10: 16..25", got)
	}
	s.Close()
	s = openClosing(t, dir, opts)
	if last, _ := s.LastEventID(ctx); last != 40 {
		t.Fatalf("LastEventID after reopen = %d, want the earlier store's 40", last)
	}
	if got := porttest.IDs(appendEvents(t, s, "configured", 1)); !slices.Equal(got, []uint64{41}) {
		t.Fatalf("Append numbered %v, want [41]", got)
	}
}

func TestCorruptEarlierStateIsReportedAndKept(t *testing.T) {
	dir := legacyDir(t, "at-rest")
	path := filepath.Join(dir, "state.json")
	writeFile(t, dir, "state.json", `{"cluster": {"status": "running"`)
	_, err := sqlitestore.Open(dir, sqlitestore.Options{})
	if err == nil || !strings.Contains(err.Error(), path+" is corrupt") {
		t.Fatalf("Open = %v, want an error calling %s corrupt", err, path)
	}
	if readFile(t, path) != `{"cluster": {"status": "running"` {
		t.Fatal("the corrupt state.json was changed")
	}
	// Repaired, it is imported.
	data, err := os.ReadFile("../filestore/testdata/at-rest/state.json")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "state.json", string(data))
	wantImported(t, openClosing(t, dir, sqlitestore.Options{}))
}

func TestEarlierStateBesideADatabaseInUseIsRefused(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, sqlitestore.Options{})
	appendEvents(t, s, "a", 1)
	s.Close()
	writeFile(t, dir, "events.jsonl", `{"id":1,"type":"progress","message":"m"}`+"\n")
	_, err := sqlitestore.Open(dir, sqlitestore.Options{})
	if err == nil || !strings.Contains(err.Error(), "cannot be imported") {
		t.Fatalf("Open = %v, want a refusal to import", err)
	}
	if readFile(t, filepath.Join(dir, "events.jsonl")) == "" {
		t.Fatal("events.jsonl was changed")
	}
}
