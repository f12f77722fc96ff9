package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"

	"github.com/danielgtaylor/huma/v2"
	"github.com/rs/zerolog"
)

// DefaultMaxStreams bounds the open event streams when Options.MaxStreams is unset.
const DefaultMaxStreams = 10000

// retryAfterSeconds is what a client refused for lack of stream capacity is told to wait.
const retryAfterSeconds = "5"

// guards are the refusals, in order: a Host that may be DNS rebinding, an unsafe
// cross-origin browser request, a missing token, a body that is not JSON, no room for
// another event stream.
func guards(opts Options) []func(http.Handler) http.Handler {
	var chain []func(http.Handler) http.Handler
	if opts.Loopback || len(opts.AllowedHosts) > 0 {
		chain = append(chain, checkHost(opts.AllowedHosts))
	}
	maxStreams := opts.MaxStreams
	if maxStreams <= 0 {
		maxStreams = DefaultMaxStreams
	}
	limit := &streamLimit{max: int64(maxStreams)}
	return append(chain, crossOrigin(opts.CORSOrigins, opts.Logger), requireToken(opts.Token), requireJSON, limit.middleware)
}

// guardedRoots are the first path segments that need the token: the cluster routes, the
// fleet routes, the fleet's event stream and the metrics.
var guardedRoots = []string{"cluster", "clusters", "events", "metrics"}

// guarded says whether a path needs the token.
func guarded(path string) bool {
	for _, root := range guardedRoots {
		if rest, ok := strings.CutPrefix(path, "/"+root); ok && (rest == "" || rest[0] == '/') {
			return true
		}
	}
	return false
}

// guardedRequest checks the path the router sees as well as the decoded one, so an
// escaped path can never reach a guarded route unguarded.
func guardedRequest(r *http.Request) bool {
	return guarded(r.URL.Path) || (r.URL.RawPath != "" && guarded(r.URL.RawPath))
}

// isEventStream says whether a path is an event stream: /events or any path ending in
// /events.
func isEventStream(path string) bool {
	return path == "/events" || strings.HasSuffix(path, "/events")
}

// tokenCheck compares a presented token with the configured one through fixed-size
// digests, so the comparison's time depends on neither the token's content nor its
// length.
type tokenCheck struct{ want [sha256.Size]byte }

func newTokenCheck(token string) tokenCheck { return tokenCheck{want: sha256.Sum256([]byte(token))} }

func (c tokenCheck) matches(got string) bool {
	digest := sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(digest[:], c.want[:]) == 1
}

// ParseOrigins reads a comma-separated list of browser origins (scheme://host[:port]),
// the form both CORS and the cross-origin check need. Entries are lower-cased, as
// browsers send them.
func ParseOrigins(list string) ([]string, error) {
	var origins []string
	for _, o := range strings.Split(list, ",") {
		if o = strings.ToLower(strings.TrimSpace(o)); o == "" {
			continue
		}
		if err := http.NewCrossOriginProtection().AddTrustedOrigin(o); err != nil || strings.Contains(o, "*") {
			return nil, fmt.Errorf("invalid origin %q: want scheme://host[:port], such as https://app.example.com", o)
		}
		origins = append(origins, o)
	}
	return origins, nil
}

// ParseHosts reads a comma-separated list of host names a request's Host may carry. A
// name with a leading dot also allows its subdomains (.example.com: example.com and
// a.example.com).
func ParseHosts(list string) ([]string, error) {
	var hosts []string
	for _, h := range strings.Split(list, ",") {
		if h = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), "."); h == "" {
			continue
		}
		if strings.ContainsAny(h, "/:@*[] ") && !isIP(h) {
			return nil, fmt.Errorf("invalid host %q: want a host name or address without scheme or port, such as skygate.example.com", h)
		}
		hosts = append(hosts, h)
	}
	return hosts, nil
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// hostName is the host of a Host header without port or brackets, lower-cased and
// without a final dot.
func hostName(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// hostAllowed says whether a Host header names skygate: a loopback address, localhost
// or a name under .localhost (these always resolve to the loopback address, RFC 6761),
// or one of allowed. Any other name may be an attacker's domain rebound to this machine.
func hostAllowed(host string, allowed []string) bool {
	if host == "" {
		return true // HTTP/1.0 without Host: not a browser
	}
	name := hostName(host)
	if addr, err := netip.ParseAddr(name); err == nil && addr.Unmap().IsLoopback() {
		return true
	}
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return true
	}
	for _, a := range allowed {
		if name == a || (a[0] == '.' && (name == a[1:] || strings.HasSuffix(name, a))) {
			return true
		}
	}
	return false
}

// checkHost refuses a request whose Host does not name skygate (DNS rebinding: a page
// on an attacker's domain whose name now resolves to 127.0.0.1 is same-origin for the
// browser). It guards every route, the event streams and the documents included.
func checkHost(hosts []string) func(http.Handler) http.Handler {
	var allowed []string
	for _, h := range hosts {
		if h = strings.TrimSuffix(strings.ToLower(h), "."); strings.TrimPrefix(h, ".") != "" {
			allowed = append(allowed, h)
		}
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !hostAllowed(r.Host, allowed) {
				writeEnvelope(w, r, keyedError(r, http.StatusForbidden, "host",
					"this service does not answer to that Host name; an operator can allow it with --allowed-hosts"))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// crossOrigin refuses unsafe cross-origin browser requests (Sec-Fetch-Site, else Origin
// against Host) with net/http's CrossOriginProtection; the CORS origins are trusted.
func crossOrigin(origins []string, log zerolog.Logger) func(http.Handler) http.Handler {
	protection := http.NewCrossOriginProtection()
	for _, o := range origins {
		if err := protection.AddTrustedOrigin(o); err != nil {
			log.Warn().Err(err).Msg("ignoring an origin the cross-origin check cannot trust")
		}
	}
	protection.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeEnvelope(w, r, keyedError(r, http.StatusForbidden, "origin",
			"cross-origin request refused: the page's origin is not trusted (see --cors-origins)"))
	}))
	return protection.Handler
}

// requireJSON refuses a non-empty body that is not JSON on every unsafe method, so a
// form or text/plain body never reaches a route, not even one that takes no body.
func requireJSON(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if hasBody(r) {
				media, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
				if err != nil || media != "application/json" {
					writeEnvelope(w, r, newErrorEnvelope(r.Context(), http.StatusUnsupportedMediaType,
						"the body must be JSON, sent with Content-Type: application/json"))
					return
				}
				// A media type is case-insensitive (RFC 9110); Huma looks its format up
				// as written.
				r.Header.Set("Content-Type", mime.FormatMediaType(media, params))
			}
		}
		next.ServeHTTP(w, r)
	})
}

// hasBody says whether the request carries at least one body byte; a body of unknown
// length is peeked at, and what was read is put back.
func hasBody(r *http.Request) bool {
	switch {
	case r.ContentLength > 0:
		return true
	case r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody:
		return false
	}
	var first [1]byte
	n, _ := io.ReadFull(r.Body, first[:])
	if n == 0 {
		return false
	}
	r.Body = readCloser{io.MultiReader(bytes.NewReader(first[:n]), r.Body), r.Body}
	return true
}

type readCloser struct {
	io.Reader
	io.Closer
}

// streamLimit bounds the open event streams. A stream holds its slot until its
// goroutine ends, long after the handler returned (see openStream).
type streamLimit struct {
	max  int64
	open atomic.Int64
}

func (l *streamLimit) release() { l.open.Add(-1) }

// middleware takes a slot for every GET of an event stream, or answers 503 with
// Retry-After when none is free. The slot goes back when the request ends unless the
// stream took it over (streamSlot.take).
func (l *streamLimit) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isEventStream(r.URL.Path) || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			next.ServeHTTP(w, r)
			return
		}
		slot := &streamSlot{head: r.Method == http.MethodHead}
		if !slot.head {
			if l.open.Add(1) > l.max {
				l.release()
				w.Header().Set("Retry-After", retryAfterSeconds)
				writeEnvelope(w, r, keyedError(r, http.StatusServiceUnavailable, "streams",
					"too many open event streams; try again later"))
				return
			}
			slot.release = l.release
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), streamSlotKey{}, slot)))
		if release := slot.take(); release != nil {
			release()
		}
	})
}

// streamSlot is what the stream limit tells the event stream handler.
type streamSlot struct {
	head    bool   // a HEAD request: answer the headers only
	release func() // gives the slot back; nil when there is none to give
}

type streamSlotKey struct{}

// take hands the slot's release over to the caller, who must call it once.
func (s *streamSlot) take() func() {
	release := s.release
	s.release = nil
	return release
}

func slotFrom(ctx context.Context) *streamSlot {
	if s, ok := ctx.Value(streamSlotKey{}).(*streamSlot); ok {
		return s
	}
	return &streamSlot{}
}

// keyedError is an error envelope under a key of its own.
func keyedError(r *http.Request, status int, key, msg string) *ErrorEnvelope {
	e := newErrorEnvelope(r.Context(), status, "")
	e.Errors = map[string][]string{key: {msg}}
	return e
}

// refusals are the answers the middleware can give before a route runs; each
// operation documents the ones that apply to it.
var refusals = []struct {
	status  int
	applies func(method, path string) bool
}{
	{http.StatusForbidden, func(string, string) bool { return true }},
	{http.StatusUnsupportedMediaType, func(method, _ string) bool { return method == http.MethodPost }},
	{http.StatusServiceUnavailable, func(method, path string) bool { return method == http.MethodGet && isEventStream(path) }},
}

// documentRefusals adds the middleware's refusals to every operation of the document.
func documentRefusals(doc *huma.OpenAPI) {
	for path, item := range doc.Paths {
		for method, op := range map[string]*huma.Operation{http.MethodGet: item.Get, http.MethodPost: item.Post} {
			if op == nil {
				continue
			}
			for _, ref := range refusals {
				code := fmt.Sprint(ref.status)
				if !ref.applies(method, path) || op.Responses[code] != nil {
					continue
				}
				resp := &huma.Response{
					Description: http.StatusText(ref.status),
					Content:     map[string]*huma.MediaType{"application/json": {Schema: &huma.Schema{Ref: "#/components/schemas/ErrorEnvelope"}}},
				}
				if ref.status == http.StatusServiceUnavailable {
					resp.Headers = map[string]*huma.Param{"Retry-After": {
						Description: "Seconds to wait before opening another stream.",
						Schema:      &huma.Schema{Type: huma.TypeInteger},
					}}
				}
				op.Responses[code] = resp
			}
		}
	}
}
