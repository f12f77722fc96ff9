package httpapi

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/go-chi/chi/v5"
)

// methods are the methods a 405's Allow header may list.
var methods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// methodNotAllowed answers a 405 envelope whose Allow header lists the methods the path
// does take (HEAD wherever GET is, since GET routes answer HEAD). A path that takes no
// method (chi calls this for any method it has no route of, whatever the path) is
// answered by notFound.
func methodNotAllowed(router chi.Routes, notFound http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.RawPath
		if path == "" {
			path = r.URL.Path
		}
		var allowed []string
		for _, m := range methods {
			lookup := m
			if m == http.MethodHead {
				lookup = http.MethodGet
			}
			if router.Match(chi.NewRouteContext(), lookup, path) {
				allowed = append(allowed, m)
			}
		}
		if len(allowed) == 0 {
			notFound(w, r)
			return
		}
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeEnvelope(w, r, newErrorEnvelope(r.Context(), http.StatusMethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path))
	}
}

const schemasPath = "/schemas"

var schemaRef = regexp.MustCompile(`#/components/schemas/([^"]+)`)

// serveSchemas serves each schema of the document as JSON, as Huma's own route does,
// but answers a name the document does not have with a 404 envelope.
func serveSchemas(router chi.Router, registry huma.Registry) {
	router.Get(schemasPath+"/{schema}", func(w http.ResponseWriter, r *http.Request) {
		schema := registry.Map()[strings.TrimSuffix(chi.URLParam(r, "schema"), ".json")]
		if schema == nil {
			writeEnvelope(w, r, newErrorEnvelope(r.Context(), http.StatusNotFound, "no schema of that name"))
			return
		}
		body, err := json.Marshal(schema)
		if err != nil {
			writeEnvelope(w, r, newErrorEnvelope(r.Context(), http.StatusInternalServerError, "internal error"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(schemaRef.ReplaceAll(body, []byte(schemasPath+`/$1.json`)))
	})
}
