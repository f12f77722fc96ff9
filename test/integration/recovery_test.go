package integration

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDestroyCancelsHungLaunch destroys a cluster whose sky launch never ends: the launch
// is cancelled (SIGTERM, then SIGKILL when sky ignores it) and sky down cleans up.
func TestDestroyCancelsHungLaunch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		scenario string
		env      map[string]string
	}{
		{"hang", nil},
		{"hang_ignore_term", map[string]string{"SKYGATE_KILL_GRACE": "1s"}},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"SKYSTUB_SCENARIO": tc.scenario}
			for k, v := range tc.env {
				env[k] = v
			}
			svc := startService(t, serviceOptions{env: env})
			events := svc.openEvents(t, "", nil)
			svc.mustPost(t, "launch", `{"cloud":"aws","region":"us-east-1"}`)
			events.waitFor(t, `"Launching on" progress`, isLaunchingProgress)
			if got := svc.status(t, false); got.Status != "provisioning" {
				t.Fatalf("while sky launch hangs: want provisioning, got %v", got)
			}

			svc.mustPost(t, "destroy", "")
			gone := svc.waitForStatus(t, "no_server")
			if gone.Name != nil || gone.IP != nil {
				t.Errorf("after destroy: want name and ip null, got %v", gone)
			}
			cmds := svc.skyCommands(t)
			launch := slices.Index(cmds, "launch")
			if launch < 0 || !slices.Contains(cmds[launch+1:], "down") {
				t.Errorf("want sky down after the cancelled sky launch, sky ran: %q", cmds)
			}
			for _, p := range svc.processes(t) {
				if strings.Contains(p, "sky launch") {
					t.Errorf("sky launch still runs after destroy: %q", p)
				}
			}
			if out := svc.sky(t, "status", clusterName); !strings.Contains(out, "not found") {
				t.Errorf("sky still knows the cluster:\n%s", out)
			}
		})
	}
}

func isLaunchingProgress(e serverEvent) bool {
	return e.Event == "progress" && strings.Contains(e.Data.Message, "Launching on")
}

// TestRestartDuringLaunch kills skygate in the middle of provisioning and starts a new
// container on the same state volume, as a redeployment would. sky's launch carries on
// without its parent (the stub's state converges like the API server's), and the new
// instance follows it to running; event ids keep growing across the restart.
func TestRestartDuringLaunch(t *testing.T) {
	t.Parallel()
	volume := newVolume(t)
	opts := serviceOptions{volume: volume, env: map[string]string{
		// slow: 10 × 60 ms per sky output line, so provisioning lasts about 5 s.
		"SKYSTUB_SCENARIO":      "slow",
		"SKYSTUB_DELAY_MS":      "60",
		"SKYGATE_POLL_INTERVAL": "1s",
	}}
	first := startService(t, opts)
	events := first.openEvents(t, "", nil)
	first.mustPost(t, "launch", `{"cloud":"aws","region":"us-east-1"}`)
	before := events.waitFor(t, `"Launching on" progress`, isLaunchingProgress)
	checkIDsIncrease(t, 0, before)
	lastSeen := before[len(before)-1].ID
	first.kill(t)

	second := startService(t, opts)
	if got := second.status(t, false); got.Status != "provisioning" && got.Status != "running" {
		t.Errorf("after the restart: want the launch still followed (provisioning or running), got %v", got)
	}
	resumed := second.openEvents(t, "", map[string]string{"Last-Event-ID": strconv.FormatInt(lastSeen, 10)})
	after := resumed.waitFor(t, "status event running", isStatusEvent("running"))
	checkIDsIncrease(t, lastSeen, after)
	t.Logf("events before the kill: %v", before)
	t.Logf("events after the restart: %v", after)

	up := second.waitForStatus(t, "running")
	if deref(up.Name) != clusterName || deref(up.Cloud) != "aws" || deref(up.Region) != "us-east-1" || deref(up.IP) == "" || up.LaunchedAt == nil {
		t.Errorf("after recovery: want skygate running on aws us-east-1 with ip and launched_at, got %v", up)
	}
	if launches := countOf(second.skyCommands(t), "launch"); launches != 1 {
		t.Errorf("want the one surviving sky launch followed, not relaunched; sky launch ran %d times: %q", launches, second.skyInvocations(t))
	}
}

// TestExternalDown removes the cluster behind skygate's back with `sky down`, as an
// operator might, and checks that a refresh notices.
func TestExternalDown(t *testing.T) {
	t.Parallel()
	t.Run("refresh on request", func(t *testing.T) {
		t.Parallel()
		svc := startService(t, serviceOptions{})
		launchToRunning(t, svc)
		if out := svc.sky(t, "down", "-y", clusterName); !strings.Contains(out, "Terminating cluster "+clusterName+"...done.") {
			t.Fatalf("sky down by hand did not terminate the cluster:\n%s", out)
		}
		// Without refresh=true the status is the record, which cannot know yet.
		if got := svc.status(t, false); got.Status != "running" {
			t.Errorf("before any refresh: want the recorded running, got %v", got)
		}
		got := svc.status(t, true)
		if got.Status != "no_server" || got.Name != nil || got.Cloud != nil || got.Region != nil || got.IP != nil {
			t.Errorf("GET /cluster/status?refresh=true: want no_server with name, cloud, region and ip null, got %v", got)
		}
	})
	t.Run("background refresh", func(t *testing.T) {
		t.Parallel()
		svc := startService(t, serviceOptions{env: map[string]string{"SKYGATE_REFRESH_INTERVAL": "2s"}})
		launchToRunning(t, svc)
		svc.sky(t, "down", "-y", clusterName)
		if gone := svc.waitForStatus(t, "no_server"); gone.Name != nil || gone.IP != nil {
			t.Errorf("after the background refresh: want name and ip null, got %v", gone)
		}
	})
}

func launchToRunning(t *testing.T, svc *service) {
	t.Helper()
	svc.mustPost(t, "launch", `{"cloud":"gcp","region":"us-central1"}`)
	if up := svc.waitForStatus(t, "running"); deref(up.Cloud) != "gcp" || deref(up.Region) != "us-central1" {
		t.Fatalf("after launch: want running on gcp us-central1, got %v", up)
	}
}

// TestCrashMidLaunchKeepsStreaming kills skygate (not the machine) in the middle of a
// launch: the supervised sky run goes on, and the restarted skygate follows its output
// from the last line it published, so the log continues with no line lost or repeated.
func TestCrashMidLaunchKeepsStreaming(t *testing.T) {
	t.Parallel()
	svc := startService(t, serviceOptions{env: map[string]string{"SKYSTUB_SCENARIO": "slow", "SKYSTUB_DELAY_MS": "60"}})
	events := svc.openEvents(t, "", nil)
	svc.mustPost(t, "launch", `{"cloud":"aws","region":"us-east-1"}`)
	before := events.waitFor(t, `"Launching on" progress`, isLaunchingProgress)
	lastSeen := before[len(before)-1].ID
	svc.crash(t)

	resumed := svc.openEvents(t, "", map[string]string{"Last-Event-ID": strconv.FormatInt(lastSeen, 10)})
	after := resumed.waitFor(t, "status event running", isStatusEvent("running"))
	checkIDsIncrease(t, lastSeen, after)
	progress := 0
	lines := map[string]int{}
	for _, e := range append(before, after...) {
		// Table rules ("-----") repeat in sky's own output; every other line is once.
		if e.Event == "progress" && strings.Trim(e.Data.Message, "-") != "" {
			lines[e.Data.Message]++
			if e.ID > lastSeen {
				progress++
			}
		}
	}
	if progress == 0 {
		t.Errorf("no progress line after the restart: %v", after)
	}
	for line, n := range lines {
		if n > 1 {
			t.Errorf("progress line %q shown %d times", line, n)
		}
	}
	up := svc.waitForStatus(t, "running")
	if deref(up.IP) == "" {
		t.Errorf("running without an IP: %v", up)
	}
	if launches := countOf(svc.skyCommands(t), "launch"); launches != 1 {
		t.Errorf("want the one sky launch followed, not run again; ran %d times", launches)
	}
}

// TestKillDuringDestroyFinishesIt kills the whole container while sky down runs; the new
// container on the same state finds the destroy cut off with the cluster still there and
// carries it out: a destroy is never undone.
func TestKillDuringDestroyFinishesIt(t *testing.T) {
	t.Parallel()
	volume := newVolume(t)
	opts := serviceOptions{volume: volume, env: map[string]string{"SKYGATE_POLL_INTERVAL": "1s", "SKYSTUB_DELAY_MS": "60"}}
	first := startService(t, opts)
	launchToRunning(t, first)
	first.setScenario(t, clusterName, "slow")
	first.mustPost(t, "destroy", "")
	time.Sleep(300 * time.Millisecond) // sky down is under way: 3 pauses of 600 ms
	first.kill(t)

	second := startService(t, opts)
	second.waitForStatus(t, "no_server")
	if out := second.sky(t, "status", clusterName); !strings.Contains(out, "not found") {
		t.Errorf("sky still has the cluster after the destroy was carried on:\n%s", out)
	}
	if downs := countOf(second.skyCommands(t), "down"); downs < 2 {
		t.Errorf("want sky down run again after the restart, ran %d times", downs)
	}
}
