package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/rs/zerolog"

	"github.com/skygate/skygate/adapters/clock"
	"github.com/skygate/skygate/adapters/fakerunner"
	"github.com/skygate/skygate/adapters/httpapi"
	"github.com/skygate/skygate/adapters/membus"
	"github.com/skygate/skygate/adapters/memstore"
	"github.com/skygate/skygate/app"
	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

type envelope struct {
	Status string              `json:"status"`
	Result json.RawMessage     `json:"result"`
	Errors map[string][]string `json:"errors"`
	Meta   struct {
		Path       string   `json:"path"`
		Timestamp  string   `json:"timestamp"`
		DurationMS *float64 `json:"duration_ms"`
	} `json:"meta"`
}

type server struct {
	t   *testing.T
	url string
	sky *fakerunner.Runner
}

// newService returns the use cases over sky, in memory, shut down when tb ends.
func newService(tb testing.TB, sky *fakerunner.Runner) *app.Service {
	return serviceOver(tb, sky, memstore.New(memstore.Options{}), app.Config{})
}

// serviceOver is a service with the default cluster "skygate" over store, shut down when
// the test ends.
func serviceOver(tb testing.TB, sky *fakerunner.Runner, store ports.Store, cfg app.Config) *app.Service {
	cfg.DefaultCluster, cfg.RefreshInterval = "skygate", time.Hour
	svc := app.New(cfg, sky, store, membus.New(membus.Options{}), clock.System{}, app.DirTaskFiles(tb.TempDir()), zerolog.Nop())
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		svc.Shutdown(ctx)
	})
	return svc
}

func newServer(t *testing.T, opts httpapi.Options) *server {
	t.Helper()
	opts.Logger = zerolog.Nop()
	return startServer(t, opts, nil)
}

// startServer serves the API over a fresh service with opts as they are; configure, if
// set, adjusts the http.Server before it starts.
func startServer(t *testing.T, opts httpapi.Options, configure func(*http.Server)) *server {
	t.Helper()
	sky := fakerunner.New()
	svc := newService(t, sky)
	ts := httptest.NewUnstartedServer(httpapi.New(svc, opts))
	if configure != nil {
		configure(ts.Config)
	}
	ts.Start()
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
	})
	return &server{t: t, url: ts.URL, sky: sky}
}

// client bounds every call, so that a stream answered where a refusal was due fails
// the test instead of hanging it.
var client = &http.Client{Timeout: 10 * time.Second}

// do sends a request and decodes the envelope, checking its shape on every answer.
func (s *server) do(method, path, body string, header ...string) (int, envelope) {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	setHeaders(req, header)
	resp, err := client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	env := decode(s.t, raw)
	checkEnvelope(s.t, resp.StatusCode, req.URL.Path, env, raw)
	return resp.StatusCode, env
}

// decode reads an envelope, failing the test on anything else.
func decode(t *testing.T, raw []byte) envelope {
	t.Helper()
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatalf("answer is not an envelope: %v\n%s", err, raw)
	}
	return env
}

// setHeaders sets name, value pairs on req; Host sets the request's Host.
func setHeaders(req *http.Request, header []string) {
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
}

func checkEnvelope(t *testing.T, code int, path string, env envelope, raw []byte) {
	t.Helper()
	if _, err := time.Parse(time.RFC3339, env.Meta.Timestamp); err != nil || env.Meta.Path != path || env.Meta.DurationMS == nil {
		t.Fatalf("bad meta for %s: %s", path, raw)
	}
	if code < 400 {
		if env.Status != "success" || env.Errors != nil || string(env.Result) == "null" {
			t.Fatalf("bad success envelope: %s", raw)
		}
		return
	}
	if env.Status != "error" || string(env.Result) != "null" || len(env.Errors) == 0 {
		t.Fatalf("bad error envelope (%d): %s", code, raw)
	}
	for k, msgs := range env.Errors {
		if k == "" || len(msgs) == 0 || msgs[0] == "" {
			t.Fatalf("empty error entry in %s", raw)
		}
	}
}

func (s *server) result(env envelope, v any) {
	s.t.Helper()
	if err := json.Unmarshal(env.Result, v); err != nil {
		s.t.Fatal(err)
	}
}

type statusBody struct {
	Status     string  `json:"status"`
	Name       *string `json:"name"`
	Cloud      *string `json:"cloud"`
	Region     *string `json:"region"`
	IP         *string `json:"ip"`
	LaunchedAt *int64  `json:"launched_at"`
	Error      *string `json:"error"`
}

func (s *server) status() statusBody {
	s.t.Helper()
	code, env := s.do("GET", "/cluster/status", "")
	if code != 200 {
		s.t.Fatalf("status answered %d", code)
	}
	var st statusBody
	s.result(env, &st)
	return st
}

func (s *server) waitStatus(want string) statusBody {
	s.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := s.status()
		if st.Status == want {
			return st
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("status stayed %s, want %s", st.Status, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLifecycleRoutes(t *testing.T) {
	s := newServer(t, httpapi.Options{})
	st := s.status()
	if st.Status != "no_server" || st.Name != nil || st.Cloud != nil || st.IP != nil || st.LaunchedAt != nil || st.Error != nil {
		t.Fatalf("initial status = %+v", st)
	}
	for _, path := range []string{"/cluster/stop", "/cluster/start", "/cluster/destroy"} {
		if code, env := s.do("POST", path, ""); code != 404 || env.Errors["cluster"] == nil {
			t.Fatalf("%s with no cluster: %d %v", path, code, env.Errors)
		}
	}
	code, env := s.do("POST", "/cluster/launch", `{"cloud":"aws","region":"us-east-1","instance_type":"m5.xlarge"}`)
	var acc struct {
		Message     string `json:"message"`
		ClusterName string `json:"cluster_name"`
	}
	s.result(env, &acc)
	if code != 202 || acc.ClusterName != "skygate" || acc.Message == "" {
		t.Fatalf("launch: %d %+v", code, acc)
	}
	st = s.waitStatus("running")
	if *st.Name != "skygate" || *st.Cloud != "aws" || *st.Region != "us-east-1" || *st.IP != "203.0.113.10" || st.LaunchedAt == nil || st.Error != nil {
		t.Fatalf("running status = %+v", st)
	}
	if code, env := s.do("POST", "/cluster/launch", ""); code != 409 || !strings.Contains(env.Errors["cluster"][0], "running") {
		t.Fatalf("second launch: %d %v", code, env.Errors)
	}
	if code, _ := s.do("POST", "/cluster/start", ""); code != 409 {
		t.Fatalf("start while running: %d", code)
	}
	if code, _ := s.do("POST", "/cluster/stop", ""); code != 202 {
		t.Fatalf("stop: %d", code)
	}
	if st := s.waitStatus("stopped"); st.IP != nil {
		t.Fatalf("stopped status keeps ip: %+v", st)
	}
	if code, _ := s.do("POST", "/cluster/start", ""); code != 202 {
		t.Fatalf("start: %d", code)
	}
	s.waitStatus("running")
	s.sky.Hold("destroy")
	if code, _ := s.do("POST", "/cluster/destroy", ""); code != 202 {
		t.Fatalf("destroy: %d", code)
	}
	if code, env := s.do("POST", "/cluster/destroy", ""); code != 409 || !strings.Contains(env.Errors["cluster"][0], "destroy") {
		t.Fatalf("destroy while destroying: %d %v", code, env.Errors)
	}
	s.sky.Release("destroy")
	if st := s.waitStatus("no_server"); st.Name != nil || st.Cloud != nil || st.Region != nil || st.IP != nil {
		t.Fatalf("destroyed status = %+v", st)
	}
}

func TestFailedDependency(t *testing.T) {
	s := newServer(t, httpapi.Options{})
	s.sky.Installed = false
	code, env := s.do("POST", "/cluster/launch", "")
	if code != 424 || env.Errors["sky"] == nil {
		t.Fatalf("sky missing: %d %v", code, env.Errors)
	}
	code, env = s.do("GET", "/cluster/check?refresh=true", "")
	var check struct {
		SkyInstalled   bool              `json:"sky_installed"`
		SkyVersion     *string           `json:"sky_version"`
		EnabledClouds  []string          `json:"enabled_clouds"`
		DisabledClouds map[string]string `json:"disabled_clouds"`
	}
	s.result(env, &check)
	if code != 200 || check.SkyInstalled || check.SkyVersion != nil || check.EnabledClouds == nil || check.DisabledClouds == nil {
		t.Fatalf("check with sky missing: %d %s", code, env.Result)
	}

	s.sky.Installed = true
	s.sky.SetCheck(core.CheckResult{Disabled: map[string]string{"aws": "AWS credentials are not set."}}, nil)
	s.do("GET", "/cluster/check?refresh=true", "")
	if code, env := s.do("POST", "/cluster/launch", ""); code != 424 || env.Errors["credentials"] == nil {
		t.Fatalf("no cloud: %d %v", code, env.Errors)
	}
	s.sky.SetCheck(fakerunner.EnabledCheck(), nil)
	code, env = s.do("GET", "/cluster/check?refresh=true", "")
	s.result(env, &check)
	if code != 200 || !check.SkyInstalled || *check.SkyVersion != "0.10.3" || strings.Join(check.EnabledClouds, ",") != "aws,gcp" || check.DisabledClouds["azure"] == "" {
		t.Fatalf("check: %d %s", code, env.Result)
	}
	if code, env := s.do("POST", "/cluster/launch", `{"cloud":"azure"}`); code != 424 || env.Errors["credentials"] == nil {
		t.Fatalf("cloud not enabled: %d %v", code, env.Errors)
	}
}

func TestBadInput(t *testing.T) {
	s := newServer(t, httpapi.Options{})
	cases := []struct {
		method, path, body, contentType string
		code                            int
		key                             string
	}{
		{"POST", "/cluster/launch", `{"cloud":"mars"}`, "application/json", 422, "body.cloud"},
		{"POST", "/cluster/launch", `{"region":"us east"}`, "application/json", 422, "body.region"},
		{"POST", "/cluster/launch", `{"instance_type":"a;b"}`, "application/json", 422, "body.instance_type"},
		{"POST", "/cluster/launch", `{"cloud":5}`, "application/json", 422, "body.cloud"},
		{"POST", "/cluster/launch", `{"foo":1}`, "application/json", 422, "body.foo"},
		{"POST", "/cluster/launch", `{bad`, "application/json", 400, "body"},
		{"POST", "/cluster/launch", `[1]`, "application/json", 422, "body"},
		{"POST", "/cluster/launch", `x`, "text/plain", 415, "body"},
		{"POST", "/cluster/launch", `{"cloud":"` + strings.Repeat("a", 70000) + `"}`, "application/json", 413, "body"},
		// Field names are matched exactly: of two spellings, neither may silently win.
		{"POST", "/cluster/launch", `{"Cloud":"gcp"}`, "application/json", 422, "body.Cloud"},
		{"POST", "/cluster/launch", `{"cloud":"aws","Cloud":"gcp"}`, "application/json", 422, "body.Cloud"},
		// A media type is case-insensitive: this body is read, and refused for its cloud.
		{"POST", "/cluster/launch", `{"cloud":"mars"}`, "APPLICATION/JSON", 422, "body.cloud"},
		// Stop, start and destroy take no options, and their bodies are held to the same rules.
		{"POST", "/cluster/stop", `{"force":true}`, "application/json", 422, "body.force"},
		{"POST", "/cluster/start", `not json`, "application/json", 400, "body"},
		{"POST", "/clusters/c1/destroy", `{"purge":true}`, "application/json", 422, "body.purge"},
		{"POST", "/clusters/c1/stop", `{"x":"` + strings.Repeat("a", 70000) + `"}`, "application/json", 413, "body"},
		{"GET", "/cluster/status?refresh=maybe", "", "", 422, "query.refresh"},
		{"GET", "/cluster/nothing", "", "", 404, "route"},
		{"DELETE", "/cluster/status", "", "", 405, "method"},
		{"GET", "/cluster/launch", "", "", 405, "method"},
		// A method no route takes, on a path no route has, is a path without a route.
		{"FOOBAR", "/nothing", "", "", 404, "route"},
		{"FOOBAR", "/cluster/status", "", "", 405, "method"},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, s.url+tc.path, strings.NewReader(tc.body))
		if tc.contentType != "" {
			req.Header.Set("Content-Type", tc.contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var env envelope
		if err := json.Unmarshal(raw, &env); err != nil {
			t.Fatalf("%s %s: not JSON: %s", tc.method, tc.path, raw)
		}
		checkEnvelope(t, resp.StatusCode, strings.SplitN(tc.path, "?", 2)[0], env, raw)
		if resp.StatusCode == 405 && resp.Header.Get("Allow") == "" {
			t.Errorf("%s %s: a 405 without Allow", tc.method, tc.path)
		}
		if resp.StatusCode != tc.code || env.Errors[tc.key] == nil {
			t.Errorf("%s %s %.40q: %d %s, want %d on %s", tc.method, tc.path, tc.body, resp.StatusCode, raw, tc.code, tc.key)
		}
	}
	if st := s.status(); st.Status != "no_server" || s.sky.Count("launch") != 0 {
		t.Fatalf("bad input changed something: %+v", st)
	}
}

// A body of 64 KiB is taken, one byte more is not; stop, start and destroy take an empty
// object or null as no body.
func TestBodySizeAndEmptyBodies(t *testing.T) {
	s := newServer(t, httpapi.Options{})
	body := func(size int) string {
		b := `{"cloud":"aws"}`
		return b + strings.Repeat(" ", size-len(b))
	}
	for _, c := range []struct {
		path, body string
		code       int
	}{
		{"/cluster/launch", body(httpapi.MaxBodyBytes + 1), 413},
		{"/cluster/launch", body(httpapi.MaxBodyBytes), 202},
		{"/cluster/stop", `null`, 202},
		{"/cluster/destroy", `{}`, 202},
	} {
		code, env := s.do("POST", c.path, c.body)
		if code != c.code {
			t.Errorf("POST %s with %d bytes: %d %v, want %d", c.path, len(c.body), code, env.Errors, c.code)
		}
	}
}

func TestAuth(t *testing.T) {
	s := newServer(t, httpapi.Options{Token: "s3cret"})
	cases := []struct {
		path   string
		header []string
		code   int
	}{
		{"/cluster/status", nil, 401},
		{"/cluster/status", []string{"Authorization", "Bearer wrong"}, 401},
		{"/cluster/status", []string{"Authorization", "Basic s3cret"}, 401},
		{"/cluster/status", []string{"Authorization", "Bearer s3cret"}, 200},
		{"/cluster/status?access_token=s3cret", nil, 401}, // only the event stream takes the query token
		{"/healthz", nil, 200},
	}
	for _, tc := range cases {
		code, env := s.do("GET", tc.path, "", tc.header...)
		if code != tc.code || (code == 401 && env.Errors["auth"] == nil) {
			t.Errorf("%s %v: %d %v, want %d", tc.path, tc.header, code, env.Errors, tc.code)
		}
	}
	for _, path := range []string{"/openapi.json", "/openapi.yaml", "/docs"} {
		resp, err := http.Get(s.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}
	resp, err := http.Get(s.url + "/cluster/events?access_token=s3cret")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events with access_token: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, _ = http.Get(s.url + "/cluster/events?access_token=nope")
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("events with a wrong access_token: %d", resp.StatusCode)
	}
}

type sseEvent struct {
	id    uint64
	event string
	data  map[string]any
}

// readEvents reads SSE frames until stop says so or the deadline passes.
func readEvents(t *testing.T, body io.Reader, stop func(sseEvent) bool) (events []sseEvent, comments int) {
	t.Helper()
	sc := bufio.NewScanner(body)
	var cur sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, ":"):
			comments++
		case strings.HasPrefix(line, "id: "):
			cur.id, _ = strconv.ParseUint(strings.TrimPrefix(line, "id: "), 10, 64)
		case strings.HasPrefix(line, "event: "):
			cur.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &cur.data); err != nil {
				t.Fatalf("bad data line %q", line)
			}
		case line == "":
			if cur.event == "" {
				continue
			}
			events = append(events, cur)
			if stop(cur) {
				return events, comments
			}
			cur = sseEvent{}
		}
	}
	return events, comments
}

func openStream(t *testing.T, url string, header ...string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	setHeaders(req, header)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestEventStream(t *testing.T) {
	s := newServer(t, httpapi.Options{KeepAlive: 20 * time.Millisecond})
	// Headers arrive before any event.
	resp := openStream(t, s.url+"/cluster/events")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s.sky.Hold("launch")
	if code, _ := s.do("POST", "/cluster/launch", ""); code != 202 {
		t.Fatal(code)
	}
	time.Sleep(60 * time.Millisecond) // let a keep-alive comment pass while sky is held
	s.sky.Release("launch")
	events, comments := readEvents(t, resp.Body, func(e sseEvent) bool { return e.event == "complete" })
	if comments == 0 {
		t.Error("no keep-alive comment")
	}
	var names []string
	for i, e := range events {
		names = append(names, e.event)
		if e.id != uint64(i+1) || e.data["type"] != e.event || e.data["message"] == "" {
			t.Fatalf("event %d = %+v", i, e)
		}
		if _, err := time.Parse(time.RFC3339, e.data["timestamp"].(string)); err != nil {
			t.Fatalf("timestamp %v", e.data["timestamp"])
		}
	}
	got := strings.Join(names, ",")
	if got != "status,progress,progress,status,complete" || events[0].data["status"] != "provisioning" || events[3].data["status"] != "running" {
		t.Fatalf("events = %s %+v", got, events)
	}
	// Resume after id 3: the rest, and nothing before.
	resumed := openStream(t, s.url+"/cluster/events", "Last-Event-ID", "3")
	again, _ := readEvents(t, resumed.Body, func(e sseEvent) bool { return e.event == "complete" })
	if len(again) != len(events)-3 || again[0].id != 4 {
		t.Fatalf("resume = %+v", again)
	}
	// A new connection at rest gets no old events: the next one it sees is new.
	// So does one whose Last-Event-ID the service never issued (a state dir reset under
	// an open page): it counts as none.
	fresh := openStream(t, s.url+"/cluster/events")
	ahead := openStream(t, s.url+"/cluster/events", "Last-Event-ID", "999999")
	s.do("POST", "/cluster/stop", "")
	for name, stream := range map[string]*http.Response{"fresh": fresh, "Last-Event-ID 999999": ahead} {
		next, _ := readEvents(t, stream.Body, func(sseEvent) bool { return true })
		if next[0].id != uint64(len(events)+1) || next[0].data["status"] != "stopping" {
			t.Fatalf("%s connection got %+v", name, next)
		}
	}
}

func TestOpenAPIDocumentsEnvelopes(t *testing.T) {
	doc := httpapi.OpenAPI("test")
	checked := 0
	for path, item := range doc.Paths {
		for method, op := range map[string]*huma.Operation{"GET": item.Get, "POST": item.Post} {
			if op == nil {
				continue
			}
			for code, r := range op.Responses {
				checked++
				if code == "200" && strings.HasSuffix(path, "events") {
					if r.Content["text/event-stream"] == nil {
						t.Errorf("%s %s: no event-stream schema", method, path)
					}
					continue
				}
				mt := r.Content["application/json"]
				if mt == nil || mt.Schema == nil || !strings.Contains(mt.Schema.Ref, "nvelope") {
					t.Errorf("%s %s %s: not an envelope: %+v", method, path, code, mt)
				}
			}
		}
	}
	if checked < 30 {
		t.Fatalf("only %d responses documented", checked)
	}
	raw, _ := json.Marshal(doc)
	for _, want := range []string{`"no_server"`, `"destroying"`, `"progress"`, `"bearer"`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("OpenAPI document lacks %s", want)
		}
	}
	if strings.Contains(string(raw), `"$schema"`) {
		t.Error("OpenAPI document still has $schema links")
	}
}

func TestLaunchBodyMayBeAbsentOrNull(t *testing.T) {
	for _, body := range []string{"", "null", "{}", `{"cloud":null,"region":null,"instance_type":null}`} {
		s := newServer(t, httpapi.Options{})
		if code, env := s.do("POST", "/cluster/launch", body); code != 202 {
			t.Fatalf("body %q: %d %v", body, code, env.Errors)
		}
		s.waitStatus("running")
	}
}

func TestCORS(t *testing.T) {
	s := newServer(t, httpapi.Options{Token: "tok", CORSOrigins: []string{"http://app.example"}})
	preflight, _ := http.NewRequest("OPTIONS", s.url+"/cluster/launch", nil)
	preflight.Header.Set("Origin", "http://app.example")
	preflight.Header.Set("Access-Control-Request-Method", "POST")
	preflight.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
	resp, err := http.DefaultClient.Do(preflight)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 || resp.Header.Get("Access-Control-Allow-Origin") != "http://app.example" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	stream := openStream(t, s.url+"/cluster/events?access_token=tok", "Origin", "http://app.example")
	if stream.Header.Get("Access-Control-Allow-Origin") != "http://app.example" {
		t.Fatalf("event stream headers: %v", stream.Header)
	}
	other := openStream(t, s.url+"/cluster/events?access_token=tok", "Origin", "http://evil.example")
	if other.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("a foreign origin was allowed: %v", other.Header)
	}
}
