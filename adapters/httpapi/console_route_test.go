package httpapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/skygate/skygate/adapters/httpapi"
)

// The console is served at / beside the API, open even when a token guards the API, and
// unknown paths keep their 404 envelope.
func TestConsoleIsServedAtRoot(t *testing.T) {
	s := newServer(t, httpapi.Options{Token: "sekret"})
	for _, p := range []string{"/", "/assets/app.js"} {
		resp, err := http.Get(s.url + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || len(body) == 0 {
			t.Fatalf("GET %s: %d, %d bytes", p, resp.StatusCode, len(body))
		}
	}
	code, env := s.do(http.MethodGet, "/assets/missing.js", "")
	if code != http.StatusNotFound || env.Status != "error" {
		t.Fatalf("GET /assets/missing.js: %d %+v, want a 404 envelope", code, env)
	}
	code, env = s.do(http.MethodGet, "/cluster/status", "")
	if code != http.StatusUnauthorized || !strings.Contains(strings.Join(env.Errors["auth"], " "), "token") {
		t.Fatalf("GET /cluster/status without the token: %d %+v", code, env.Errors)
	}
}
