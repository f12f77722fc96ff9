package console_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/skygate/skygate/adapters/httpapi/console"
	"github.com/skygate/skygate/core"
)

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	r := chi.NewRouter()
	r.NotFound(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, "router 404")
	})
	console.Mount(r)
	ts := httptest.NewServer(r)
	t.Cleanup(ts.Close)
	return ts
}

func get(t *testing.T, method, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestServesThePageAndItsFiles(t *testing.T) {
	ts := newServer(t)
	for _, c := range []struct{ path, contentType, contains string }{
		{"/", "text/html", `<script type="module" src="/assets/app.js">`},
		{"/index.html", "text/html", `role="log"`},
		{"/assets/app.js", "text/javascript", "EventStream"},
		{"/assets/console.css", "text/css", "prefers-color-scheme: dark"},
	} {
		resp, body := get(t, http.MethodGet, ts.URL+c.path)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", c.path, resp.StatusCode)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, c.contentType) {
			t.Errorf("GET %s: Content-Type %q, want %s", c.path, ct, c.contentType)
		}
		if !strings.Contains(body, c.contains) {
			t.Errorf("GET %s: body lacks %q", c.path, c.contains)
		}
		for _, h := range []string{"ETag", "Content-Security-Policy"} {
			if resp.Header.Get(h) == "" {
				t.Errorf("GET %s: no %s", c.path, h)
			}
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache (revalidate with the ETag)", c.path, cc)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", c.path)
		}
	}
}

func TestRevalidationAnswers304(t *testing.T) {
	ts := newServer(t)
	resp, _ := get(t, http.MethodGet, ts.URL+"/assets/app.js")
	etag := resp.Header.Get("ETag")
	again, body := get(t, http.MethodGet, ts.URL+"/assets/app.js", "If-None-Match", etag)
	if again.StatusCode != http.StatusNotModified || body != "" {
		t.Fatalf("If-None-Match %s: %d with %d bytes, want 304 and no body", etag, again.StatusCode, len(body))
	}
	other, _ := get(t, http.MethodGet, ts.URL+"/assets/console.css")
	if other.Header.Get("ETag") == etag {
		t.Fatal("two files share an ETag")
	}
}

func TestHeadAndUnknownPaths(t *testing.T) {
	ts := newServer(t)
	resp, body := get(t, http.MethodHead, ts.URL+"/")
	if resp.StatusCode != http.StatusOK || body != "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("HEAD /: %d %q", resp.StatusCode, body)
	}
	for _, p := range []string{"/assets/nope.js", "/assets/", "/assets", "/console.go", "/index.htm"} {
		resp, body := get(t, http.MethodGet, ts.URL+p)
		if resp.StatusCode != http.StatusNotFound || body != "router 404" {
			t.Errorf("GET %s: %d %q, want the router's own 404", p, resp.StatusCode, body)
		}
	}
}

// The console must work offline: nothing it loads may come from another origin, and every
// module it imports must be embedded.
func TestEverythingIsLocal(t *testing.T) {
	files := console.FS()
	external := regexp.MustCompile(`(?i)(src|href)\s*=\s*["'](https?:)?//|@import|url\(\s*["']?(https?:)?//`)
	imports := regexp.MustCompile(`(?m)^\s*import\s[^'"]*['"]([^'"]+)['"]`)
	seen := 0
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		seen++
		b, err := fs.ReadFile(files, p)
		if err != nil {
			return err
		}
		if loc := external.FindIndex(b); loc != nil {
			t.Errorf("%s loads from another origin: %q", p, b[loc[0]:loc[1]])
		}
		for _, m := range imports.FindAllSubmatch(b, -1) {
			target := path.Join(path.Dir(p), string(m[1]))
			if !strings.HasPrefix(string(m[1]), "./") {
				t.Errorf("%s imports %q: only relative module paths are served", p, m[1])
			} else if _, err := fs.Stat(files, target); err != nil {
				t.Errorf("%s imports %q, which is not embedded", p, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 5 {
		t.Fatalf("only %d files embedded", seen)
	}
}

// The console offers exactly the actions the transition table allows: its table in
// format.js is read here and compared with core's for every status and action.
func TestActionsFollowTheTransitionTable(t *testing.T) {
	src, err := fs.ReadFile(console.FS(), "assets/format.js")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)const ALLOWED = \{(.*?)\n\};`).FindSubmatch(src)
	if block == nil {
		t.Fatal("format.js has no ALLOWED table")
	}
	offered := map[core.ClusterStatus]map[core.Action]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s*(\w+): \[([^\]]*)\],?$`).FindAllSubmatch(block[1], -1) {
		actions := map[core.Action]bool{}
		for _, a := range regexp.MustCompile(`'(\w+)'`).FindAllSubmatch(m[2], -1) {
			actions[core.Action(a[1])] = true
		}
		offered[core.ClusterStatus(m[1])] = actions
	}
	if len(offered) != len(core.AllStatuses()) {
		t.Fatalf("format.js lists %d statuses, core has %d", len(offered), len(core.AllStatuses()))
	}
	for _, s := range core.AllStatuses() {
		row, ok := offered[s]
		if !ok {
			t.Errorf("format.js has no row for %s", s)
			continue
		}
		for _, a := range []core.Action{core.ActionLaunch, core.ActionStop, core.ActionStart, core.ActionDestroy} {
			if _, allowed := core.Target(s, a); allowed != row[a] {
				t.Errorf("at %s the console offers %s: %v, the table allows it: %v", s, a, row[a], allowed)
			}
		}
	}
}
