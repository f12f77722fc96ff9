package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/skygate/skygate/adapters/fakerunner"
	"github.com/skygate/skygate/adapters/httpapi"
	"github.com/skygate/skygate/adapters/memstore"
	"github.com/skygate/skygate/adapters/metrics"
	"github.com/skygate/skygate/app"
	"github.com/skygate/skygate/core"
)

// benchHandler is the API as skygate serves it (request log at info, request metrics,
// the loopback Host check) over a store holding clusters running clusters besides the
// default one, which runs too.
func benchHandler(b *testing.B, clusters int) http.Handler {
	b.Helper()
	store := memstore.New(memstore.Options{})
	at := time.Unix(1796171816, 0)
	for i := range clusters + 1 {
		name := "skygate"
		if i > 0 {
			name = fmt.Sprintf("team-%04d", i)
		}
		_, _, err := store.Update(context.Background(), name, func(core.Cluster) (core.Cluster, []core.Event, error) {
			return core.Cluster{Name: name, Status: core.StatusRunning, Desired: core.DesiredUp, Cloud: "aws", Region: "us-east-1",
				IP: fmt.Sprintf("3.91.%d.%d", i/250, i%250), LaunchedAt: at, UpdatedAt: at}, nil, nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	svc := serviceOver(b, fakerunner.New(), store, app.Config{MaxClusters: clusters + 1})
	log := zerolog.New(io.Discard).With().Timestamp().Logger()
	return httpapi.New(svc, httpapi.Options{Logger: log, Loopback: true, ObserveRequest: metrics.New(metrics.Sources{}).ObserveRequest})
}

func benchRequest(path string) *http.Request {
	req := httptest.NewRequest("GET", path, nil)
	req.Host = "127.0.0.1:8080"
	return req
}

// serveBench serves GET path from h in parallel, as concurrent connections would.
func serveBench(b *testing.B, h http.Handler, path string) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := benchRequest(path)
		for pb.Next() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
			}
		}
	})
}

// BenchmarkStatusHandler is GET /cluster/status end to end through the router and the
// middleware, without a network.
func BenchmarkStatusHandler(b *testing.B) {
	serveBench(b, benchHandler(b, 0), "/cluster/status")
}

// BenchmarkFleetStatusHandler is GET /clusters/{name}/status in a fleet of 1,000.
func BenchmarkFleetStatusHandler(b *testing.B) {
	serveBench(b, benchHandler(b, 999), "/clusters/team-0500/status")
}

// BenchmarkListClustersHandler is GET /clusters with 1,000 clusters.
func BenchmarkListClustersHandler(b *testing.B) {
	serveBench(b, benchHandler(b, 999), "/clusters")
}

// BenchmarkBareHandler writes the bytes of GET /cluster/status from a bare net/http
// handler: the baseline of BenchmarkStatusHandler.
func BenchmarkBareHandler(b *testing.B) {
	rec := httptest.NewRecorder()
	benchHandler(b, 0).ServeHTTP(rec, benchRequest("/cluster/status"))
	body := rec.Body.Bytes()
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	serveBench(b, bare, "/cluster/status")
}
