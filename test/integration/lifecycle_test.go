package integration

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestLifecycle drives one cluster through launch, stop, start and destroy, following the
// launch on the event stream as a browser would.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	svc := startService(t, serviceOptions{})

	if got := send(t, svc, request{method: http.MethodGet, path: "/healthz"}); got.code != http.StatusOK {
		t.Fatalf("GET /healthz: want 200, got %d %s", got.code, got.body)
	}
	check := svc.check(t)
	if !check.SkyInstalled || deref(check.SkyVersion) != "0.10.3" || !slices.Equal(check.EnabledClouds, []string{"aws", "gcp"}) {
		t.Errorf("check: want sky 0.10.3 installed with aws and gcp enabled, got %v", check)
	}
	if got := svc.status(t, false); got.Status != "no_server" {
		t.Errorf("before launch: want no_server, got %v", got)
	}

	events := svc.openEvents(t, "", nil)
	launchedAfter := time.Now().Add(-time.Minute).Unix()
	svc.mustPost(t, "launch", `{"cloud":"aws","region":"us-east-1"}`)
	seen := events.waitFor(t, "complete event", isEvent("complete"))
	checkIDsIncrease(t, 0, seen)
	provisioning := slices.IndexFunc(seen, isStatusEvent("provisioning"))
	running := slices.IndexFunc(seen, isStatusEvent("running"))
	if provisioning < 0 || running < provisioning {
		t.Errorf("want status events provisioning then running before complete; events: %v", seen)
	}
	if !slices.ContainsFunc(seen, isEvent("progress")) {
		t.Errorf("want progress events from sky launch; events: %v", seen)
	}
	for _, e := range seen {
		if e.Data.Type != e.Event || e.Data.Message == "" {
			t.Errorf("event %v: data.type must equal the event name and carry a message", e)
		}
		if _, err := time.Parse(time.RFC3339Nano, e.Data.Timestamp); err != nil {
			t.Errorf("event %v: timestamp %q is not RFC 3339", e, e.Data.Timestamp)
		}
	}

	up := svc.status(t, false)
	if up.Status != "running" || deref(up.Name) != clusterName || deref(up.Cloud) != "aws" || deref(up.Region) != "us-east-1" ||
		deref(up.IP) == "" || up.Error != nil {
		t.Errorf("after launch: want running skygate on aws us-east-1 with an ip, got %v", up)
	}
	if up.LaunchedAt == nil || int64(*up.LaunchedAt) < launchedAfter || int64(*up.LaunchedAt) > time.Now().Add(time.Minute).Unix() {
		t.Errorf("after launch: launched_at %s is not the launch time (unix seconds)", orNull(up.LaunchedAt))
	}

	svc.mustPost(t, "stop", "")
	stopped := svc.waitForStatus(t, "stopped")
	if stopped.IP != nil || deref(stopped.Name) != clusterName || deref(stopped.Cloud) != "aws" {
		t.Errorf("after stop: want the same cluster without ip, got %v", stopped)
	}

	svc.mustPost(t, "start", "")
	restarted := svc.waitForStatus(t, "running")
	if deref(restarted.IP) == "" || deref(restarted.Name) != clusterName {
		t.Errorf("after start: want skygate running with an ip, got %v", restarted)
	}

	svc.mustPost(t, "destroy", "")
	gone := svc.waitForStatus(t, "no_server")
	if gone.Name != nil || gone.Cloud != nil || gone.Region != nil || gone.IP != nil || gone.Error != nil {
		t.Errorf("after destroy: want name, cloud, region, ip and error null, got %v", gone)
	}
	if out := svc.sky(t, "status", clusterName); !strings.Contains(out, "not found") {
		t.Errorf("after destroy sky still knows the cluster:\n%s", out)
	}
}

// TestSkyVersions runs the lifecycle against the output styles of several SkyPilot
// releases: in-process CLI (0.7), API server (0.9) and JSON output (0.12).
func TestSkyVersions(t *testing.T) {
	t.Parallel()
	for _, version := range []string{"0.7.0", "0.9.1", "0.12.0"} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			svc := startService(t, serviceOptions{env: map[string]string{"SKYSTUB_VERSION": version}})
			check := svc.check(t)
			if !check.SkyInstalled || deref(check.SkyVersion) != version || !slices.Equal(check.EnabledClouds, []string{"aws", "gcp"}) {
				t.Errorf("check: want sky %s installed with aws and gcp enabled, got %v", version, check)
			}
			// No body: every resource is left to SkyPilot.
			svc.mustPost(t, "launch", "")
			up := svc.waitForStatus(t, "running")
			if deref(up.Name) != clusterName || !slices.Contains(check.EnabledClouds, deref(up.Cloud)) || deref(up.IP) == "" || up.LaunchedAt == nil {
				t.Errorf("after launch: want skygate running on an enabled cloud with ip and launched_at, got %v", up)
			}
			svc.mustPost(t, "destroy", "")
			if gone := svc.waitForStatus(t, "no_server"); gone.Name != nil || gone.IP != nil {
				t.Errorf("after destroy: want name and ip null, got %v", gone)
			}
		})
	}
}
