package skyexec

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
	"github.com/skygate/skygate/ports/porttest"
)

// stubRunner returns a Runner of the stub sky in version, with its own sky home and ops
// dir; the test binary is the supervisor.
func stubRunner(t *testing.T, version string, env ...string) *Runner {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	full := append(os.Environ(), "SKYSTUB_HOME="+home, "SKYSTUB_DELAY_MS=5", "SKYSTUB_VERSION="+version)
	return New(Config{Bin: stubSky, Env: append(full, env...), OpsDir: filepath.Join(home, "ops"), SupervisorPath: self, KillGrace: testGrace})
}

func TestRunnerContractWithStubSky(t *testing.T) {
	for _, version := range []string{"0.9.3", "0.12.0"} {
		t.Run(version, func(t *testing.T) {
			porttest.Runner(t, stubRunner(t, version), "c1")
		})
	}
}

func launchOp(t *testing.T, key string) ports.Operation {
	yaml := filepath.Join(t.TempDir(), "task.yaml")
	if err := os.WriteFile(yaml, []byte("resources:\n  infra: \"aws/us-east-1\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return ports.Operation{Key: ports.OperationKey(key), Action: core.ActionLaunch, Cluster: "c1", Launch: ports.LaunchSpec{YAMLPath: yaml}}
}

// A run goes on when its follower stops; a new Runner (a restarted skygate) attaches
// from the last offset delivered and gets the rest, once, and the outcome.
func TestRunOutlivesItsFollower(t *testing.T) {
	r := stubRunner(t, "0.10.3", "SKYSTUB_SCENARIO=slow", "SKYSTUB_DELAY_MS=20")
	ctx, cancel := context.WithCancel(context.Background())
	var first []ports.Line
	var mu sync.Mutex
	done := make(chan error, 1)
	go func() {
		_, err := r.Start(ctx, launchOp(t, "c1.1"), func(l ports.Line) {
			mu.Lock()
			defer mu.Unlock()
			first = append(first, l)
			if len(first) == 3 {
				cancel()
			}
		})
		done <- err
	}()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("a follower whose context ends gets %v", err)
	}
	mu.Lock()
	last := first[len(first)-1]
	seen := len(first)
	mu.Unlock()

	again := New(Config{Bin: r.bin, Env: r.env, OpsDir: r.opsDir, SupervisorPath: r.supervisor, KillGrace: testGrace})
	var rest []ports.Line
	out, err := again.Attach(context.Background(), "c1.1", last.Offset, func(l ports.Line) { rest = append(rest, l) })
	if err != nil || out.Failed {
		t.Fatalf("attach: %+v %v", out, err)
	}
	var whole []ports.Line
	if _, err := again.Attach(context.Background(), "c1.1", 0, func(l ports.Line) { whole = append(whole, l) }); err != nil {
		t.Fatal(err)
	}
	if len(whole) != seen+len(rest) || len(rest) == 0 {
		t.Fatalf("%d lines before, %d after; the whole output has %d", seen, len(rest), len(whole))
	}
	for i, l := range rest {
		if whole[seen+i] != l {
			t.Fatalf("line %d after attaching is %+v, want %+v", i, l, whole[seen+i])
		}
	}
	sc, err := again.Status(context.Background(), []string{"c1"}, false)
	if err != nil || sc["c1"].Status != core.SkyUp {
		t.Fatalf("after the launch: %+v %v", sc, err)
	}
}

func TestCancelEndsAHangingRun(t *testing.T) {
	r := stubRunner(t, "0.10.3", "SKYSTUB_SCENARIO=hang_ignore_term")
	ctx := context.Background()
	type result struct {
		out ports.RunOutcome
		err error
	}
	done := make(chan result, 1)
	started := make(chan struct{}, 1)
	go func() {
		out, err := r.Start(ctx, launchOp(t, "c1.1"), func(ports.Line) {
			select {
			case started <- struct{}{}:
			default:
			}
		})
		done <- result{out, err}
	}()
	<-started
	if err := r.Cancel(ctx, "c1.1"); err != nil {
		t.Fatal(err)
	}
	got := <-done
	if got.err != nil || !got.out.Failed || !strings.Contains(got.out.Message, "cancelled") {
		t.Fatalf("outcome of a cancelled run: %+v %v", got.out, got.err)
	}
}

func TestTimeoutEndsARun(t *testing.T) {
	r := stubRunner(t, "0.10.3", "SKYSTUB_SCENARIO=hang")
	r.timeouts.Launch = 300 * time.Millisecond
	out, err := r.Start(context.Background(), launchOp(t, "c1.1"), nil)
	if err != nil || !out.Failed || !strings.Contains(out.Message, "in time") {
		t.Fatalf("outcome of a run past its timeout: %+v %v", out, err)
	}
}

func TestFailedLaunchCarriesSkysCause(t *testing.T) {
	r := stubRunner(t, "0.10.3", "SKYSTUB_SCENARIO=quota")
	out, err := r.Start(context.Background(), launchOp(t, "c1.1"), nil)
	if err != nil || !out.Failed || !strings.Contains(strings.ToLower(out.Message), "quota") {
		t.Fatalf("outcome: %+v %v", out, err)
	}
}

// A supervisor whose pid now names another process (same pid, another start time) is
// not alive, and a run without an exit record is then lost.
func TestSupervisorIdentityIsPidAndStartTime(t *testing.T) {
	r := stubRunner(t, "0.10.3")
	dir := r.dir("c1.1")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writeAtomic(dir, specFile, `{"argv":["sky"]}`); err != nil {
		t.Fatal(err)
	}
	start, err := processStartTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for content, alive := range map[string]bool{
		itoa(os.Getpid()) + " " + itoa(int(start)):   true,
		itoa(os.Getpid()) + " " + itoa(int(start)+1): false,
		"0 0": false,
	} {
		if err := writeAtomic(dir, pidFile, content+"\n"); err != nil {
			t.Fatal(err)
		}
		if got := supervisorAlive(dir); got != alive {
			t.Errorf("pid file %q: alive = %v, want %v", content, got, alive)
		}
	}
	if err := writeAtomic(dir, pidFile, itoa(os.Getpid())+" "+itoa(int(start)+1)+"\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Attach(context.Background(), "c1.1", 0, nil); !errors.Is(err, ports.ErrNoOperation) {
		t.Fatalf("attach to a run whose supervisor is gone: %v", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// A partial last line waits for its end; the whole lines before it come with exact
// offsets.
func TestTailDeliversWholeLinesWithOffsets(t *testing.T) {
	var got []ports.Line
	tl := &tail{onLine: func(l ports.Line) { got = append(got, l) }}
	tl.feed([]byte("one\ntw"))
	if len(got) != 1 || got[0] != (ports.Line{Text: "one", Offset: 4}) {
		t.Fatalf("got %+v", got)
	}
	tl.feed([]byte("o\r\nthree"))
	tl.flush()
	want := []ports.Line{{Text: "one", Offset: 4}, {Text: "two", Offset: 8}, {Text: "three", Offset: 14}}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	}
}
