package metrics_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/skygate/skygate/adapters/fakerunner"
	"github.com/skygate/skygate/adapters/metrics"
	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	body, _ := io.ReadAll(rec.Body)
	return string(body)
}

func wantLines(t *testing.T, body string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(body, l) {
			t.Errorf("metrics lack %q", l)
		}
	}
}

func TestMetrics(t *testing.T) {
	recs := []core.Cluster{{Name: "a", Status: core.StatusRunning}, {Name: "b", Status: core.StatusRunning}, {Name: "c", Status: core.StatusError}, core.NoCluster("d")}
	m := metrics.New(metrics.Sources{
		Clusters:        func(context.Context) ([]core.Cluster, error) { return recs, nil },
		OpenStreams:     func() int { return 7 },
		EventsPublished: func() uint64 { return 42 },
		StreamsDropped:  func() uint64 { return 3 },
		CheckAge:        func() (time.Duration, bool) { return 90 * time.Second, true },
	})

	sky := fakerunner.New()
	r := m.Runner(sky)
	ctx := context.Background()
	if _, err := r.Start(ctx, ports.Operation{Key: "a.1", Action: core.ActionLaunch, Cluster: "a"}, nil); err != nil {
		t.Fatal(err)
	}
	sky.OnRun[core.ActionDestroy] = func(context.Context, *fakerunner.Runner, ports.Operation, func(string)) ports.RunOutcome {
		return ports.RunOutcome{Failed: true}
	}
	if _, err := r.Start(ctx, ports.Operation{Key: "a.2", Action: core.ActionDestroy, Cluster: "a"}, nil); err != nil {
		t.Fatal(err)
	}
	sky.Installed = false
	if _, err := r.Status(ctx, []string{"a"}, true); err == nil {
		t.Fatal("status without sky succeeded")
	}

	router := chi.NewRouter()
	// The HTTP adapter calls ObserveRequest once an answer is written, inside chi's routing.
	router.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			m.ObserveRequest(r, rec.Code, time.Millisecond)
		})
	})
	router.Get("/clusters/{name}/status", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) })
	for _, path := range []string{"/clusters/a/status", "/clusters/b/status", "/nope"} {
		router.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}

	wantLines(t, scrape(t, m),
		`skygate_sky_runs_total{command="launch",outcome="ok"} 1`,
		`skygate_sky_runs_total{command="down",outcome="failed"} 1`,
		`skygate_sky_runs_total{command="status",outcome="error"} 1`,
		`skygate_sky_run_duration_seconds_count{command="launch"} 1`,
		`skygate_http_requests_total{code="200",method="GET",route="/clusters/{name}/status"} 2`,
		`skygate_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`skygate_http_request_duration_seconds_count{method="GET",route="/clusters/{name}/status"} 2`,
		`skygate_clusters{status="running"} 2`,
		`skygate_clusters{status="error"} 1`,
		`skygate_clusters{status="stopped"} 0`,
		`skygate_event_streams_open 7`,
		`skygate_events_published_total 42`,
		`skygate_event_streams_dropped_total 3`,
		`skygate_sky_check_age_seconds 90`,
	)
}
