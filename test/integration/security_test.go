package integration

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/wait"
)

// TestExposureNeedsAToken checks that skygate on 0.0.0.0 (the image's address) does not
// start without a token unless told to, and warns when told to.
func TestExposureNeedsAToken(t *testing.T) {
	t.Parallel()
	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		code, logs := runToExit(t, map[string]string{"SKYGATE_ALLOW_UNAUTHENTICATED": "false"})
		if code == 0 || strings.Count(logs, "\n") != 1 || !strings.Contains(logs, "without a token") || !strings.Contains(logs, "--allow-unauthenticated") {
			t.Fatalf("want a non-zero exit and one line about the token, got exit %d:\n%s", code, logs)
		}
	})
	t.Run("allowed unauthenticated", func(t *testing.T) {
		t.Parallel()
		svc := startService(t, serviceOptions{})
		svc.status(t, false)
		if logs := svc.logs(t); !strings.Contains(logs, `"level":"warn"`) || !strings.Contains(logs, "without a token") {
			t.Fatalf("serving without a token on 0.0.0.0 logged no warning:\n%s", logs)
		}
	})
}

// TestBrowserThreats checks, against the real binary, that a cross-site form cannot
// launch, that a Host outside --allowed-hosts is refused, and that a body that is not
// JSON is refused, without sky ever running for them.
func TestBrowserThreats(t *testing.T) {
	t.Parallel()
	const token = "integration-browser-9c2d"
	svc := startService(t, serviceOptions{env: map[string]string{
		"SKYGATE_TOKEN": token, "SKYGATE_ALLOW_UNAUTHENTICATED": "false", "SKYGATE_ALLOWED_HOSTS": "skygate.internal",
	}})
	bearer := "Bearer " + token
	refused := []struct {
		what string
		req  request
		code int
		key  string
	}{
		{"cross-site form launch", request{method: http.MethodPost, path: "/cluster/launch", body: "cloud=aws", header: map[string]string{
			"Authorization": bearer, "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Content-Type": "application/x-www-form-urlencoded"}}, http.StatusForbidden, "origin"},
		{"cross-site launch with no body", request{method: http.MethodPost, path: "/cluster/launch", header: map[string]string{
			"Authorization": bearer, "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}}, http.StatusForbidden, "origin"},
		{"rebound Host", request{method: http.MethodGet, path: "/cluster/status", header: map[string]string{
			"Authorization": bearer, "Host": "evil.example:8080"}}, http.StatusForbidden, "host"},
		{"rebound Host on the event stream", request{method: http.MethodGet, path: "/cluster/events?access_token=" + token, header: map[string]string{
			"Host": "evil.example"}}, http.StatusForbidden, "host"},
		{"text/plain launch", request{method: http.MethodPost, path: "/cluster/launch", body: `{"cloud":"aws"}`, header: map[string]string{
			"Authorization": bearer, "Content-Type": "text/plain"}}, http.StatusUnsupportedMediaType, "body"},
	}
	for _, tc := range refused {
		code, env := call[struct{}](t, svc, tc.req)
		expectError(t, tc.what, code, env, tc.code, tc.key)
	}
	if cmds := svc.skyCommands(t); slices.Contains(cmds, "launch") {
		t.Fatalf("a refused request ran sky: %v", cmds)
	}
	code, env := call[clusterStatus](t, svc, request{method: http.MethodGet, path: "/cluster/status", header: map[string]string{
		"Authorization": bearer, "Host": "skygate.internal"}})
	if code != http.StatusOK || env.Result == nil || env.Result.Status != "no_server" {
		t.Fatalf("GET /cluster/status as skygate.internal: want 200 no_server, got %d %v", code, env)
	}
	code, accepted := call[acceptedResult](t, svc, request{method: http.MethodPost, path: "/cluster/launch", header: map[string]string{
		"Authorization": bearer, "Origin": "https://evil.example", "Sec-Fetch-Site": "same-origin"}})
	if code != http.StatusAccepted {
		t.Fatalf("same-origin launch: want 202, got %d %v", code, accepted)
	}
}

// runToExit runs the image with env added to the defaults and waits for it to end,
// returning its exit code and its output.
func runToExit(t *testing.T, env map[string]string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ctr, err := testcontainers.Run(ctx, imageName,
		testcontainers.WithLogger(tclog.TestLogger(t)),
		testcontainers.WithEnv(env),
		testcontainers.WithWaitStrategy(wait.ForExit().WithExitTimeout(time.Minute)))
	testcontainers.CleanupContainer(t, ctr)
	if err != nil {
		t.Fatalf("running skygate to its end: %v", err)
	}
	state, err := ctr.State(ctx)
	if err != nil {
		t.Fatalf("container state: %v", err)
	}
	return state.ExitCode, readLogs(t, ctr)
}

// logs is the container's output so far.
func (s *service) logs(t *testing.T) string {
	t.Helper()
	return readLogs(t, s.container)
}

func readLogs(t *testing.T, ctr *testcontainers.DockerContainer) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	logs, err := ctr.Logs(ctx)
	if err != nil {
		t.Fatalf("container logs: %v", err)
	}
	defer logs.Close()
	text, err := io.ReadAll(logs)
	if err != nil {
		t.Fatalf("container logs: %v", err)
	}
	return string(text)
}
