package httpapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/skygate/skygate/adapters/httpapi"
)

func TestHeadAnswersAsGet(t *testing.T) {
	s := newServer(t, httpapi.Options{})
	client := &http.Client{Timeout: 5 * time.Second}
	for path, contentType := range map[string]string{
		"/cluster/status": "application/json", "/cluster/check": "application/json", "/healthz": "application/json",
		"/openapi.json": "application/openapi+json", "/schemas/StatusResult.json": "application/json",
		"/cluster/events": "text/event-stream",
	} {
		get, err := client.Get(s.url + path)
		if err != nil {
			t.Fatal(err)
		}
		get.Body.Close()
		resp, err := client.Head(s.url + path)
		if err != nil {
			t.Fatalf("HEAD %s: %v", path, err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(raw) != 0 || resp.Header.Get("Content-Type") != contentType || resp.Header.Get("Content-Type") != get.Header.Get("Content-Type") {
			t.Errorf("HEAD %s: %d %q, %d body bytes; want 200 %s without a body", path, resp.StatusCode, resp.Header.Get("Content-Type"), len(raw), contentType)
		}
	}
}

func TestMethodNotAllowedSaysAllow(t *testing.T) {
	s := newServer(t, httpapi.Options{})
	for _, tc := range []struct{ method, path, allow string }{
		{"DELETE", "/cluster/status", "GET, HEAD"},
		{"POST", "/cluster/events", "GET, HEAD"},
		{"GET", "/cluster/launch", "POST"},
		{"HEAD", "/cluster/stop", "POST"},
		{"PUT", "/healthz", "GET, HEAD"},
	} {
		req, _ := http.NewRequest(tc.method, s.url+tc.path, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d Allow %q, want 405 Allow %q", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Allow"), tc.allow)
		}
		if tc.method != "HEAD" {
			checkEnvelope(t, resp.StatusCode, tc.path, decode(t, raw), raw)
		}
	}
}

func TestUnknownSchemaIs404(t *testing.T) {
	s := newServer(t, httpapi.Options{})
	for _, path := range []string{"/schemas/Nope.json", "/schemas/Nope", "/schemas/.json"} {
		if code, env := s.do("GET", path, ""); code != 404 || env.Errors["route"] == nil {
			t.Errorf("GET %s: %d %v, want 404", path, code, env.Errors)
		}
	}
	for _, path := range []string{"/schemas/StatusResult.json", "/schemas/StatusResult"} {
		resp, err := client.Get(s.url + path)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(raw), `"launched_at"`) || !strings.Contains(string(raw), `/schemas/ClusterStatus.json`) {
			t.Errorf("GET %s: %d %s", path, resp.StatusCode, raw)
		}
	}
}
