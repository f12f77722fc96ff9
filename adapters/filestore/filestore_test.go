//go:build unix

package filestore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skygate/skygate/adapters/filestore"
	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
	"github.com/skygate/skygate/ports/porttest"
)

func TestStoreContract(t *testing.T) {
	porttest.Store(t, func(t *testing.T) ports.Store {
		s, err := filestore.Open(t.TempDir(), filestore.Options{})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

func TestStoreDurableContract(t *testing.T) {
	porttest.StoreDurable(t, func(t *testing.T, dir string) (ports.Store, error) {
		return filestore.Open(dir, filestore.Options{})
	})
}

var ctx = context.Background()

func progress(n int) []core.Event {
	events := make([]core.Event, n)
	for i := range events {
		events[i] = core.ProgressEvent(time.Date(2025, 3, 1, 0, 0, i, 0, time.UTC), 1, fmt.Sprintf("line %d", i))
	}
	return events
}

func span(from, to uint64) []uint64 {
	var out []uint64
	for id := from; id <= to; id++ {
		out = append(out, id)
	}
	return out
}

func open(t *testing.T, dir string, opts filestore.Options) *filestore.Store {
	t.Helper()
	s, err := filestore.Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func appendEvents(t *testing.T, s *filestore.Store, n int) []core.Event {
	t.Helper()
	got, err := s.Append(ctx, progress(n)...)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return got
}

func wantEventIDs(t *testing.T, s *filestore.Store, want []uint64) {
	t.Helper()
	got, err := s.Events(ctx, 0)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	if !slices.Equal(porttest.IDs(got), want) {
		t.Fatalf("Events(0) IDs = %v, want %v", porttest.IDs(got), want)
	}
}

// logIDs returns the IDs on the lines of events.jsonl.
func logIDs(t *testing.T, dir string) []uint64 {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []uint64
	for line := range strings.Lines(string(data)) {
		var e core.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("events.jsonl line %q: %v", line, err)
		}
		out = append(out, e.ID)
	}
	return out
}

func TestFilesAreWrittenWithMode0600(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s := open(t, dir, filestore.Options{})
	if _, _, err := s.Update(ctx, func(c core.Cluster) (core.Cluster, []core.Event, error) {
		c.Name = "skygate"
		return c, progress(1), nil
	}); err != nil {
		t.Fatal(err)
	}
	appendEvents(t, s, 1)
	want := map[string]os.FileMode{"": 0o700 | os.ModeDir, "state.json": 0o600, "events.jsonl": 0o600, "lock": 0o600}
	for name, mode := range want {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode() != mode {
			t.Errorf("%s has mode %v, want %v", filepath.Join(dir, name), info.Mode(), mode)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"events.jsonl", "lock", "state.json"}; !slices.Equal(names, want) {
		t.Errorf("state dir holds %v, want %v (no temp file left)", names, want)
	}
}

func TestCorruptStateFileIsReportedAndKept(t *testing.T) {
	for _, tc := range []struct{ name, content string }{
		{"bad JSON", `{"cluster": {"status": "running"`},
		{"empty", ``},
		{"unknown status", `{"cluster": {"status": "exploded"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "state.json")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := filestore.Open(dir, filestore.Options{})
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "corrupt") {
				t.Fatalf("Open = %v, want an error calling %s corrupt", err, path)
			}
			if got, _ := os.ReadFile(path); string(got) != tc.content {
				t.Fatalf("state.json now holds %q, want it untouched: %q", got, tc.content)
			}
			// The failed Open released the lock: with the file repaired, Open works.
			if err := os.WriteFile(path, []byte(`{"cluster": {"status": "stopped"}}`), 0o600); err != nil {
				t.Fatal(err)
			}
			s := open(t, dir, filestore.Options{})
			if c, _ := s.Load(ctx); c.Status != core.StatusStopped {
				t.Fatalf("Load after repair = %+v, want status stopped", c)
			}
		})
	}
}

func TestTornLastLogLineIsDropped(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, filestore.Options{})
	appendEvents(t, s, 3)
	s.Close()
	logPath := filepath.Join(dir, "events.jsonl")
	f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"id":4,"type":"progr`); err != nil {
		t.Fatal(err)
	}
	f.Close()

	s = open(t, dir, filestore.Options{})
	wantEventIDs(t, s, span(1, 3))
	if got := porttest.IDs(appendEvents(t, s, 2)); !slices.Equal(got, span(4, 5)) {
		t.Fatalf("Append after a torn line numbered %v, want [4 5]", got)
	}
	if got := logIDs(t, dir); !slices.Equal(got, span(1, 5)) {
		t.Fatalf("events.jsonl holds IDs %v, want 1..5 on whole lines", got)
	}
}

func TestBadLogLineIsReported(t *testing.T) {
	for _, tc := range []struct {
		name, content, wantInError string
	}{
		{"bad JSON", "{\"id\":1}\nnot json\n{\"id\":3}\n", "line 2"},
		{"blank line", "{\"id\":1}\n\n{\"id\":3}\n", "line 2"},
		{"ID going back", "{\"id\":1}\n{\"id\":5}\n{\"id\":4}\n", "line 3"},
		{"bad last line with its newline", "{\"id\":1}\n{\"id\":\n", "line 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "events.jsonl")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := filestore.Open(dir, filestore.Options{})
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.wantInError) {
				t.Fatalf("Open = %v, want an error naming %s and %s", err, path, tc.wantInError)
			}
			if got, _ := os.ReadFile(path); string(got) != tc.content {
				t.Fatalf("events.jsonl now holds %q, want it untouched", got)
			}
		})
	}
}

func TestSecondOpenInTheSameProcessIsRefused(t *testing.T) {
	dir := t.TempDir()
	first := open(t, dir, filestore.Options{})
	_, err := filestore.Open(dir, filestore.Options{})
	want := "another skygate instance holds the state dir at " + dir
	if err == nil || err.Error() != want {
		t.Fatalf("second Open = %v, want %q", err, want)
	}
	first.Close()
	open(t, dir, filestore.Options{})
}

// openDirEnv makes the test binary, run by TestSecondProcessIsRefused, a child process
// that opens the state dir it names and reports the outcome on stdout and in its exit code.
const openDirEnv = "FILESTORE_TEST_OPEN_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(openDirEnv); dir != "" {
		s, err := filestore.Open(dir, filestore.Options{})
		if err != nil {
			fmt.Print(err)
			os.Exit(3)
		}
		s.Close()
		fmt.Print("opened")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestSecondProcessIsRefused(t *testing.T) {
	dir := t.TempDir()
	openInChild := func() (string, int) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), openDirEnv+"="+dir)
		var out bytes.Buffer
		cmd.Stdout = &out
		err := cmd.Run()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatalf("running the child: %v", err)
		}
		return out.String(), cmd.ProcessState.ExitCode()
	}

	first := open(t, dir, filestore.Options{})
	out, code := openInChild()
	want := "another skygate instance holds the state dir at " + dir
	if code != 3 || out != want {
		t.Fatalf("child Open while the dir is held: exit %d, %q; want exit 3, %q", code, out, want)
	}
	first.Close()
	if out, code := openInChild(); code != 0 || out != "opened" {
		t.Fatalf("child Open after Close: exit %d, %q; want exit 0, \"opened\"", code, out)
	}
}

func TestUnwritableDirIsReported(t *testing.T) {
	readOnly := filepath.Join(t.TempDir(), "read-only")
	if err := os.Mkdir(readOnly, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(readOnly, 0o700) })
	probe := filepath.Join(readOnly, "probe")
	rootBypass := os.WriteFile(probe, nil, 0o600) == nil
	os.Remove(probe)

	regularFile := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(regularFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	type unwritable struct{ name, dir, wantInError string }
	cases := []unwritable{
		{"dir under a regular file", filepath.Join(regularFile, "sub"), "cannot create state dir " + filepath.Join(regularFile, "sub")},
	}
	if !rootBypass { // root writes through mode bits, so a read-only dir proves nothing then
		cases = append(cases, unwritable{"read-only dir", readOnly, "state dir " + readOnly + " is not writable"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := filestore.Open(tc.dir, filestore.Options{})
			if err == nil || !strings.Contains(err.Error(), tc.wantInError) {
				t.Fatalf("Open = %v, want an error containing %q", err, tc.wantInError)
			}
		})
	}
}

func TestReopenKeepsRecordEventsAndIDs(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, filestore.Options{})
	launched := time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)
	rec, _, err := s.Update(ctx, func(c core.Cluster) (core.Cluster, []core.Event, error) {
		c.Name, c.Status, c.Cloud, c.IP, c.LaunchedAt, c.OperationID = "skygate", core.StatusRunning, "aws", "203.0.113.9", launched, 4
		return c, []core.Event{core.StatusEvent(launched, 4, core.StatusRunning, "up <&> running")}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	appendEvents(t, s, 2)
	s.Close()

	s = open(t, dir, filestore.Options{})
	got, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != rec.Name || got.Status != rec.Status || got.IP != rec.IP || !got.LaunchedAt.Equal(launched) || got.OperationID != 4 {
		t.Fatalf("Load after reopen = %+v, want %+v", got, rec)
	}
	events, err := s.Events(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(porttest.IDs(events), span(1, 3)) || events[0].Message != "up <&> running" || events[0].Status != core.StatusRunning {
		t.Fatalf("Events after reopen = %+v", events)
	}
	if got := porttest.IDs(appendEvents(t, s, 1)); !slices.Equal(got, []uint64{4}) {
		t.Fatalf("Append after reopen numbered %v, want [4]", got)
	}
}

// TestOpenAppendsUpdateEventsMissingFromTheLog covers a crash between the rename of
// state.json, which commits an Update, and the append of its events to the log.
func TestOpenAppendsUpdateEventsMissingFromTheLog(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, filestore.Options{})
	appendEvents(t, s, 2)
	s.Close()
	state := `{"cluster":{"status":"running"},"last_event_id":4,` +
		`"events":[{"id":2,"type":"progress","message":"already logged"},` +
		`{"id":3,"type":"status","message":"up","status":"running"},{"id":4,"type":"complete","message":"done"}]}`
	if err := os.WriteFile(filepath.Join(dir, "state.json"), []byte(state), 0o600); err != nil {
		t.Fatal(err)
	}

	s = open(t, dir, filestore.Options{})
	wantEventIDs(t, s, span(1, 4))
	if got := logIDs(t, dir); !slices.Equal(got, span(1, 4)) {
		t.Fatalf("events.jsonl holds IDs %v, want 1..4", got)
	}
	if got := porttest.IDs(appendEvents(t, s, 1)); !slices.Equal(got, []uint64{5}) {
		t.Fatalf("next Append numbered %v, want [5]", got)
	}
}

func TestCompactionKeepsTheNewest(t *testing.T) {
	const limit = 3
	for _, tc := range []struct {
		name      string
		batches   []int
		wantInLog []uint64
	}{
		{"at twice the limit", []int{1, 1, 1, 1, 1, 1}, span(1, 6)},
		{"one past twice the limit", []int{1, 1, 1, 1, 1, 1, 1}, span(5, 7)},
		{"one big batch", []int{10}, span(8, 10)},
		{"compacted twice, grown again", []int{4, 3, 4, 3}, span(9, 14)},
		{"compacted three times", []int{4, 3, 4, 4}, span(13, 15)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, dir, filestore.Options{HistoryLimit: limit})
			for _, n := range tc.batches {
				appendEvents(t, s, n)
			}
			if got := logIDs(t, dir); !slices.Equal(got, tc.wantInLog) {
				t.Fatalf("events.jsonl holds IDs %v, want %v", got, tc.wantInLog)
			}
			last := tc.wantInLog[len(tc.wantInLog)-1]
			wantEventIDs(t, s, span(last-limit+1, last))
			s.Close()
			s = open(t, dir, filestore.Options{HistoryLimit: limit})
			wantEventIDs(t, s, span(last-limit+1, last))
			if got := porttest.IDs(appendEvents(t, s, 1)); !slices.Equal(got, []uint64{last + 1}) {
				t.Fatalf("Append after reopen numbered %v, want [%d]", got, last+1)
			}
		})
	}
}

func TestClosedStoreRefusesCalls(t *testing.T) {
	s := open(t, t.TempDir(), filestore.Options{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, loadErr := s.Load(ctx)
	_, _, updateErr := s.Update(ctx, func(c core.Cluster) (core.Cluster, []core.Event, error) { return c, nil, nil })
	_, appendErr := s.Append(ctx, progress(1)...)
	_, eventsErr := s.Events(ctx, 0)
	for name, err := range map[string]error{"Load": loadErr, "Update": updateErr, "Append": appendErr, "Events": eventsErr} {
		if !errors.Is(err, filestore.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}
