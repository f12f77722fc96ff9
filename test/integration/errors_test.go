package integration

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestTransitionConflicts checks the 404 and 409 answers of the transition table, using
// slow sky runs so that each in-flight status lasts long enough to be asked about.
func TestTransitionConflicts(t *testing.T) {
	t.Parallel()
	// slow: 10 × 60 ms per sky output line; provisioning lasts about 5 s, destroying 2 s.
	svc := startService(t, serviceOptions{env: map[string]string{"SKYSTUB_SCENARIO": "slow", "SKYSTUB_DELAY_MS": "60"}})

	for _, action := range []string{"stop", "start", "destroy"} {
		code, env := svc.post(t, action, "")
		expectError(t, "POST /cluster/"+action+" with no cluster", code, env, http.StatusNotFound, "cluster")
	}

	// Concurrent launches: exactly one wins the transition, the others see it taken.
	const launchers = 8
	codes := make([]int, launchers)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Go(func() {
			resp, err := apiClient.Post(svc.baseURL+"/cluster/launch", "application/json", strings.NewReader(`{"cloud":"aws"}`))
			if err != nil {
				return // the zero code fails the count below
			}
			resp.Body.Close()
			codes[i] = resp.StatusCode
		})
	}
	wg.Wait()
	if accepted, conflicts := countOf(codes, http.StatusAccepted), countOf(codes, http.StatusConflict); accepted != 1 || conflicts != launchers-1 {
		t.Fatalf("%d concurrent launches: want one 202 and %d 409s, got %v", launchers, launchers-1, codes)
	}
	for _, action := range []string{"launch", "stop", "start"} {
		expectConflict(t, svc, action, "provisioning")
	}
	svc.waitForStatus(t, "running")
	for _, action := range []string{"launch", "start"} {
		expectConflict(t, svc, action, "running")
	}

	svc.mustPost(t, "destroy", "")
	for _, action := range []string{"destroy", "launch", "stop", "start"} {
		expectConflict(t, svc, action, "destroying")
	}
	svc.waitForStatus(t, "no_server")
	code, env := svc.post(t, "destroy", "")
	expectError(t, "POST /cluster/destroy after destroy", code, env, http.StatusNotFound, "cluster")
}

// expectConflict asserts a 409 whose errors.cluster names the current status.
func expectConflict(t *testing.T, svc *service, action, status string) {
	t.Helper()
	what := "POST /cluster/" + action + " while " + status
	code, env := svc.post(t, action, "")
	expectError(t, what, code, env, http.StatusConflict, "cluster")
	if !strings.Contains(strings.Join(env.Errors["cluster"], " "), status) {
		t.Errorf("%s: errors.cluster %q does not name the status %q", what, env.Errors["cluster"], status)
	}
}

// TestSkyUnavailable checks the 424 answers: sky missing, no credentials, cloud not enabled.
func TestSkyUnavailable(t *testing.T) {
	t.Parallel()
	t.Run("sky not installed", func(t *testing.T) {
		t.Parallel()
		// PATH without sky: the default --sky-bin is looked up on PATH.
		svc := startService(t, serviceOptions{env: map[string]string{"PATH": "/home"}})
		check := svc.check(t)
		if check.SkyInstalled || check.SkyVersion != nil || len(check.EnabledClouds) != 0 {
			t.Errorf("check: want sky not installed, no version, no cloud; got %v", check)
		}
		code, env := svc.post(t, "launch", "")
		expectError(t, "POST /cluster/launch without sky", code, env, http.StatusFailedDependency, "sky")
		if got := svc.status(t, false); got.Status != "no_server" {
			t.Errorf("a refused launch changed the status: %v", got)
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		t.Parallel()
		svc := startService(t, serviceOptions{env: map[string]string{"SKYSTUB_SCENARIO": "no_credentials"}})
		check := svc.check(t)
		if !check.SkyInstalled || len(check.EnabledClouds) != 0 || check.DisabledClouds["aws"] == "" {
			t.Errorf("check: want sky installed with every cloud disabled, aws with a reason; got %v", check)
		}
		code, env := svc.post(t, "launch", `{"cloud":"aws"}`)
		expectError(t, "POST /cluster/launch without credentials", code, env, http.StatusFailedDependency, "credentials")
		if got := svc.status(t, false); got.Status != "no_server" {
			t.Errorf("a refused launch changed the status: %v", got)
		}
	})
	t.Run("cloud not enabled", func(t *testing.T) {
		t.Parallel()
		svc := startService(t, serviceOptions{})
		code, env := svc.post(t, "launch", `{"cloud":"azure"}`)
		expectError(t, "POST /cluster/launch on azure with aws and gcp enabled", code, env, http.StatusFailedDependency, "credentials")
		if !strings.Contains(strings.Join(env.Errors["credentials"], " "), "azure") {
			t.Errorf("errors.credentials %q does not name azure", env.Errors["credentials"])
		}
		if got := svc.status(t, false); got.Status != "no_server" {
			t.Errorf("a refused launch changed the status: %v", got)
		}
		if slices.Contains(svc.skyCommands(t), "launch") {
			t.Errorf("sky launch ran although azure is not enabled: %q", svc.skyInvocations(t))
		}
	})
}

// TestQuotaFailure checks that a failed provisioning reaches the client in human words,
// on the event stream and in the status, and that the cluster can then be destroyed.
func TestQuotaFailure(t *testing.T) {
	t.Parallel()
	svc := startService(t, serviceOptions{env: map[string]string{"SKYSTUB_SCENARIO": "quota"}})
	events := svc.openEvents(t, "", nil)
	svc.mustPost(t, "launch", `{"cloud":"aws","region":"us-east-1"}`)
	seen := events.waitFor(t, "error event", isEvent("error"))
	checkIDsIncrease(t, 0, seen)
	checkHumanMessage(t, "error event", seen[len(seen)-1].Data.Message)

	failed := svc.waitForStatus(t, "error")
	checkHumanMessage(t, "status error", deref(failed.Error))
	if failed.IP != nil {
		t.Errorf("a failed launch has no ip: %v", failed)
	}

	svc.mustPost(t, "destroy", "")
	svc.waitForStatus(t, "no_server")
}

// checkHumanMessage asserts that a failure message explains the quota problem without
// Python internals or terminal escapes.
func checkHumanMessage(t *testing.T, what, msg string) {
	t.Helper()
	if !strings.Contains(strings.ToLower(msg), "quota") {
		t.Errorf("%s %q does not mention the quota", what, msg)
	}
	for _, internal := range []string{"Traceback", "sky.exceptions.", "\x1b"} {
		if strings.Contains(msg, internal) {
			t.Errorf("%s %q contains %q", what, msg, internal)
		}
	}
}

// TestBadInput sends malformed requests: each gets a 4xx error envelope, never a 5xx,
// and none of them changes the cluster.
func TestBadInput(t *testing.T) {
	t.Parallel()
	svc := startService(t, serviceOptions{})
	const launch = "/cluster/launch"
	oversized := `{"cloud":"` + strings.Repeat("a", 70*1024) + `"}`
	cases := []struct {
		name     string
		req      request
		wantCode int
		errorKey string
	}{
		{"malformed JSON", request{method: http.MethodPost, path: launch, body: `{"cloud":`}, http.StatusBadRequest, "body"},
		{"trailing comma", request{method: http.MethodPost, path: launch, body: `{"cloud":"aws",}`}, http.StatusBadRequest, "body"},
		{"unknown field", request{method: http.MethodPost, path: launch, body: `{"cloud":"aws","gpus":8}`}, http.StatusUnprocessableEntity, "body.gpus"},
		{"number for a string", request{method: http.MethodPost, path: launch, body: `{"cloud":5}`}, http.StatusUnprocessableEntity, "body.cloud"},
		{"array body", request{method: http.MethodPost, path: launch, body: `["aws"]`}, http.StatusUnprocessableEntity, "body"},
		{"unknown cloud", request{method: http.MethodPost, path: launch, body: `{"cloud":"AWS"}`}, http.StatusUnprocessableEntity, "body.cloud"},
		{"region with a space", request{method: http.MethodPost, path: launch, body: `{"region":"us east"}`}, http.StatusUnprocessableEntity, "body.region"},
		{"instance type with a shell", request{method: http.MethodPost, path: launch, body: `{"instance_type":"m5;rm -rf /"}`}, http.StatusUnprocessableEntity, "body.instance_type"},
		{"70 KB body", request{method: http.MethodPost, path: launch, body: oversized}, http.StatusRequestEntityTooLarge, "body"},
		{"text body", request{method: http.MethodPost, path: launch, body: `{"cloud":"aws"}`, header: map[string]string{"Content-Type": "text/plain"}}, http.StatusUnsupportedMediaType, "body"},
		{"form body", request{method: http.MethodPost, path: launch, body: "cloud=aws", header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, http.StatusUnsupportedMediaType, "body"},
		{"unknown route", request{method: http.MethodGet, path: "/cluster/reboot"}, http.StatusNotFound, "route"},
		{"route under status", request{method: http.MethodGet, path: "/cluster/status/extra"}, http.StatusNotFound, "route"},
		{"GET on launch", request{method: http.MethodGet, path: launch}, http.StatusMethodNotAllowed, "method"},
		{"DELETE on status", request{method: http.MethodDelete, path: "/cluster/status"}, http.StatusMethodNotAllowed, "method"},
		{"POST on events", request{method: http.MethodPost, path: "/cluster/events"}, http.StatusMethodNotAllowed, "method"},
		{"word as Last-Event-ID", request{method: http.MethodGet, path: "/cluster/events", header: map[string]string{"Last-Event-ID": "latest"}}, http.StatusUnprocessableEntity, "header.Last-Event-ID"},
		{"negative Last-Event-ID", request{method: http.MethodGet, path: "/cluster/events", header: map[string]string{"Last-Event-ID": "-1"}}, http.StatusUnprocessableEntity, "header.Last-Event-ID"},
		{"20-digit Last-Event-ID", request{method: http.MethodGet, path: "/cluster/events", header: map[string]string{"Last-Event-ID": "99999999999999999999"}}, http.StatusUnprocessableEntity, "header.Last-Event-ID"},
		{"refresh=maybe on status", request{method: http.MethodGet, path: "/cluster/status?refresh=maybe"}, http.StatusUnprocessableEntity, "query.refresh"},
		{"refresh=maybe on check", request{method: http.MethodGet, path: "/cluster/check?refresh=maybe"}, http.StatusUnprocessableEntity, "query.refresh"},
	}
	for _, tc := range cases {
		got := send(t, svc, tc.req)
		what := tc.req.method + " " + tc.req.path + " (" + tc.name + ")"
		env := decodeEnvelope[struct{}](t, what, got.body)
		if got.code != tc.wantCode || env.Status != "error" || env.Result != nil || len(env.Errors[tc.errorKey]) == 0 {
			t.Errorf("%s: want %d with errors.%s, got %d %s", what, tc.wantCode, tc.errorKey, got.code, got.body)
		}
		if !strings.HasPrefix(got.contentType, "application/json") {
			t.Errorf("%s: want a JSON content type, got %q", what, got.contentType)
		}
		wantPath, _, _ := strings.Cut(tc.req.path, "?")
		if env.Meta.Path != wantPath || env.Meta.DurationMS == nil {
			t.Errorf("%s: meta must give path %q and duration_ms, got %s", what, wantPath, got.body)
		}
		if _, err := time.Parse(time.RFC3339Nano, env.Meta.Timestamp); err != nil || !strings.HasSuffix(env.Meta.Timestamp, "Z") {
			t.Errorf("%s: meta.timestamp %q is not RFC 3339 UTC", what, env.Meta.Timestamp)
		}
	}
	if got := svc.status(t, false); got.Status != "no_server" {
		t.Errorf("bad requests changed the status: %v", got)
	}
	if slices.Contains(svc.skyCommands(t), "launch") {
		t.Errorf("a bad request ran sky launch: %q", svc.skyInvocations(t))
	}
}
