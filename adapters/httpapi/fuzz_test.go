package httpapi_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/skygate/skygate/adapters/fakerunner"
	"github.com/skygate/skygate/adapters/httpapi"
	"github.com/skygate/skygate/app"
	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

// countingUseCases counts the calls that reach the use cases.
type countingUseCases struct {
	httpapi.UseCases
	calls atomic.Int64
}

func (c *countingUseCases) Launch(ctx context.Context, name string, req core.LaunchRequest) (app.Accepted, error) {
	c.calls.Add(1)
	return c.UseCases.Launch(ctx, name, req)
}

func (c *countingUseCases) Stop(ctx context.Context, name string) (app.Accepted, error) {
	c.calls.Add(1)
	return c.UseCases.Stop(ctx, name)
}

func (c *countingUseCases) Start(ctx context.Context, name string) (app.Accepted, error) {
	c.calls.Add(1)
	return c.UseCases.Start(ctx, name)
}

func (c *countingUseCases) Destroy(ctx context.Context, name string) (app.Accepted, error) {
	c.calls.Add(1)
	return c.UseCases.Destroy(ctx, name)
}

func (c *countingUseCases) Status(ctx context.Context, name string, refresh bool) (core.Cluster, error) {
	c.calls.Add(1)
	return c.UseCases.Status(ctx, name, refresh)
}

func (c *countingUseCases) Check(ctx context.Context, refresh bool) (app.CheckInfo, error) {
	c.calls.Add(1)
	return c.UseCases.Check(ctx, refresh)
}

func (c *countingUseCases) Events(ctx context.Context, cluster string, lastEventID *uint64) (app.Replay, ports.Subscription, error) {
	c.calls.Add(1)
	return c.UseCases.Events(ctx, cluster, lastEventID)
}

func (c *countingUseCases) Backlog(ctx context.Context, cluster string, after uint64) ([]core.Event, error) {
	c.calls.Add(1)
	return c.UseCases.Backlog(ctx, cluster, after)
}

// FuzzRouter throws arbitrary requests at the whole middleware chain and the API: no
// answer is ever a 5xx, a refused request never reaches a use case, the refusals the
// request clearly calls for are given, and every answer but the event stream and the
// documents is an envelope.
func FuzzRouter(f *testing.F) {
	uc := &countingUseCases{UseCases: newService(f, fakerunner.New())}
	handler := httpapi.New(uc, httpapi.Options{
		Token: "tok", CORSOrigins: []string{trusted}, Loopback: true, AllowedHosts: []string{"skygate"},
		MaxStreams: 4, Logger: zerolog.Nop(),
	})
	f.Add("POST", "/cluster/launch", `{"cloud":"aws"}`, "application/json", "Bearer tok", "", "", "", "")
	f.Add("POST", "/cluster/launch", `{"cloud":null,"region":"x"}`, "application/json", "Bearer tok", trusted, "cross-site", "localhost:8080", "")
	f.Add("POST", "/cluster/launch", "a=b", "application/x-www-form-urlencoded", "Bearer tok", "http://evil.example", "cross-site", "", "")
	f.Add("POST", "/cluster/stop", "", "", "Bearer tok", "http://evil.example", "cross-site", "", "")
	f.Add("POST", "/cluster/stop", "x", "text/plain", "Bearer tok", "", "", "", "")
	f.Add("POST", "/cluster/destroy", "", "", "Bearer tok", "http://evil.example", "", "evil.example", "")
	f.Add("POST", "/cluster/destroy", "\x00\xff", "application/cbor", "Bearer tok", "", "", "", "")
	f.Add("GET", "/cluster/status?refresh=true", "", "", "Bearer tok", "", "", "[::1]:8080", "")
	f.Add("GET", "/cluster/status", "", "", "", "", "", "", "")
	f.Add("GET", "/cluster/events?access_token=tok", "", "", "", "", "", "", "7")
	f.Add("GET", "/cluster/events", "", "", "Bearer tok", "", "", "rebind.evil.example:8080", "x")
	f.Add("HEAD", "/cluster/events", "", "", "Bearer tok", "", "", "", "")
	f.Add("HEAD", "/cluster/status", "", "", "Bearer tok", "", "same-origin", "app.localhost", "")
	f.Add("PUT", "/cluster/stop", "{}", "text/plain", "Bearer nope", "", "", "", "")
	f.Add("OPTIONS", "/cluster/launch", "", "", "", trusted, "cross-site", "", "")
	f.Add("GET", "/healthz/../cluster/check", "", "", "", "", "", "", "")
	f.Add("GET", "/schemas/Nope.json", "", "", "", "", "", "", "")
	f.Add("GET", "/docs", "", "", "", "", "", "evil.example", "")
	f.Add("GET", "/clusters/a/events?access_token=tok", "", "", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, method, path, body, contentType, auth, origin, fetchSite, host, lastEventID string) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequest(method, "http://skygate"+path, strings.NewReader(body))
		if err != nil {
			return // not a request a client could send
		}
		if host != "" {
			req.Host = host
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		req = req.WithContext(ctx)
		for k, v := range map[string]string{"Content-Type": contentType, "Authorization": auth, "Origin": origin, "Sec-Fetch-Site": fetchSite, "Last-Event-ID": lastEventID} {
			if v != "" {
				req.Header[k] = []string{v}
			}
		}
		before := uc.calls.Load()
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		reached := uc.calls.Load() != before
		if rec.Code >= 500 {
			t.Fatalf("%s %q answered %d: %s", method, path, rec.Code, rec.Body)
		}
		var env envelope
		isDocument := req.URL.Path == "/docs" || strings.HasPrefix(req.URL.Path, "/openapi") || strings.HasPrefix(req.URL.Path, "/schemas/")
		if !(rec.Code == 200 && (isDocument || rec.Header().Get("Content-Type") == "text/event-stream")) {
			env = decode(t, rec.Body.Bytes())
			checkEnvelope(t, rec.Code, asJSON(req.URL.Path), env, rec.Body.Bytes())
		}
		switch rec.Code {
		case 401, 403, 415, 503:
			if reached {
				t.Fatalf("%s %q was refused with %d but reached a use case", method, path, rec.Code)
			}
		}
		// The refusals this request clearly calls for, in the order they are decided.
		name := hostOf(req.Host)
		unsafe := method != "GET" && method != "HEAD" && method != "OPTIONS"
		var want string
		switch {
		case strings.Contains(name, "evil") && !strings.HasSuffix(strings.TrimSuffix(name, "."), "localhost"):
			want = "host"
		case name != "" && name != "skygate" && name != "localhost" && name != "127.0.0.1" && name != "::1":
			return // a name the oracle does not judge
		case unsafe && fetchSite == "cross-site" && origin != trusted:
			want = "origin"
		case unsafe && fetchSite == "" && origin == "http://evil.example":
			want = "origin"
		case fetchSite == "" && origin == "" && auth == "" && !strings.Contains(req.URL.RawQuery, "access_token") &&
			(req.URL.Path == "/cluster" || strings.HasPrefix(req.URL.Path, "/cluster/")):
			want = "auth"
		}
		if want != "" && (env.Errors[want] == nil || reached) {
			t.Fatalf("%s %q (Host %q, Origin %q, Sec-Fetch-Site %q) answered %d %s; want a refusal on %s that reaches no use case",
				method, path, host, origin, fetchSite, rec.Code, rec.Body, want)
		}
	})
}

// asJSON is s as it reads after a trip through JSON, which replaces invalid UTF-8.
func asJSON(s string) string {
	raw, _ := json.Marshal(s)
	_ = json.Unmarshal(raw, &s)
	return s
}

// hostOf is the lower-cased name in a Host header, without its port.
func hostOf(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.Trim(strings.ToLower(host), "[]")
}
