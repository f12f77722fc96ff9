package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/skygate/skygate/adapters/fakerunner"
	"github.com/skygate/skygate/adapters/httpapi"
	"github.com/skygate/skygate/core"
)

// benchHandler is the API over a running cluster, logging nowhere.
func benchHandler(b *testing.B) http.Handler {
	b.Helper()
	svc := newService(b, fakerunner.New())
	if _, err := svc.Launch(context.Background(), "skygate", core.LaunchRequest{}); err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		if rec, _ := svc.Status(context.Background(), "skygate", false); rec.Status == core.StatusRunning {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("cluster did not come up")
		}
		time.Sleep(time.Millisecond)
	}
	return httpapi.New(svc, httpapi.Options{Logger: zerolog.Nop()})
}

// BenchmarkStatusHandler is GET /cluster/status end to end through the router and the
// middleware, without a network.
func BenchmarkStatusHandler(b *testing.B) {
	h := benchHandler(b)
	req := httptest.NewRequest("GET", "/cluster/status", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}

// BenchmarkBareHandler writes the same bytes from a bare net/http handler: the baseline
// of BenchmarkStatusHandler.
func BenchmarkBareHandler(b *testing.B) {
	rec := httptest.NewRecorder()
	benchHandler(b).ServeHTTP(rec, httptest.NewRequest("GET", "/cluster/status", nil))
	body := rec.Body.Bytes()
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	req := httptest.NewRequest("GET", "/cluster/status", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		bare.ServeHTTP(rec, req)
		io.Discard.Write(rec.Body.Bytes())
	}
}
