package integration

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestAuth checks the bearer token: required on /cluster/*, accepted as ?access_token= on
// the event stream, never on /healthz and the OpenAPI document; and no auth without one.
func TestAuth(t *testing.T) {
	t.Parallel()
	t.Run("token set", func(t *testing.T) {
		t.Parallel()
		const token = "integration-secret-7f3a"
		// On 0.0.0.0 a token is enough: no opt-out needed.
		svc := startService(t, serviceOptions{env: map[string]string{"SKYGATE_TOKEN": token, "SKYGATE_ALLOW_UNAUTHENTICATED": "false"}})
		guarded := []request{
			{method: http.MethodGet, path: "/cluster/status"},
			{method: http.MethodGet, path: "/cluster/check"},
			{method: http.MethodGet, path: "/cluster/events"},
			{method: http.MethodPost, path: "/cluster/launch"},
			{method: http.MethodPost, path: "/cluster/destroy"},
		}
		wrong := map[string]map[string]string{
			"no token":          nil,
			"wrong token":       {"Authorization": "Bearer not-" + token},
			"token with suffix": {"Authorization": "Bearer " + token + "x"},
			"token as basic":    {"Authorization": "Basic " + token},
			"token bare":        {"Authorization": token},
		}
		for _, req := range guarded {
			for name, header := range wrong {
				req.header = header
				code, env := call[struct{}](t, svc, req)
				expectError(t, req.method+" "+req.path+" with "+name, code, env, http.StatusUnauthorized, "auth")
				if env.Meta.Path != req.path {
					t.Errorf("%s %s: meta.path %q", req.method, req.path, env.Meta.Path)
				}
			}
		}
		code, env := call[struct{}](t, svc, request{method: http.MethodGet, path: "/cluster/events?access_token=wrong"})
		expectError(t, "GET /cluster/events?access_token=wrong", code, env, http.StatusUnauthorized, "auth")

		bearer := map[string]string{"Authorization": "Bearer " + token}
		if code, env := call[clusterStatus](t, svc, request{method: http.MethodGet, path: "/cluster/status", header: bearer}); code != http.StatusOK || env.Result == nil || env.Result.Status != "no_server" {
			t.Errorf("GET /cluster/status with the token: want 200 no_server, got %d %v", code, env)
		}
		for _, open := range []string{"/healthz", "/openapi.json"} {
			if got := send(t, svc, request{method: http.MethodGet, path: open}); got.code != http.StatusOK {
				t.Errorf("GET %s without a token: want 200, got %d %s", open, got.code, got.body)
			}
		}
		doc := send(t, svc, request{method: http.MethodGet, path: "/openapi.json"}).body
		var openapi struct {
			OpenAPI string `json:"openapi"`
		}
		if err := json.Unmarshal(doc, &openapi); err != nil || !strings.HasPrefix(openapi.OpenAPI, "3.1") {
			t.Errorf("GET /openapi.json: want an OpenAPI 3.1 document, got %.200s", doc)
		}

		// A browser EventSource cannot set headers: the token rides in the query.
		events := svc.openEvents(t, "?access_token="+token, nil)
		code, accepted := call[acceptedResult](t, svc, request{method: http.MethodPost, path: "/cluster/launch", header: bearer})
		if code != http.StatusAccepted {
			t.Fatalf("POST /cluster/launch with the token: want 202, got %d %v", code, accepted)
		}
		events.waitFor(t, "status event provisioning", isStatusEvent("provisioning"))
	})
	t.Run("no token", func(t *testing.T) {
		t.Parallel()
		svc := startService(t, serviceOptions{})
		for _, header := range []map[string]string{nil, {"Authorization": "Bearer anything"}} {
			if code, env := call[clusterStatus](t, svc, request{method: http.MethodGet, path: "/cluster/status", header: header}); code != http.StatusOK {
				t.Errorf("GET /cluster/status with headers %v and no token configured: want 200, got %d %v", header, code, env)
			}
		}
		svc.openEvents(t, "", nil)
		svc.mustPost(t, "launch", "")
	})
}
