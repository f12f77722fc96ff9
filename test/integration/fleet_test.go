package integration

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
)

// clusterRecord is one entry of GET /clusters.
type clusterRecord struct {
	Name    string  `json:"name"`
	Default bool    `json:"default"`
	Status  string  `json:"status"`
	Cloud   *string `json:"cloud"`
	IP      *string `json:"ip"`
	Error   *string `json:"error"`
}

func (s *service) fleet(t *testing.T) map[string]clusterRecord {
	t.Helper()
	code, env := call[[]clusterRecord](t, s, request{method: http.MethodGet, path: "/clusters"})
	if code != http.StatusOK || env.Result == nil {
		t.Fatalf("GET /clusters: want 200 with a result, got %d %v", code, env)
	}
	out := map[string]clusterRecord{}
	for _, r := range *env.Result {
		out[r.Name] = r
	}
	return out
}

// waitForFleet polls GET /clusters until every named cluster has the wanted status
// ("" for: not listed).
func (s *service) waitForFleet(t *testing.T, want map[string]string) map[string]clusterRecord {
	t.Helper()
	deadline := time.Now().Add(settleTimeout)
	for {
		got := s.fleet(t)
		ok := true
		for name, status := range want {
			if got[name].Status != status {
				ok = false
			}
		}
		if ok {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("fleet %v after %v, want %v", got, settleTimeout, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestFleet launches three clusters at once (one hits a quota), follows them on their own
// streams and on /events, destroys one, and recovers all from a SIGKILL of skygate.
func TestFleet(t *testing.T) {
	t.Parallel()
	svc := startService(t, serviceOptions{})
	if got := svc.fleet(t); len(got) != 1 || !got[clusterName].Default || got[clusterName].Status != "no_server" {
		t.Fatalf("a new service lists only its default cluster, at no_server: %v", got)
	}
	svc.setScenario(t, "beta", "quota")
	all := svc.openStream(t, "/events", nil)
	names := []string{"alpha", "beta", "gamma"}
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Go(func() {
			code, env := call[acceptedResult](t, svc, request{method: http.MethodPost, path: "/clusters/" + name + "/launch", body: `{"cloud":"aws"}`})
			if code != http.StatusAccepted || env.Result == nil || env.Result.ClusterName != name {
				t.Errorf("launch %s: want 202 for %s, got %d %v", name, name, code, env)
			}
		})
	}
	wg.Wait()
	got := svc.waitForFleet(t, map[string]string{"alpha": "running", "beta": "error", "gamma": "running", clusterName: "no_server"})
	if msg := deref(got["beta"].Error); !strings.Contains(strings.ToLower(msg), "quota") {
		t.Errorf("beta's error should say quota in words, got %q", msg)
	}
	if deref(got["alpha"].IP) == "" {
		t.Errorf("alpha running without an IP: %v", got["alpha"])
	}

	seen := map[string]bool{}
	all.waitFor(t, "events of all three clusters", func(e serverEvent) bool {
		seen[e.Data.Cluster] = true
		return seen["alpha"] && seen["beta"] && seen["gamma"]
	})
	checkIDsIncrease(t, 0, all.seen)

	alpha := svc.openStream(t, "/clusters/alpha/events?after=0", nil)
	replayed := alpha.waitFor(t, "alpha's complete event", isEvent("complete"))
	for _, e := range replayed {
		if e.Data.Cluster != "alpha" {
			t.Errorf("alpha's stream carries an event of %q: %v", e.Data.Cluster, e)
		}
	}

	code, _ := call[acceptedResult](t, svc, request{method: http.MethodPost, path: "/clusters/gamma/destroy"})
	if code != http.StatusAccepted {
		t.Fatalf("destroy gamma: %d", code)
	}
	svc.waitForFleet(t, map[string]string{"gamma": "", "alpha": "running", "beta": "error"})

	svc.crash(t)
	svc.waitForFleet(t, map[string]string{"gamma": "", "alpha": "running", "beta": "error", clusterName: "no_server"})
	if code, env := call[clusterStatus](t, svc, request{method: http.MethodGet, path: "/clusters/alpha/status?refresh=true"}); code != 200 || env.Result == nil || env.Result.Status != "running" {
		t.Errorf("alpha after the restart: %d %v", code, env)
	}
	if launches := countOf(svc.skyCommands(t), "launch"); launches != 3 {
		t.Errorf("want 3 sky launch runs, got %d: %q", launches, svc.skyInvocations(t))
	}
}

// TestImportsFileStoreState starts skygate on a state dir written by the file store of
// earlier releases: the record and the events are taken over, ids continuing.
func TestImportsFileStoreState(t *testing.T) {
	t.Parallel()
	state := `{"cluster":{"name":"skygate","status":"stopped","cloud":"aws","region":"us-east-1","operation_id":4,"updated_at":"2026-02-14T12:00:00Z"},"last_event_id":41}`
	events := `{"id":40,"type":"status","timestamp":"2026-02-14T11:59:00Z","message":"stop requested","status":"stopping","operation_id":4}` + "\n" +
		`{"id":41,"type":"complete","timestamp":"2026-02-14T12:00:00Z","message":"Cluster is STOPPED","operation_id":4}` + "\n"
	svc := startService(t, serviceOptions{files: []testcontainers.ContainerFile{
		{Reader: strings.NewReader(state), ContainerFilePath: "/data/state/state.json", FileMode: 0o600},
		{Reader: strings.NewReader(events), ContainerFilePath: "/data/state/events.jsonl", FileMode: 0o600},
	}})
	stream := svc.openEvents(t, "?after=0", nil)
	old := stream.waitFor(t, "the imported complete event", isEvent("complete"))
	if len(old) < 2 || old[0].ID != 40 || old[len(old)-1].ID != 41 || old[len(old)-1].Data.Message != "Cluster is STOPPED" {
		t.Fatalf("imported events keep their ids and texts: %v", old)
	}
	// sky does not know the imported cluster, so the start-up reconcile says so, with the
	// next id: numbering continues from the imported history.
	all := stream.waitFor(t, "the reconcile's status event", isStatusEvent("no_server"))
	checkIDsIncrease(t, 0, all)
	if last := all[len(all)-1]; last.ID != 42 {
		t.Fatalf("the first new event after the import is #%d, want #42", last.ID)
	}
	if got := svc.status(t, false); got.Status != "no_server" {
		t.Fatalf("a record sky does not know follows sky: %v", got)
	}
}
