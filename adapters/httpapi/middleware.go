package httpapi

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/cors"
	"github.com/rs/zerolog"
)

// recordRequest notes the start time and path for the envelope's meta, and gives every
// request an id.
func recordRequest(next http.Handler) http.Handler {
	return middleware.RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := &requestInfo{start: time.Now(), path: r.URL.Path}
		w.Header().Set("X-Request-Id", middleware.GetReqID(r.Context()))
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, ri)))
	}))
}

// keepWriter records the writer the API writes to, so the event stream can take over
// its connection.
func keepWriter(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		infoFrom(r.Context()).w = w
		next.ServeHTTP(w, r)
	})
}

// recoverPanics answers a panic with a 500 envelope that shows no internals.
func recoverPanics(log zerolog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					log.Error().Interface("panic", v).Bytes("stack", debug.Stack()).Str("path", r.URL.Path).Msg("handler panicked")
					writeEnvelope(w, r, newErrorEnvelope(r.Context(), http.StatusInternalServerError, "internal error"))
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// logRequests logs one line per request. The query string is left out: it may carry the
// access token.
func logRequests(log zerolog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			start := time.Now()
			next.ServeHTTP(ww, r)
			status := ww.Status()
			if status == 0 {
				status = http.StatusOK
			}
			log.Info().Str("method", r.Method).Str("path", r.URL.Path).Int("status", status).
				Float64("duration_ms", float64(time.Since(start).Microseconds())/1000).
				Str("request_id", middleware.GetReqID(r.Context())).Msg("request")
		})
	}
}

func corsFor(origins []string) func(http.Handler) http.Handler {
	return cors.Handler(cors.Options{
		AllowedOrigins:   origins,
		AllowedMethods:   []string{http.MethodGet, http.MethodPost, http.MethodOptions},
		AllowedHeaders:   []string{"Authorization", "Content-Type", "Last-Event-ID"},
		ExposedHeaders:   []string{"X-Request-Id"},
		AllowCredentials: false,
		MaxAge:           300,
	})
}

// requireToken guards /cluster/* with the bearer token when one is configured. The event
// stream also takes ?access_token=, since a browser EventSource cannot set headers.
func requireToken(token string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if token == "" {
			return next
		}
		want := []byte(token)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasPrefix(r.URL.Path, "/cluster/") && r.URL.Path != "/cluster" {
				next.ServeHTTP(w, r)
				return
			}
			got, ok := bearerToken(r)
			if !ok && r.URL.Path == "/cluster/events" {
				got, ok = r.URL.Query().Get("access_token"), r.URL.Query().Has("access_token")
			}
			if !ok || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="skygate"`)
				msg := "missing bearer token"
				if ok {
					msg = "invalid bearer token"
				}
				writeEnvelope(w, r, newErrorEnvelope(r.Context(), http.StatusUnauthorized, msg))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, value, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(value), true
}

// writeEnvelope writes an error envelope outside Huma (routing, auth, panics).
func writeEnvelope(w http.ResponseWriter, r *http.Request, e *ErrorEnvelope) {
	body, err := json.Marshal(e)
	if err != nil {
		body = []byte(`{"status":"error","result":null,"errors":{"server":["internal error"]},"meta":{"path":"","timestamp":"","duration_ms":0}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.GetStatus())
	_, _ = w.Write(append(body, '\n'))
}
