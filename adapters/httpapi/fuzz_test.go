package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/skygate/skygate/adapters/fakerunner"
	"github.com/skygate/skygate/adapters/httpapi"
)

// FuzzRouter throws arbitrary requests at the API: no answer is ever a 5xx, and every
// answer but the stream and the documents is an envelope.
func FuzzRouter(f *testing.F) {
	handler := httpapi.New(newService(f, fakerunner.New()), httpapi.Options{Token: "tok", Logger: zerolog.Nop()})
	f.Add("POST", "/cluster/launch", `{"cloud":"aws"}`, "application/json", "Bearer tok", "")
	f.Add("POST", "/cluster/launch", `{"cloud":null,"region":"x"}`, "application/json", "Bearer tok", "")
	f.Add("GET", "/cluster/status?refresh=true", "", "", "Bearer tok", "")
	f.Add("GET", "/cluster/events?access_token=tok", "", "", "", "7")
	f.Add("GET", "/cluster/events", "", "", "Bearer tok", "x")
	f.Add("PUT", "/cluster/stop", "{}", "text/plain", "Bearer nope", "")
	f.Add("POST", "/cluster/destroy", "\x00\xff", "application/cbor", "Bearer tok", "")
	f.Add("GET", "/healthz/../cluster/check", "", "", "", "")
	f.Fuzz(func(t *testing.T, method, path, body, contentType, auth, lastEventID string) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequest(method, "http://skygate"+path, strings.NewReader(body))
		if err != nil {
			return // not a request a client could send
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		req = req.WithContext(ctx)
		for k, v := range map[string]string{"Content-Type": contentType, "Authorization": auth, "Last-Event-ID": lastEventID} {
			if v != "" {
				req.Header[k] = []string{v}
			}
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %q answered %d: %s", method, path, rec.Code, rec.Body)
		}
		ct := rec.Header().Get("Content-Type")
		if ct == "text/event-stream" || req.URL.Path == "/docs" || strings.HasPrefix(req.URL.Path, "/openapi") || method == "HEAD" {
			return
		}
		var env struct {
			Status string          `json:"status"`
			Result json.RawMessage `json:"result"`
			Meta   struct {
				Path string `json:"path"`
			} `json:"meta"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || (env.Status != "success" && env.Status != "error") {
			t.Fatalf("%s %q answered %d without an envelope: %q", method, path, rec.Code, rec.Body)
		}
	})
}
