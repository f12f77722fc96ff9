package porttest

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

// Runner checks a ports.Runner against a healthy sky with AWS enabled that does not know
// clusterName yet. It launches, stops, starts and downs that cluster through supervised
// runs, and checks the read-only calls and the handling of runs that do not exist.
func Runner(t *testing.T, r ports.Runner, clusterName string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	status := func(want core.SkyStatus) {
		t.Helper()
		got, err := r.Status(ctx, []string{clusterName, "never-launched"}, true)
		if err != nil {
			t.Fatalf("status: %v", err)
		}
		if sc := got[clusterName]; (want == "") == sc.Found || sc.Status != want {
			t.Fatalf("status = %+v, want %q", sc, want)
		}
		if got["never-launched"].Found {
			t.Fatalf("a cluster never launched is found: %+v", got["never-launched"])
		}
	}
	v, err := r.Version(ctx)
	if err != nil || !v.Known() {
		t.Fatalf("version: %+v %v", v, err)
	}
	check, err := r.Check(ctx)
	if err != nil || !strings.Contains(strings.Join(check.Enabled, ","), "aws") {
		t.Fatalf("check = %+v, %v", check, err)
	}
	status("")
	if ip, err := r.IP(ctx, clusterName); err == nil {
		t.Fatalf("ip of an unknown cluster: %q", ip)
	}
	if _, err := r.Attach(ctx, "no-such-run.1", 0, nil); !errors.Is(err, ports.ErrNoOperation) {
		t.Fatalf("attach to a run that never was: %v, want ErrNoOperation", err)
	}
	if err := r.Cancel(ctx, "no-such-run.1"); err != nil {
		t.Fatalf("cancel of a run that never was: %v", err)
	}

	yaml := filepath.Join(t.TempDir(), "task.yaml")
	if err := os.WriteFile(yaml, []byte("resources:\n  cloud: \"aws\"\n  region: \"us-east-1\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var lines []ports.Line
	onLine := func(l ports.Line) {
		mu.Lock()
		defer mu.Unlock()
		if l.Text == "" || strings.ContainsAny(l.Text, "\r\n\x1b") {
			t.Errorf("onLine got an uncleaned line %q", l.Text)
		}
		if n := len(lines); n > 0 && l.Offset <= lines[n-1].Offset {
			t.Errorf("offsets do not grow: %d after %d", l.Offset, lines[n-1].Offset)
		}
		lines = append(lines, l)
	}
	run := func(key string, action core.Action, onLine ports.LineFunc) ports.RunOutcome {
		t.Helper()
		op := ports.Operation{Key: ports.OperationKey(clusterName + "." + key), Action: action, Cluster: clusterName, Launch: ports.LaunchSpec{YAMLPath: yaml}}
		out, err := r.Start(ctx, op, onLine)
		if err != nil || out.Failed {
			t.Fatalf("%s: %+v %v", action, out, err)
		}
		return out
	}
	run("1", core.ActionLaunch, onLine)
	mu.Lock()
	streamed := append([]ports.Line(nil), lines...)
	mu.Unlock()
	if len(streamed) == 0 {
		t.Fatal("launch streamed no line")
	}
	status(core.SkyUp)
	ip, err := r.IP(ctx, clusterName)
	if _, perr := netip.ParseAddr(ip); err != nil || perr != nil {
		t.Fatalf("ip %q: %v", ip, err)
	}

	// A finished run can be followed again: from an offset, the lines after it, once.
	mid := streamed[len(streamed)/2]
	var again []ports.Line
	out, err := r.Attach(ctx, ports.OperationKey(clusterName+".1"), mid.Offset, func(l ports.Line) { again = append(again, l) })
	if err != nil || out.Failed {
		t.Fatalf("attach to the finished launch: %+v %v", out, err)
	}
	if want := streamed[len(streamed)/2+1:]; len(again) != len(want) || (len(want) > 0 && again[0] != want[0]) {
		t.Fatalf("attach after offset %d delivered %d lines (%v), want the %d after it", mid.Offset, len(again), again, len(want))
	}
	if _, err := r.Start(ctx, ports.Operation{Key: ports.OperationKey(clusterName + ".1"), Action: core.ActionStop, Cluster: clusterName}, nil); err == nil {
		t.Fatal("a second run under a key that has one was started")
	}

	run("2", core.ActionStop, nil)
	status(core.SkyStopped)
	run("3", core.ActionStart, nil)
	status(core.SkyUp)
	run("4", core.ActionDestroy, nil)
	status("")
	// A sky down of a cluster sky no longer knows is no failure.
	run("5", core.ActionDestroy, nil)
	if err := r.Forget(1); err != nil {
		t.Fatalf("forget: %v", err)
	}
	if _, err := r.Attach(ctx, ports.OperationKey(clusterName+".1"), 0, nil); !errors.Is(err, ports.ErrNoOperation) {
		t.Fatalf("attach to a forgotten run: %v, want ErrNoOperation", err)
	}
	cancelled, stop := context.WithCancel(ctx)
	stop()
	if _, err := r.Start(cancelled, ports.Operation{Key: ports.OperationKey(clusterName + ".6"), Action: core.ActionLaunch, Cluster: clusterName, Launch: ports.LaunchSpec{YAMLPath: yaml}}, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("start with a cancelled context: %v", err)
	}
}
