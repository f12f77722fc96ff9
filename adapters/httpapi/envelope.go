package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/skygate/skygate/core"
)

// Meta describes the request an envelope answers.
type Meta struct {
	Path       string  `json:"path" doc:"The request path."`
	Timestamp  string  `json:"timestamp" format:"date-time" doc:"When the answer was made (RFC 3339, UTC)."`
	DurationMS float64 `json:"duration_ms" doc:"How long the request took, in milliseconds."`
}

// Envelope is the ResultEnvelope of a successful answer: its result is never null and its
// errors always are. (ErrorEnvelope is the other half of the contract's ResultEnvelope.)
type Envelope[T any] struct {
	Status string `json:"status" enum:"success" doc:"Always success."`
	Result *T     `json:"result"`
	Errors Null   `json:"errors" doc:"Always null on success."`
	Meta   Meta   `json:"meta"`
	// encodedResult, when set, is the JSON of the result, which Result then need not
	// hold: an answer that many requests share is encoded once (see listCache).
	encodedResult []byte
}

// Null is a JSON null, documented as the type null: the result of an error envelope.
type Null struct{}

// MarshalJSON writes null.
func (Null) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

// Schema documents Null as the type null.
func (Null) Schema(huma.Registry) *huma.Schema { return &huma.Schema{Type: "null"} }

// ErrorEnvelope is the ResultEnvelope of every error answer; it is Huma's error type.
type ErrorEnvelope struct {
	status int
	Status string              `json:"status" enum:"error" doc:"Always error."`
	Result Null                `json:"result"`
	Errors map[string][]string `json:"errors" doc:"Messages by field or concern (body.cloud, cluster, sky, credentials, auth)."`
	Meta   Meta                `json:"meta"`
}

func (e *ErrorEnvelope) Error() string {
	var parts []string
	for k, msgs := range e.Errors {
		parts = append(parts, k+": "+strings.Join(msgs, "; "))
	}
	return strings.Join(parts, ", ")
}

// GetStatus is the HTTP status code.
func (e *ErrorEnvelope) GetStatus() int { return e.status }

// requestInfo is what the outermost middleware records for the envelope's meta.
type requestInfo struct {
	id    string
	start time.Time
	path  string
	w     http.ResponseWriter // the writer the API writes to, for the event stream
	// writer is the status-keeping writer the request is answered through.
	writer statusWriter
}

type requestInfoKey struct{}

func infoFrom(ctx context.Context) *requestInfo {
	if ri, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		return ri
	}
	return &requestInfo{start: time.Now()}
}

func metaFor(ctx context.Context) Meta {
	ri := infoFrom(ctx)
	now := time.Now()
	return Meta{
		Path:       ri.path,
		Timestamp:  now.UTC().Format(time.RFC3339Nano),
		DurationMS: float64(now.Sub(ri.start).Microseconds()) / 1000,
	}
}

// success wraps a result in the envelope.
func success[T any](ctx context.Context, result T) Envelope[T] {
	return Envelope[T]{Status: "success", Result: &result, Meta: metaFor(ctx)}
}

// successEncoded wraps the JSON of a result of type T in the envelope.
func successEncoded[T any](ctx context.Context, result []byte) Envelope[T] {
	return Envelope[T]{Status: "success", encodedResult: result, Meta: metaFor(ctx)}
}

// newErrorEnvelope builds an error answer. Huma's detail errors carry a location such as
// body.cloud, which becomes the key; others are keyed by fallbackKey.
func newErrorEnvelope(ctx context.Context, status int, msg string, errs ...error) *ErrorEnvelope {
	e := &ErrorEnvelope{status: status, Status: "error", Errors: map[string][]string{}, Meta: metaFor(ctx)}
	for _, err := range errs {
		if err == nil {
			continue
		}
		key, text := keyOf(status), err.Error()
		var detailer huma.ErrorDetailer
		if errors.As(err, &detailer) {
			d := detailer.ErrorDetail()
			text = d.Message
			if d.Location != "" {
				key = d.Location
			}
		}
		e.Errors[key] = append(e.Errors[key], text)
	}
	if len(e.Errors) == 0 {
		if msg == "" {
			msg = http.StatusText(status)
		}
		e.Errors[keyOf(status)] = []string{msg}
	}
	return e
}

// keyOf names the concern of an error that carries no field.
func keyOf(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return core.KeyAuth
	case http.StatusNotFound:
		return "route"
	case http.StatusConflict:
		return core.KeyCluster
	case http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		return "body"
	case http.StatusFailedDependency, http.StatusBadGateway:
		return core.KeySky
	case http.StatusMethodNotAllowed:
		return "method"
	case http.StatusInternalServerError:
		return "server"
	}
	return "request"
}

// statusOf maps a domain error kind to its HTTP status code; this is the one place.
func statusOf(kind core.ErrorKind) int {
	switch kind {
	case core.KindInvalid:
		return http.StatusUnprocessableEntity
	case core.KindNotFound:
		return http.StatusNotFound
	case core.KindConflict:
		return http.StatusConflict
	case core.KindDependencyMissing:
		return http.StatusFailedDependency
	case core.KindUnauthorized:
		return http.StatusUnauthorized
	case core.KindUpstream:
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError
}

// fail turns a use case's error into the error envelope. Domain errors keep their key;
// anything else is a 500 whose text is not shown to the client.
func fail(ctx context.Context, err error) error {
	if de, ok := core.AsError(err); ok {
		e := newErrorEnvelope(ctx, statusOf(de.Kind), "")
		e.Errors = map[string][]string{de.Key: {de.Message}}
		return e
	}
	return newErrorEnvelope(ctx, http.StatusInternalServerError, "internal error")
}

// installErrorEnvelope makes Huma build every error (validation, body size, unknown
// content type) as an ErrorEnvelope. It must run before operations are registered, since
// Huma documents the error schema from it.
func installErrorEnvelope() {
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		// Without a request (Huma documents the error type with one) the meta is empty.
		return newErrorEnvelope(context.Background(), status, msg, errs...)
	}
	huma.NewErrorWithContext = func(ctx huma.Context, status int, msg string, errs ...error) huma.StatusError {
		if status >= 500 {
			// Never show internals: Huma passes the handler's raw error here.
			return newErrorEnvelope(ctx.Context(), status, "internal error")
		}
		return newErrorEnvelope(ctx.Context(), status, msg, errs...)
	}
}
