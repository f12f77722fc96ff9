package integration

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcexec "github.com/testcontainers/testcontainers-go/exec"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/wait"
)

const (
	servicePort = "8080/tcp"
	clusterName = "skygate"
	// stubDelayMS keeps the stub's output pauses short; scenario "slow" multiplies it by 10.
	stubDelayMS = "30"
	// settleTimeout bounds every wait for the service to reach a state; generous,
	// because two cores may be busy with other containers.
	settleTimeout = 45 * time.Second
	// skyLogPath is where the stub logs each argv; the image ships it empty.
	skyLogPath = "/data/sky.log"
)

// service is one running skygate container and the address of its API.
type service struct {
	container *testcontainers.DockerContainer
	baseURL   string
}

// serviceOptions says how to start a skygate container.
type serviceOptions struct {
	env    map[string]string              // added to (and overriding) the defaults
	volume string                         // named Docker volume for /data; empty: the container's own layer
	files  []testcontainers.ContainerFile // copied in before skygate starts
}

// startService runs a fresh skygate container and waits for /healthz. The container is
// removed when the test ends, whatever its outcome; on failure its log is printed first.
func startService(t *testing.T, opts serviceOptions) *service {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	env := map[string]string{"SKYSTUB_DELAY_MS": stubDelayMS, "SKYSTUB_LOG": skyLogPath}
	for k, v := range opts.env {
		env[k] = v
	}
	customizers := []testcontainers.ContainerCustomizer{
		testcontainers.WithLogger(tclog.TestLogger(t)),
		testcontainers.WithEnv(env),
		testcontainers.WithExposedPorts(servicePort),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			// Publish on loopback only: nothing but this host may reach the service.
			hc.PortBindings = network.PortMap{network.MustParsePort(servicePort): {
				{HostIP: netip.MustParseAddr("127.0.0.1")},
			}}
		}),
		testcontainers.WithWaitStrategy(wait.ForHTTP("/healthz").WithPort(servicePort).
			WithStartupTimeout(time.Minute).WithPollInterval(100 * time.Millisecond)),
	}
	if opts.volume != "" {
		customizers = append(customizers, testcontainers.WithMounts(testcontainers.VolumeMount(opts.volume, "/data")))
	}
	if len(opts.files) > 0 {
		customizers = append(customizers, testcontainers.WithFiles(opts.files...))
	}
	ctr, err := testcontainers.Run(ctx, imageName, customizers...)
	testcontainers.CleanupContainer(t, ctr)
	if ctr != nil {
		t.Cleanup(func() {
			if t.Failed() {
				dumpLogs(t, ctr)
			}
		})
	}
	if err != nil {
		t.Fatalf("starting skygate container: %v", err)
	}
	endpoint, err := ctr.PortEndpoint(ctx, servicePort, "http")
	if err != nil {
		t.Fatalf("service endpoint: %v", err)
	}
	return &service{container: ctr, baseURL: endpoint}
}

// newVolume creates a named volume for /data that outlives one container, and removes it
// when the test ends (after the containers, since cleanups run last-in first-out).
func newVolume(t *testing.T) string {
	t.Helper()
	name := "skygate-it-" + strings.ToLower(rand.Text())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := dockerProvider.Client().VolumeCreate(ctx, client.VolumeCreateOptions{Name: name}); err != nil {
		t.Fatalf("creating volume: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := dockerProvider.Client().VolumeRemove(ctx, name, client.VolumeRemoveOptions{Force: true}); err != nil {
			t.Errorf("removing volume %s: %v", name, err)
		}
	})
	return name
}

// dumpLogs prints the container's output (skygate's JSON log lines) into the test log.
func dumpLogs(t *testing.T, ctr *testcontainers.DockerContainer) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	logs, err := ctr.Logs(ctx)
	if err != nil {
		t.Logf("container %s logs unavailable: %v", ctr.GetContainerID()[:12], err)
		return
	}
	defer logs.Close()
	text, _ := io.ReadAll(logs)
	t.Logf("container %s log:\n%s", ctr.GetContainerID()[:12], text)
}

// crash kills skygate with SIGKILL and waits until the service manager (respawn, PID 1)
// has it answering again; the sky runs its supervisors carry on meanwhile, as on a host.
func (s *service) crash(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := dockerProvider.Client().ContainerKill(ctx, s.container.GetContainerID(), client.ContainerKillOptions{Signal: "USR1"}); err != nil {
		t.Fatalf("killing skygate: %v", err)
	}
	// The old process may still answer for a moment: wait for it to stop, then for the
	// new one.
	deadline := time.Now().Add(settleTimeout)
	down := false
	for time.Now().Before(deadline) {
		resp, err := apiClient.Get(s.baseURL + "/healthz")
		if err != nil {
			down = true
		} else {
			resp.Body.Close()
			if down && resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("skygate did not come back within %v of SIGKILL", settleTimeout)
}

// setScenario makes the stub behave as scenario for one cluster from now on.
func (s *service) setScenario(t *testing.T, cluster, scenario string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.container.CopyToContainer(ctx, []byte(scenario+"\n"), "/data/sky/scenarios/"+cluster, 0o644); err != nil {
		t.Fatalf("setting the scenario of %s: %v", cluster, err)
	}
}

// kill sends SIGKILL to the container's PID 1, which ends the container and every process
// in it, like a crashed pod or machine.
func (s *service) kill(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := dockerProvider.Client().ContainerKill(ctx, s.container.GetContainerID(), client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		t.Fatalf("killing container: %v", err)
	}
}

// sky runs the stub CLI inside the container, the way an operator would by hand.
func (s *service) sky(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code, out, err := s.container.Exec(ctx, append([]string{"sky"}, args...), tcexec.Multiplexed())
	if err != nil {
		t.Fatalf("docker exec sky %v: %v", args, err)
	}
	text, _ := io.ReadAll(out)
	if code != 0 {
		t.Fatalf("docker exec sky %v: exit %d\n%s", args, code, text)
	}
	return string(text)
}

// skyInvocations reads the stub's log: one argv per sky run, in order.
func (s *service) skyInvocations(t *testing.T) [][]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := s.container.CopyFileFromContainer(ctx, skyLogPath)
	if err != nil {
		t.Fatalf("reading the sky log: %v", err)
	}
	defer r.Close()
	var argvs [][]string
	scanner := bufio.NewScanner(r)
	for scanner.Scan() {
		var argv []string
		if err := json.Unmarshal(scanner.Bytes(), &argv); err != nil {
			t.Fatalf("sky log line %q: %v", scanner.Text(), err)
		}
		argvs = append(argvs, argv)
	}
	if err := scanner.Err(); err != nil {
		t.Fatalf("reading the sky log: %v", err)
	}
	return argvs
}

// skyCommands lists the sky subcommands run so far (launch, status, down, ...), in order.
func (s *service) skyCommands(t *testing.T) []string {
	t.Helper()
	var cmds []string
	for _, argv := range s.skyInvocations(t) {
		if len(argv) > 1 {
			cmds = append(cmds, argv[1])
		}
	}
	return cmds
}

// processes lists the command lines running in the container (docker top: no shell needed).
func (s *service) processes(t *testing.T) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	top, err := dockerProvider.Client().ContainerTop(ctx, s.container.GetContainerID(), client.ContainerTopOptions{})
	if err != nil {
		t.Fatalf("docker top: %v", err)
	}
	cmdColumn := len(top.Titles) - 1
	for i, title := range top.Titles {
		if title == "CMD" || title == "COMMAND" {
			cmdColumn = i
		}
	}
	var cmds []string
	for _, p := range top.Processes {
		cmds = append(cmds, p[cmdColumn])
	}
	return cmds
}

// envelope is the ResultEnvelope every JSON answer comes in.
type envelope[T any] struct {
	Status string              `json:"status"`
	Result *T                  `json:"result"`
	Errors map[string][]string `json:"errors"`
	Meta   struct {
		Path       string   `json:"path"`
		Timestamp  string   `json:"timestamp"`
		DurationMS *float64 `json:"duration_ms"`
	} `json:"meta"`
}

// String shows the envelope as the JSON it came from, for failure messages.
func (e envelope[T]) String() string { return asJSON(e) }

func asJSON(v any) string {
	raw, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(raw)
}

type acceptedResult struct {
	Message     string `json:"message"`
	ClusterName string `json:"cluster_name"`
}

type clusterStatus struct {
	Status     string   `json:"status"`
	Name       *string  `json:"name"`
	Cloud      *string  `json:"cloud"`
	Region     *string  `json:"region"`
	IP         *string  `json:"ip"`
	LaunchedAt *float64 `json:"launched_at"`
	Error      *string  `json:"error"`
}

func (c clusterStatus) String() string {
	return fmt.Sprintf("{status:%q name:%s cloud:%s region:%s ip:%s launched_at:%s error:%s}", c.Status,
		orNull(c.Name), orNull(c.Cloud), orNull(c.Region), orNull(c.IP), orNull(c.LaunchedAt), orNull(c.Error))
}

type checkResult struct {
	SkyInstalled   bool              `json:"sky_installed"`
	SkyVersion     *string           `json:"sky_version"`
	EnabledClouds  []string          `json:"enabled_clouds"`
	DisabledClouds map[string]string `json:"disabled_clouds"`
}

func (c checkResult) String() string { return asJSON(c) }

// request is one HTTP call to the service.
type request struct {
	method string
	path   string // with the query, if any
	body   string
	header map[string]string
}

var apiClient = &http.Client{Timeout: 30 * time.Second}

// eventClient bounds only the wait for response headers: an event stream has no end.
var eventClient = &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 30 * time.Second}}

// call sends req and decodes the envelope, whatever the status code.
func call[T any](t *testing.T, s *service, req request) (int, envelope[T]) {
	t.Helper()
	got := send(t, s, req)
	return got.code, decodeEnvelope[T](t, req.method+" "+req.path, got.body)
}

// decodeEnvelope fails the test unless raw is a ResultEnvelope JSON document.
func decodeEnvelope[T any](t *testing.T, what string, raw []byte) envelope[T] {
	t.Helper()
	var env envelope[T]
	if err := json.Unmarshal(raw, &env); err != nil || (env.Status != "success" && env.Status != "error") {
		t.Fatalf("%s: the answer is not a result envelope (%v): %s", what, err, raw)
	}
	return env
}

// answer is an HTTP response read in full.
type answer struct {
	code        int
	contentType string
	body        []byte
}

// send makes req and reads the whole answer.
func send(t *testing.T, s *service, req request) answer {
	t.Helper()
	var body io.Reader
	if req.body != "" {
		body = strings.NewReader(req.body)
	}
	httpReq, err := http.NewRequest(req.method, s.baseURL+req.path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", req.method, req.path, err)
	}
	if req.body != "" {
		httpReq.Header.Set("Content-Type", "application/json")
	}
	for k, v := range req.header {
		httpReq.Header.Set(k, v)
	}
	resp, err := apiClient.Do(httpReq)
	if err != nil {
		t.Fatalf("%s %s: %v", req.method, req.path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", req.method, req.path, err)
	}
	return answer{code: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: raw}
}

// post sends a lifecycle request (launch, stop, start, destroy) with an optional JSON body.
func (s *service) post(t *testing.T, action, body string) (int, envelope[acceptedResult]) {
	t.Helper()
	return call[acceptedResult](t, s, request{method: http.MethodPost, path: "/cluster/" + action, body: body})
}

// mustPost expects the request to be accepted (202) for the managed cluster.
func (s *service) mustPost(t *testing.T, action, body string) {
	t.Helper()
	code, env := s.post(t, action, body)
	if code != http.StatusAccepted || env.Status != "success" || env.Result == nil || env.Result.ClusterName != clusterName {
		t.Fatalf("POST /cluster/%s: want 202 success for cluster %q, got %d %v", action, clusterName, code, env)
	}
}

func (s *service) status(t *testing.T, refresh bool) clusterStatus {
	t.Helper()
	path := "/cluster/status"
	if refresh {
		path += "?refresh=true"
	}
	code, env := call[clusterStatus](t, s, request{method: http.MethodGet, path: path})
	if code != http.StatusOK || env.Result == nil {
		t.Fatalf("GET %s: want 200 with a result, got %d %v", path, code, env)
	}
	return *env.Result
}

func (s *service) check(t *testing.T) checkResult {
	t.Helper()
	code, env := call[checkResult](t, s, request{method: http.MethodGet, path: "/cluster/check"})
	if code != http.StatusOK || env.Result == nil {
		t.Fatalf("GET /cluster/check: want 200 with a result, got %d %v", code, env)
	}
	return *env.Result
}

// waitForStatus polls GET /cluster/status until it reports want.
func (s *service) waitForStatus(t *testing.T, want string) clusterStatus {
	t.Helper()
	deadline := time.Now().Add(settleTimeout)
	for {
		got := s.status(t, false)
		if got.Status == want {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("status still %v after %v, want %q", got, settleTimeout, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// expectError checks a 4xx answer: the wanted code and an error envelope with no result,
// messages under errors[key] and meta.path set.
func expectError[T any](t *testing.T, what string, code int, env envelope[T], wantCode int, key string) {
	t.Helper()
	if code != wantCode {
		t.Errorf("%s: want %d, got %d %v", what, wantCode, code, env)
		return
	}
	if env.Status != "error" || env.Result != nil || len(env.Errors[key]) == 0 || env.Meta.Path == "" {
		t.Errorf("%s: want an error envelope with errors.%s, meta.path and no result, got %v", what, key, env)
	}
}

// deref returns what p points to, or the zero value for null.
func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// orNull shows an optional value the way the JSON has it.
func orNull[T any](p *T) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprintf("%q", fmt.Sprint(*p))
}

// serverEvent is one event of GET /cluster/events.
type serverEvent struct {
	ID    int64
	Event string
	Data  eventData
}

type eventData struct {
	Cluster   string  `json:"cluster"` // fleet streams only
	Timestamp string  `json:"timestamp"`
	Type      string  `json:"type"`
	Message   string  `json:"message"`
	Status    *string `json:"status"`
}

func (e serverEvent) String() string {
	status := ""
	if e.Data.Status != nil {
		status = " status=" + *e.Data.Status
	}
	return fmt.Sprintf("#%d %s%s %q", e.ID, e.Event, status, e.Data.Message)
}

// eventStream reads one SSE connection in the background.
type eventStream struct {
	events <-chan serverEvent
	err    error // why the stream ended; read only after events is closed
	seen   []serverEvent
}

// openEvents connects to GET /cluster/events (query and headers as given) and returns
// once the service has sent the response headers.
func (s *service) openEvents(t *testing.T, query string, header map[string]string) *eventStream {
	t.Helper()
	return s.openStream(t, "/cluster/events"+query, header)
}

// openStream connects to any event stream route (path with its query).
func (s *service) openStream(t *testing.T, path string, header map[string]string) *eventStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.baseURL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := eventClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("GET %s: want 200 text/event-stream, got %d %q: %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	events := make(chan serverEvent)
	stream := &eventStream{events: events}
	go func() {
		defer close(events)
		defer resp.Body.Close()
		stream.err = parseEvents(ctx, resp.Body, events)
	}()
	return stream
}

// parseEvents reads the text/event-stream format: id, event and data fields, a blank
// line ending each event, comment lines (keep-alives) ignored.
func parseEvents(ctx context.Context, body io.Reader, out chan<- serverEvent) error {
	scanner := bufio.NewScanner(body)
	scanner.Buffer(make([]byte, 64*1024), 1024*1024)
	var ev serverEvent
	var data []byte
	for scanner.Scan() {
		line := scanner.Text()
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch {
		case line == "":
			if data == nil {
				continue
			}
			if err := json.Unmarshal(data, &ev.Data); err != nil {
				return fmt.Errorf("event %d data %q: %w", ev.ID, data, err)
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return ctx.Err()
			}
			ev, data = serverEvent{}, nil
		case field == "":
			// a comment, e.g. a keep-alive
		case field == "id":
			id, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				return fmt.Errorf("event id %q: %w", value, err)
			}
			ev.ID = id
		case field == "event":
			ev.Event = value
		case field == "data":
			if data != nil {
				return fmt.Errorf("event %d has more than one data line", ev.ID)
			}
			data = []byte(value)
		}
	}
	if err := scanner.Err(); err != nil {
		return err
	}
	return io.EOF
}

// waitFor reads events until one matches, and returns the events read so far on this
// stream (all of them, from the first). It fails the test at the deadline.
func (es *eventStream) waitFor(t *testing.T, what string, match func(serverEvent) bool) []serverEvent {
	t.Helper()
	timeout := time.NewTimer(settleTimeout)
	defer timeout.Stop()
	for {
		select {
		case ev, ok := <-es.events:
			if !ok {
				t.Fatalf("event stream ended (%v) before %s; events: %v", es.err, what, es.seen)
			}
			es.seen = append(es.seen, ev)
			if match(ev) {
				return es.seen
			}
		case <-timeout.C:
			t.Fatalf("no %s within %v; events: %v", what, settleTimeout, es.seen)
		}
	}
}

func isEvent(event string) func(serverEvent) bool {
	return func(e serverEvent) bool { return e.Event == event }
}

func isStatusEvent(status string) func(serverEvent) bool {
	return func(e serverEvent) bool {
		return e.Event == "status" && e.Data.Status != nil && *e.Data.Status == status
	}
}

// checkIDsIncrease fails unless every id is greater than the one before it (and than after).
func checkIDsIncrease(t *testing.T, after int64, events []serverEvent) {
	t.Helper()
	last := after
	for _, e := range events {
		if e.ID <= last {
			t.Errorf("event ids must grow: %d after %d; events: %v", e.ID, last, events)
			return
		}
		last = e.ID
	}
}

// countOf says how many elements of list equal v.
func countOf[T comparable](list []T, v T) int {
	n := 0
	for _, x := range list {
		if x == v {
			n++
		}
	}
	return n
}
