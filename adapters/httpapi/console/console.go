// Package console holds the operator console: plain ES modules and CSS, embedded in the
// binary and served at / with no build step and nothing loaded from elsewhere.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"time"

	"github.com/go-chi/chi/v5"
)

//go:embed index.html assets
var files embed.FS

// FS is the console's files: index.html and assets/.
func FS() fs.FS { return files }

// policy is the Content-Security-Policy of every console file: scripts, styles and
// connections to this origin only, no frames, no plugins.
const policy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// file is one embedded file, ready to serve.
type file struct {
	body        []byte
	etag        string
	contentType string
}

// Handler serves the console: / and /index.html are the page, /assets/* its modules and
// styles. Every answer is revalidated (no-cache with a strong ETag), so a new binary's
// files are picked up at once, while an unchanged file costs a 304.
func Handler() http.Handler {
	byPath := map[string]file{}
	_ = fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(files, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = "application/octet-stream"
		}
		byPath["/"+p] = file{body: body, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, contentType: ct}
		return nil
	})
	byPath["/"] = byPath["/index.html"]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := byPath[r.URL.Path]
		if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", f.contentType)
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", f.etag)
		h.Set("Content-Security-Policy", policy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
	})
}

// Paths are the routes the console answers, for a router to send to Handler.
func Paths() []string {
	var out []string
	_ = fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, "/"+p)
		}
		return err
	})
	return append(out, "/")
}

// Mount routes GET and HEAD of every console path on r to the console; any other path is
// left to r, so unknown routes keep the router's own 404.
func Mount(r chi.Router) {
	h := Handler()
	for _, p := range Paths() {
		r.Get(p, h.ServeHTTP)
		r.Head(p, h.ServeHTTP)
	}
}
