package httpapi_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/skygate/skygate/adapters/httpapi"
)

const trusted = "http://app.example"

// lifecycle lists the POST routes; stop, start and destroy take no body.
var lifecycle = []string{"/cluster/launch", "/cluster/stop", "/cluster/start", "/cluster/destroy"}

func TestCrossOriginRequestsAreRefused(t *testing.T) {
	s := newServer(t, httpapi.Options{CORSOrigins: []string{trusted}})
	refused := []struct {
		name   string
		body   string
		header []string
	}{
		{"cross-site, no body", "", []string{"Sec-Fetch-Site", "cross-site", "Origin", "http://evil.example"}},
		{"cross-site text/plain", "{}", []string{"Sec-Fetch-Site", "cross-site", "Origin", "http://evil.example", "Content-Type", "text/plain"}},
		{"cross-site form", "a=b", []string{"Sec-Fetch-Site", "cross-site", "Origin", "http://evil.example", "Content-Type", "application/x-www-form-urlencoded"}},
		{"same-site, untrusted", "", []string{"Sec-Fetch-Site", "same-site", "Origin", "http://other.app.example"}},
		{"old browser, foreign Origin", "", []string{"Origin", "http://evil.example"}},
		{"old browser, opaque Origin", "", []string{"Origin", "null"}},
	}
	for _, path := range lifecycle {
		for _, tc := range refused {
			if code, env := s.do("POST", path, tc.body, tc.header...); code != 403 || env.Errors["origin"] == nil {
				t.Errorf("%s %s: %d %v, want 403 on origin", path, tc.name, code, env.Errors)
			}
		}
	}
	if n := s.sky.Count("launch"); n != 0 {
		t.Fatalf("a refused request ran sky launch %d times", n)
	}
	if st := s.status(); st.Status != "no_server" {
		t.Fatalf("a refused request changed the cluster: %+v", st)
	}
	// Reaching the use case shows as its 404 (no cluster to stop).
	allowed := map[string][]string{
		"curl (no Origin, no Sec-Fetch-Site)": nil,
		"same-origin":                         {"Sec-Fetch-Site", "same-origin", "Origin", s.url},
		"typed by the user":                   {"Sec-Fetch-Site", "none"},
		"old browser, same origin":            {"Origin", s.url},
		"trusted origin":                      {"Sec-Fetch-Site", "cross-site", "Origin", trusted},
	}
	for name, header := range allowed {
		if code, env := s.do("POST", "/cluster/stop", "", header...); code != 404 || env.Errors["cluster"] == nil {
			t.Errorf("%s: %d %v, want the use case's 404", name, code, env.Errors)
		}
	}
	// Safe methods are never refused for their origin.
	if code, _ := s.do("GET", "/cluster/status", "", "Sec-Fetch-Site", "cross-site", "Origin", "http://evil.example"); code != 200 {
		t.Errorf("cross-site GET: %d", code)
	}
}

func TestHostMustNameSkygateOnLoopback(t *testing.T) {
	s := newServer(t, httpapi.Options{Loopback: true, AllowedHosts: []string{"skygate.example", ".lan.example"}})
	for _, host := range []string{"evil.example", "evil.example:8080", "localhost.evil.example", "skygate.example.evil", "10.0.0.5:8080", "lan.example.evil"} {
		for _, path := range []string{"/cluster/status", "/cluster/events", "/healthz", "/openapi.json", "/docs", "/schemas/StatusResult.json", "/nothing"} {
			if code, env := s.do("GET", path, "", "Host", host); code != 403 || env.Errors["host"] == nil {
				t.Errorf("GET %s with Host %s: %d %v, want 403 on host", path, host, code, env.Errors)
			}
		}
		if code, _ := s.do("POST", "/cluster/launch", "", "Host", host); code != 403 {
			t.Errorf("POST /cluster/launch with Host %s: %d", host, code)
		}
	}
	if n := s.sky.Count("launch"); n != 0 {
		t.Fatalf("a refused request ran sky launch %d times", n)
	}
	for _, host := range []string{"localhost", "localhost:8080", "LOCALHOST:1", "127.0.0.1:8080", "127.0.0.2", "[::1]:8080", "[::1]", "app.localhost:5173", "skygate.example", "skygate.example:443", "lan.example", "a.b.lan.example:8080"} {
		if code, env := s.do("GET", "/healthz", "", "Host", host); code != 200 {
			t.Errorf("Host %s: %d %v, want 200", host, code, env.Errors)
		}
	}
	resp := openStream(t, s.url+"/cluster/events", "Host", "localhost")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("event stream with Host localhost: %d", resp.StatusCode)
	}

	// A listener on all interfaces answers to any name, unless allowed hosts are given.
	open := newServer(t, httpapi.Options{})
	if code, _ := open.do("GET", "/cluster/status", "", "Host", "skygate.internal:8080"); code != 200 {
		t.Fatalf("non-loopback listener refused a Host: %d", code)
	}
	listed := newServer(t, httpapi.Options{AllowedHosts: []string{"skygate.internal"}})
	if code, _ := listed.do("GET", "/cluster/status", "", "Host", "skygate.internal:8080"); code != 200 {
		t.Fatalf("allowed host refused: %d", code)
	}
	if code, _ := listed.do("GET", "/cluster/status", "", "Host", "evil.example"); code != 403 {
		t.Fatalf("a host outside --allowed-hosts was answered: %d", code)
	}
}

// unsized hides a body's length, so the client sends it chunked.
type unsized struct{ io.Reader }

func TestBodiesMustBeJSON(t *testing.T) {
	s := newServer(t, httpapi.Options{})
	for _, path := range lifecycle {
		for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx", "", "application/json;;"} {
			req, _ := http.NewRequest("POST", s.url+path, strings.NewReader("{}"))
			req.Header.Set("Content-Type", ct)
			if ct == "" {
				req.Header.Del("Content-Type")
			}
			if code, env := send(t, req); code != 415 || env.Errors["body"] == nil {
				t.Errorf("POST %s with %q: %d %v, want 415", path, ct, code, env.Errors)
			}
		}
		req, _ := http.NewRequest("POST", s.url+path, unsized{strings.NewReader("a=b")})
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if code, _ := send(t, req); code != 415 {
			t.Errorf("POST %s with a chunked form: %d, want 415", path, code)
		}
	}
	if n := s.sky.Count("launch"); n != 0 || s.status().Status != "no_server" {
		t.Fatalf("a refused body started something (%d launches)", n)
	}
	// An empty body passes whatever its type; JSON passes on routes that ignore it.
	for _, header := range [][]string{{"Content-Type", "text/plain"}, {"Content-Type", "application/json; charset=utf-8"}} {
		body := ""
		if header[1] != "text/plain" {
			body = "{}"
		}
		if code, env := s.do("POST", "/cluster/stop", body, header...); code != 404 {
			t.Errorf("POST /cluster/stop %q %v: %d %v, want the use case's 404", body, header, code, env.Errors)
		}
	}
	req, _ := http.NewRequest("POST", s.url+"/cluster/stop", unsized{strings.NewReader("")})
	if code, _ := send(t, req); code != 404 {
		t.Errorf("POST /cluster/stop with an empty chunked body: %d, want 404", code)
	}
	req, _ = http.NewRequest("POST", s.url+"/cluster/launch", unsized{strings.NewReader(`{"cloud":"aws"}`)})
	req.Header.Set("Content-Type", "application/json")
	if code, env := send(t, req); code != 202 {
		t.Fatalf("chunked JSON launch: %d %v", code, env.Errors)
	}
}

// send makes req and decodes the envelope, checking its shape.
func send(t *testing.T, req *http.Request) (int, envelope) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	env := decode(t, raw)
	checkEnvelope(t, resp.StatusCode, req.URL.Path, env, raw)
	return resp.StatusCode, env
}

func TestCORSHeadersOnRefusals(t *testing.T) {
	s := newServer(t, httpapi.Options{Token: "tok", CORSOrigins: []string{trusted}, Loopback: true})
	cases := []struct {
		name, method, path, body string
		header                   []string
		code                     int
	}{
		{"no token", "GET", "/cluster/status", "", nil, 401},
		{"wrong token", "GET", "/cluster/events?access_token=no", "", nil, 401},
		{"rebinding Host", "GET", "/cluster/status", "", []string{"Host", "evil.example"}, 403},
		{"not JSON", "POST", "/cluster/stop", "x", []string{"Authorization", "Bearer tok", "Content-Type", "text/plain"}, 415},
		{"a method the route does not take", "PUT", "/cluster/status", "", []string{"Authorization", "Bearer tok"}, 405},
		{"no route", "DELETE", "/nothing", "", []string{"Authorization", "Bearer tok"}, 404},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, s.url+tc.path, strings.NewReader(tc.body))
		setHeaders(req, append([]string{"Origin", trusted}, tc.header...))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code || resp.Header.Get("Access-Control-Allow-Origin") != trusted {
			t.Errorf("%s: %d, Access-Control-Allow-Origin %q; want %d with the origin", tc.name, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), tc.code)
		}
		if !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "X-Request-Id") {
			t.Errorf("%s: exposed headers %q", tc.name, resp.Header.Get("Access-Control-Expose-Headers"))
		}
	}
}

func TestTokenGuardsEveryClusterRoute(t *testing.T) {
	s := newServer(t, httpapi.Options{Token: "tok"})
	for _, path := range []string{"/cluster", "/cluster/status", "/cluster/nothing", "/clusters", "/clusters/a/status", "/clusters/a/events", "/events", "/metrics", "/cluster%2Fstatus", "/%63luster/status"} {
		if code, env := s.do("GET", path, ""); code != 401 || env.Errors["auth"] == nil {
			t.Errorf("GET %s without a token: %d %v", path, code, env.Errors)
		}
		if strings.HasSuffix(path, "/events") {
			continue // an open stream has no end to read; the query-token loop below opens them
		}
		if code, _ := s.do("GET", path, "", "Authorization", "Bearer tok"); code == 401 {
			t.Errorf("GET %s with the token: 401", path)
		}
	}
	// Event streams, and only they, take the token in the query.
	for path, want := range map[string]bool{"/events": true, "/clusters/a/events": true, "/cluster/status": false, "/clusters/a/status": false, "/metrics": false} {
		resp, err := client.Get(s.url + path + "?access_token=tok") // headers only: a stream has no end
		if err != nil {
			t.Fatal(err)
		}
		code := resp.StatusCode
		resp.Body.Close()
		if got := code != 401; got != want {
			t.Errorf("GET %s?access_token: %d", path, code)
		}
	}
	for _, path := range []string{"/healthz", "/openapi.json", "/openapi.yaml", "/docs", "/schemas/StatusResult.json", "/", "/index.html", "/assets/app.js", "/clustersx"} {
		resp, err := client.Get(s.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 401 {
			t.Errorf("GET %s is guarded", path)
		}
	}
}

// syncBuffer collects log lines written from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestTokenIsNeverShown(t *testing.T) {
	const token = "tok-7f3a-secret"
	var logs syncBuffer
	s := startServer(t, httpapi.Options{Token: token, Logger: zerolog.New(&logs)}, nil)
	var bodies []string
	get := func(path string, header ...string) {
		req, _ := http.NewRequest("GET", s.url+path, nil)
		setHeaders(req, header)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Header.Get("Content-Type") == "text/event-stream" {
			resp.Body.Close()
			return
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		bodies = append(bodies, string(raw))
		for k, v := range resp.Header {
			bodies = append(bodies, k+": "+strings.Join(v, ","))
		}
	}
	get("/cluster/status", "Authorization", "Bearer "+token)
	get("/cluster/status", "Authorization", "Bearer "+token+"x")
	get("/cluster/status", "Authorization", "Bearer "+token[:5])
	get("/cluster/events?access_token=" + token)
	get("/cluster/events?access_token=" + token + "x")
	get("/cluster/status?refresh="+token, "Authorization", "Bearer "+token)
	for _, doc := range []string{"/openapi.json", "/openapi.yaml", "/openapi-3.0.json", "/docs", "/schemas/StatusResult.json"} {
		get(doc)
	}
	doc, _ := httpapi.OpenAPI("test").YAML()
	bodies = append(bodies, string(doc))
	time.Sleep(20 * time.Millisecond) // let the stream's log lines land
	if !strings.Contains(logs.String(), `"request"`) {
		t.Fatalf("no request was logged: %q", logs.String())
	}
	for _, text := range append(bodies, logs.String()) {
		if strings.Contains(text, token[:10]) {
			t.Fatalf("the token shows in %q", text)
		}
	}
}

func TestRequestIDIsSkygatesOwn(t *testing.T) {
	var logs syncBuffer
	s := startServer(t, httpapi.Options{Logger: zerolog.New(&logs)}, nil)
	seen := map[string]bool{}
	for range 3 {
		req, _ := http.NewRequest("GET", s.url+"/healthz", nil)
		req.Header.Set("X-Request-Id", "chosen-by-the-client")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		id := resp.Header.Get("X-Request-Id")
		if id == "" || id == "chosen-by-the-client" || seen[id] {
			t.Fatalf("X-Request-Id %q (seen before: %v)", id, seen[id])
		}
		seen[id] = true
		if !strings.Contains(logs.String(), `"request_id":"`+id+`"`) {
			t.Fatalf("the log does not key the request by %s: %s", id, logs.String())
		}
	}
	if strings.Contains(logs.String(), "chosen-by-the-client") {
		t.Fatalf("the client's id reached the log: %s", logs.String())
	}
}

func TestStreamsAreCapped(t *testing.T) {
	s := newServer(t, httpapi.Options{MaxStreams: 2})
	ctx, cancel := context.WithCancel(context.Background())
	first := openStreamCtx(t, ctx, s.url+"/cluster/events")
	openStream(t, s.url+"/cluster/events")
	if first.StatusCode != 200 {
		t.Fatalf("first stream: %d", first.StatusCode)
	}
	req, _ := http.NewRequest("GET", s.url+"/cluster/events", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	env := decode(t, raw)
	checkEnvelope(t, resp.StatusCode, "/cluster/events", env, raw)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || env.Errors["streams"] == nil {
		t.Fatalf("third stream: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), raw)
	}
	// Other routes are not limited; a closed stream frees its slot once its goroutine ends.
	if code, _ := s.do("GET", "/cluster/status", ""); code != 200 {
		t.Fatalf("status while streams are full: %d", code)
	}
	cancel()
	for deadline := time.Now().Add(5 * time.Second); ; {
		resp, err := http.Get(s.url + "/cluster/events")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the closed stream's slot never came back: %d", resp.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func openStreamCtx(t *testing.T, ctx context.Context, url string) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestStreamOutlivesReadTimeout(t *testing.T) {
	const readTimeout = 100 * time.Millisecond
	s := startServer(t, httpapi.Options{Logger: zerolog.Nop(), KeepAlive: 20 * time.Millisecond}, func(srv *http.Server) {
		srv.ReadTimeout, srv.ReadHeaderTimeout = readTimeout, readTimeout
	})
	resp := openStream(t, s.url+"/cluster/events")
	time.Sleep(4 * readTimeout)
	if code, _ := s.do("POST", "/cluster/launch", ""); code != 202 {
		t.Fatalf("launch: %d", code)
	}
	events, comments := readEvents(t, resp.Body, func(e sseEvent) bool { return e.event == "complete" })
	if len(events) == 0 || events[len(events)-1].event != "complete" || comments == 0 {
		t.Fatalf("the stream ended after the read timeout: %d comments, events %+v", comments, events)
	}
}

func TestOpenAPIDocumentsRefusals(t *testing.T) {
	doc := httpapi.OpenAPI("test")
	for path, item := range doc.Paths {
		if get := item.Get; get != nil {
			if get.Responses["403"] == nil {
				t.Errorf("GET %s does not document 403", path)
			}
			if stream := strings.HasSuffix(path, "/events"); (get.Responses["503"] != nil) != stream {
				t.Errorf("GET %s: 503 documented %v", path, !stream)
			}
		}
		if post := item.Post; post != nil && (post.Responses["403"] == nil || post.Responses["415"] == nil) {
			t.Errorf("POST %s does not document 403 and 415", path)
		}
	}
	if doc.Paths["/cluster/events"].Get.Responses["503"].Headers["Retry-After"] == nil {
		t.Error("the event stream's 503 does not document Retry-After")
	}
}
