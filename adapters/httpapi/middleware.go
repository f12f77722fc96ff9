package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-chi/cors"
	"github.com/rs/zerolog"
)

// observeRequests is the outermost layer. It gives every request an id of skygate's own
// (a client's X-Request-Id is never taken, so no client can choose or forge what the log
// lines are keyed by), notes the start time and path for the envelope's meta, and once
// the answer is written logs one line and hands it to observe (the request metrics).
// One allocation holds the request's record and its status-keeping writer: this runs on
// every request, and the status route is meant to cost little more than a bare server.
func observeRequests(log zerolog.Logger, observe func(r *http.Request, status int, elapsed time.Duration)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			info := &requestInfo{id: newRequestID(), start: time.Now(), path: r.URL.Path}
			info.writer.ResponseWriter = w
			w.Header()["X-Request-Id"] = []string{info.id}
			r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))
			next.ServeHTTP(&info.writer, r)
			status := info.writer.status
			if status == 0 {
				status = http.StatusOK
			}
			elapsed := time.Since(info.start)
			// The query string is left out: it may carry the access token.
			log.Info().Str("method", r.Method).Str("path", r.URL.Path).Int("status", status).
				Float64("duration_ms", float64(elapsed.Microseconds())/1000).
				Str("request_id", info.id).Msg("request")
			if observe != nil {
				observe(r, status, elapsed)
			}
		})
	}
}

// statusWriter notes the status code of the answer. Unwrap lets http.ResponseController
// reach the connection beneath (the event stream takes it over).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush sends what is buffered, when the writer beneath can.
func (w *statusWriter) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// requestIDPrefix tells this process's ids from those of earlier runs.
var requestIDPrefix = strings.ToLower(rand.Text()[:10])

var requestSeq atomic.Uint64

func newRequestID() string {
	var b [32]byte
	id := append(append(b[:0], requestIDPrefix...), '-')
	return string(strconv.AppendUint(id, requestSeq.Add(1), 10))
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

func corsFor(origins []string) func(http.Handler) http.Handler {
	return cors.Handler(cors.Options{
		AllowedOrigins: origins,
		// Every method, so that the refusal of one the API does not take (a 405) carries
		// the headers too, and a front end can read why it was refused.
		AllowedMethods: []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
			http.MethodDelete, http.MethodOptions},
		AllowedHeaders:   []string{"Authorization", "Content-Type", "Last-Event-ID"},
		ExposedHeaders:   []string{"X-Request-Id", "Retry-After", "WWW-Authenticate"},
		AllowCredentials: false,
		MaxAge:           300,
	})
}

// requireToken guards every /cluster/*, /clusters/*, /events and /metrics route with the
// bearer token when one is configured. Event streams also take ?access_token=, since a
// browser EventSource cannot set headers.
func requireToken(token string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if token == "" {
			return next
		}
		check := newTokenCheck(token)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !guardedRequest(r) {
				next.ServeHTTP(w, r)
				return
			}
			got, ok := bearerToken(r)
			if !ok && isEventStream(r.URL.Path) {
				got, ok = r.URL.Query().Get("access_token"), r.URL.Query().Has("access_token")
			}
			if !ok || !check.matches(got) {
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
