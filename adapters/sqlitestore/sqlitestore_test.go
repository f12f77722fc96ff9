package sqlitestore_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/skygate/skygate/adapters/sqlitestore"
	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
	"github.com/skygate/skygate/ports/porttest"
)

var ctx = context.Background()

func TestStoreContract(t *testing.T) {
	var dirs sync.Map // ports.Store → its state dir
	openIn := func(t *testing.T, dir string) ports.Store {
		s := open(t, dir, sqlitestore.Options{})
		dirs.Store(ports.Store(s), dir)
		return s
	}
	porttest.Store(t,
		func(t *testing.T) ports.Store { return openIn(t, t.TempDir()) },
		func(t *testing.T, closed ports.Store) ports.Store {
			dir, ok := dirs.Load(closed)
			if !ok {
				t.Fatal("reopen of a store the test did not open")
			}
			return openIn(t, dir.(string))
		})
}

// open opens dir; the caller closes the store (Close is idempotent).
func open(t testing.TB, dir string, opts sqlitestore.Options) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// openClosing opens dir and closes the store when the test ends.
func openClosing(t testing.TB, dir string, opts sqlitestore.Options) *sqlitestore.Store {
	t.Helper()
	s := open(t, dir, opts)
	t.Cleanup(func() { s.Close() })
	return s
}

func progress(cluster string, n int) []core.Event {
	events := make([]core.Event, n)
	for i := range events {
		events[i] = core.ProgressEvent(time.Date(2025, 3, 1, 0, 0, i, 0, time.UTC), 1, fmt.Sprintf("line %d", i))
		events[i].Cluster = cluster
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

func appendEvents(t testing.TB, s ports.Store, cluster string, n int) []core.Event {
	t.Helper()
	got, err := s.Append(ctx, progress(cluster, n)...)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return got
}

func eventIDs(t *testing.T, s ports.Store, filter ports.EventFilter) []uint64 {
	t.Helper()
	got, err := s.Events(ctx, filter)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	return porttest.IDs(got)
}

func set(c core.Cluster, events ...core.Event) func(core.Cluster) (core.Cluster, []core.Event, error) {
	return func(core.Cluster) (core.Cluster, []core.Event, error) { return c, events, nil }
}

func running(name string) core.Cluster {
	return core.Cluster{Name: name, Status: core.StatusRunning, Desired: core.DesiredUp, OperationID: 2}
}

func TestPruningKeepsTheLimitPlusSlack(t *testing.T) {
	dir := t.TempDir()
	opts := sqlitestore.Options{HistoryLimit: 8} // pruned back to 8 once a cluster has 11
	s := open(t, dir, opts)
	quiet := appendEvents(t, s, "quiet", 3)
	var last uint64
	for i := range 40 {
		last = appendEvents(t, s, "chatty", 1)[0].ID
		n := len(eventIDs(t, s, ports.EventFilter{Cluster: "chatty"}))
		want := i + 1 // 1..10, then 11 is pruned to 8: 8, 9, 10, 8, ...
		if want > 10 {
			want = 8 + (want-11)%3
		}
		if n != want {
			t.Fatalf("after %d events chatty keeps %d, want %d", i+1, n, want)
		}
	}
	s.Close()
	s = openClosing(t, dir, opts)
	got := eventIDs(t, s, ports.EventFilter{Cluster: "chatty"})
	if len(got) < 8 || len(got) > 10 || got[len(got)-1] != last {
		t.Fatalf("after reopen chatty keeps %v", got)
	}
	// A batch of many: pruned within the same transaction, counted from the database
	// (the first write of the cluster since Open).
	appendEvents(t, s, "chatty", 25)
	if got := eventIDs(t, s, ports.EventFilter{Cluster: "chatty"}); !slices.Equal(got, span(last+18, last+25)) {
		t.Fatalf("after a batch of 25 chatty keeps %v, want %v", got, span(last+18, last+25))
	}
	if got := eventIDs(t, s, ports.EventFilter{Cluster: "quiet"}); !slices.Equal(got, porttest.IDs(quiet)) {
		t.Fatalf("quiet keeps %v, want %v", got, porttest.IDs(quiet))
	}
}

func TestCorruptDatabaseIsReportedAndKept(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, sqlitestore.DBName)
	garbage := bytes.Repeat([]byte("this is not a database\n"), 500)
	if err := os.WriteFile(path, garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := sqlitestore.Open(dir, sqlitestore.Options{})
	if err == nil || !strings.Contains(err.Error(), "database "+path+" is corrupt") {
		t.Fatalf("Open = %v, want an error calling %s corrupt", err, path)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, garbage) {
		t.Fatalf("%s was changed by the failed Open", path)
	}
	// The failed Open released the lock: with the file moved away, Open works.
	if err := os.Rename(path, path+".bad"); err != nil {
		t.Fatal(err)
	}
	openClosing(t, dir, sqlitestore.Options{})
}

// rawDB opens the database of a closed store directly.
func rawDB(t *testing.T, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, sqlitestore.DBName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestCorruptRecordIsReported(t *testing.T) {
	dir := t.TempDir()
	open(t, dir, sqlitestore.Options{}).Close()
	if _, err := rawDB(t, dir).Exec(`INSERT INTO clusters (name, record) VALUES ('web-1', '{"status":')`); err != nil {
		t.Fatal(err)
	}
	_, err := sqlitestore.Open(dir, sqlitestore.Options{})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, sqlitestore.DBName)+" is corrupt") || !strings.Contains(err.Error(), `"web-1"`) {
		t.Fatalf("Open = %v, want an error naming the database and the record", err)
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	dir := t.TempDir()
	open(t, dir, sqlitestore.Options{}).Close()
	if _, err := rawDB(t, dir).Exec(`UPDATE schema_version SET version = version + 1`); err != nil {
		t.Fatal(err)
	}
	_, err := sqlitestore.Open(dir, sqlitestore.Options{})
	if err == nil || !strings.Contains(err.Error(), "written by a later skygate") {
		t.Fatalf("Open = %v, want a refusal of the newer schema", err)
	}
}

func TestSchemaIsMigratedOnce(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, sqlitestore.Options{})
	appendEvents(t, s, "a", 2)
	s.Close()
	s = open(t, dir, sqlitestore.Options{})
	s.Close()
	var versions []int
	rows, err := rawDB(t, dir).Query(`SELECT version FROM schema_version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		versions = append(versions, v)
	}
	if !slices.Equal(versions, []int{1}) {
		t.Fatalf("schema_version holds %v, want one row, version 1", versions)
	}
}

func TestDatabaseIsInWALMode(t *testing.T) {
	dir := t.TempDir()
	open(t, dir, sqlitestore.Options{}).Close()
	var mode string
	if err := rawDB(t, dir).QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Fatalf("journal_mode is %q, want wal", mode)
	}
}

func TestFilesAreWrittenWithMode0600(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s := openClosing(t, dir, sqlitestore.Options{})
	if _, _, err := s.Update(ctx, "a", set(running("a"), progress("", 1)...)); err != nil {
		t.Fatal(err)
	}
	want := map[string]os.FileMode{"": 0o700 | os.ModeDir, "skygate.db": 0o600, "skygate.db-wal": 0o600, "lock": 0o600}
	for name, mode := range want {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode() != mode {
			t.Errorf("%s has mode %v, want %v", filepath.Join(dir, name), info.Mode(), mode)
		}
	}
}

func TestSecondOpenInTheSameProcessIsRefused(t *testing.T) {
	dir := t.TempDir()
	first := open(t, dir, sqlitestore.Options{})
	_, err := sqlitestore.Open(dir, sqlitestore.Options{})
	if want := "another skygate is using state dir " + dir; err == nil || err.Error() != want {
		t.Fatalf("second Open = %v, want %q", err, want)
	}
	first.Close()
	openClosing(t, dir, sqlitestore.Options{})
}

// childEnv makes the test binary a child process that runs the named action on the state
// dir (see TestMain).
const childEnv = "SQLITESTORE_TEST_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		action, dir, _ := strings.Cut(spec, ":")
		os.Exit(runChild(action, dir))
	}
	code := m.Run()
	if fleet.dir != "" {
		os.RemoveAll(fleet.dir)
	}
	os.Exit(code)
}

func runChild(action, dir string) int {
	if code, ok := runLockChild(action, dir); ok {
		return code
	}
	s, err := sqlitestore.Open(dir, sqlitestore.Options{})
	if err != nil {
		fmt.Print(err)
		return 3
	}
	switch action {
	case "open":
		s.Close()
		fmt.Print("opened")
	case "write-and-die":
		// Writes, then dies without closing anything, as a crashed service does.
		if _, _, err := s.Update(ctx, "a", set(running("a"), progress("", 2)...)); err != nil {
			fmt.Print(err)
			return 4
		}
		if _, err := s.Append(ctx, progress("b", 3)...); err != nil {
			fmt.Print(err)
			return 4
		}
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	case "rss":
		return reportRSS(s)
	}
	return 0
}

func runInChild(t testing.TB, action, dir string) (string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+action+":"+dir)
	var out bytes.Buffer
	cmd.Stdout = &out
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("running the child: %v", err)
	}
	return out.String(), cmd.ProcessState.ExitCode()
}

func TestSecondProcessIsRefused(t *testing.T) {
	dir := t.TempDir()
	first := open(t, dir, sqlitestore.Options{})
	out, code := runInChild(t, "open", dir)
	if want := "another skygate is using state dir " + dir; code != 3 || out != want {
		t.Fatalf("child Open while the dir is held: exit %d, %q; want exit 3, %q", code, out, want)
	}
	first.Close()
	if out, code := runInChild(t, "open", dir); code != 0 || out != "opened" {
		t.Fatalf("child Open after Close: exit %d, %q; want exit 0, \"opened\"", code, out)
	}
}

func TestWritesSurviveAProcessCrash(t *testing.T) {
	dir := t.TempDir()
	if out, code := runInChild(t, "write-and-die", dir); code != -1 || out != "" {
		t.Fatalf("child: exit %d, %q; want it killed", code, out)
	}
	s := openClosing(t, dir, sqlitestore.Options{})
	if c, err := s.Load(ctx, "a"); err != nil || c != running("a") {
		t.Fatalf("Load after the crash = %+v, %v; want %+v", c, err, running("a"))
	}
	if got := eventIDs(t, s, ports.EventFilter{}); !slices.Equal(got, span(1, 5)) {
		t.Fatalf("events after the crash %v, want 1..5", got)
	}
	if got := porttest.IDs(appendEvents(t, s, "a", 1)); !slices.Equal(got, []uint64{6}) {
		t.Fatalf("Append after the crash numbered %v, want [6]", got)
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
			_, err := sqlitestore.Open(tc.dir, sqlitestore.Options{})
			if err == nil || !strings.Contains(err.Error(), tc.wantInError) {
				t.Fatalf("Open = %v, want an error containing %q", err, tc.wantInError)
			}
		})
	}
}

func TestClosedStoreRefusesCallsWithErrClosed(t *testing.T) {
	s := open(t, t.TempDir(), sqlitestore.Options{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, clustersErr := s.Clusters(ctx)
	_, loadErr := s.Load(ctx, "a")
	_, _, updateErr := s.Update(ctx, "a", func(c core.Cluster) (core.Cluster, []core.Event, error) { return c, nil, nil })
	_, appendErr := s.Append(ctx, progress("a", 1)...)
	_, emptyAppendErr := s.Append(ctx)
	_, eventsErr := s.Events(ctx, ports.EventFilter{})
	_, lastErr := s.LastEventID(ctx)
	for name, err := range map[string]error{"Clusters": clustersErr, "Load": loadErr, "Update": updateErr,
		"Append": appendErr, "Append()": emptyAppendErr, "Events": eventsErr, "LastEventID": lastErr} {
		if !errors.Is(err, sqlitestore.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

func TestCancelledContextSkipsFn(t *testing.T) {
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	s := openClosing(t, t.TempDir(), sqlitestore.Options{})
	_, _, err := s.Update(cancelled, "a", func(c core.Cluster) (core.Cluster, []core.Event, error) {
		t.Fatal("fn called with a cancelled context")
		return c, nil, nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Update = %v, want context.Canceled", err)
	}
}

func TestOutOfRangeTimestampFailsTheUpdate(t *testing.T) {
	s := openClosing(t, t.TempDir(), sqlitestore.Options{})
	bad := core.ProgressEvent(time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), 1, "from the future")
	if _, _, err := s.Update(ctx, "a", set(running("a"), bad)); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Fatalf("Update with a timestamp in year 3000 = %v, want an error", err)
	}
	if c, _ := s.Load(ctx, "a"); c != core.NoCluster("a") {
		t.Fatalf("the failed Update saved %+v", c)
	}
	if got := porttest.IDs(appendEvents(t, s, "a", 1)); !slices.Equal(got, []uint64{1}) {
		t.Fatalf("Append after the failed Update numbered %v, want [1]", got)
	}
}

// Writes are checkpointed in the background: the WAL is copied into the database as
// writes go on, so it stays as small as a few moments of writes (no commit checkpoints).
func TestWALIsCheckpointedInTheBackground(t *testing.T) {
	dir := t.TempDir()
	s, err := sqlitestore.Open(dir, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	const rounds, perRound = 16, 100
	for r := range rounds {
		for i := range perRound {
			if _, err := s.Append(ctx, core.Event{Cluster: fmt.Sprintf("c%d", i%20), Type: core.EventProgress, Message: fmt.Sprintf("line %d of round %d", i, r)}); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(300 * time.Millisecond) // longer than the checkpoints' pause
	}
	wal, err := os.Stat(filepath.Join(dir, sqlitestore.DBName+"-wal"))
	if err != nil {
		t.Fatal(err)
	}
	// Uncheckpointed, the WAL would hold at least a frame (a page and its 24-byte
	// header) for each transaction; checkpointed each round, about one round's frames.
	uncheckpointed := int64(rounds * perRound * (4096 + 24))
	t.Logf("WAL %d bytes after %d single-event transactions (at least %d without checkpoints)", wal.Size(), rounds*perRound, uncheckpointed)
	if wal.Size() > uncheckpointed/2 {
		t.Errorf("the WAL holds %d bytes: it is not being checkpointed", wal.Size())
	}
}
