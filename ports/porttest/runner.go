//go:build ignore

// Excluded from the build: written for the EventBus and Runner ports before the fleet
// rewrite, and left for their rewrite.

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

	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

// Runner checks a ports.Runner against a healthy sky (0.8 or newer) that has AWS enabled and
// does not know clusterName yet. It launches, stops, starts and downs that cluster.
func Runner(t *testing.T, r ports.Runner, clusterName string) {
	ctx := context.Background()
	// ok("x")(r.X(...)) fails the test unless the run exited 0.
	ok := func(what string) func(ports.RunResult, error) ports.RunResult {
		return func(res ports.RunResult, err error) ports.RunResult {
			t.Helper()
			if err != nil || res.ExitCode != 0 {
				t.Fatalf("%s: exit %d, err %v\nstdout: %s\nstderr: %s", what, res.ExitCode, err, res.Stdout, res.Stderr)
			}
			return res
		}
	}
	status := func(want core.SkyStatus) {
		t.Helper()
		res := ok("status")(r.Status(ctx, clusterName, ports.StatusOptions{Refresh: true}))
		sc, err := core.ParseStatus(res.Stdout, clusterName)
		if err != nil {
			t.Fatalf("status output unreadable: %v\n%s", err, res.Stdout)
		}
		if (want == "") == sc.Found || sc.Status != want {
			t.Fatalf("status = %+v, want %q", sc, want)
		}
	}

	res := ok("version")(r.Version(ctx))
	if _, err := core.ParseVersion(res.Stdout); err != nil {
		t.Fatalf("version: %v", err)
	}
	res = ok("check")(r.Check(ctx, false))
	check, err := core.ParseCheck(res.Stdout)
	if err != nil || !strings.Contains(strings.Join(check.Enabled, ","), "aws") {
		t.Fatalf("check = %+v, %v", check, err)
	}
	status("")
	if res, err := r.IP(ctx, clusterName); err != nil || res.ExitCode == 0 {
		t.Fatalf("ip of an unknown cluster: exit %d, err %v", res.ExitCode, err)
	}

	yaml := filepath.Join(t.TempDir(), "task.yaml")
	if err := os.WriteFile(yaml, []byte("resources:\n  cloud: \"aws\"\n  region: \"us-east-1\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var lines []string
	onLine := func(line string) {
		mu.Lock()
		defer mu.Unlock()
		if line == "" || strings.ContainsAny(line, "\r\n\x1b") {
			t.Errorf("onLine got an uncleaned line %q", line)
		}
		lines = append(lines, line)
	}
	ok("launch")(r.Launch(ctx, ports.LaunchSpec{YAMLPath: yaml, ClusterName: clusterName}, onLine))
	mu.Lock()
	streamed := len(lines)
	mu.Unlock()
	if streamed == 0 {
		t.Fatal("launch streamed no line")
	}
	status(core.SkyUp)
	res = ok("ip")(r.IP(ctx, clusterName))
	if _, err := netip.ParseAddr(strings.TrimSpace(res.Stdout)); err != nil {
		t.Fatalf("ip output %q is not an address", res.Stdout)
	}
	ok("stop")(r.Stop(ctx, clusterName, nil))
	status(core.SkyStopped)
	ok("start")(r.Start(ctx, clusterName, nil))
	status(core.SkyUp)
	ok("down")(r.Down(ctx, clusterName, nil))
	status("")
	// A sky down of a cluster sky no longer knows still exits 0.
	ok("down again")(r.Down(ctx, clusterName, nil))

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := r.Launch(cancelled, ports.LaunchSpec{YAMLPath: yaml, ClusterName: clusterName}, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("launch with a cancelled context: %v", err)
	}
}
