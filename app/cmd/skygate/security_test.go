package main

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecurityConfigurationEndsAtOnce(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	empty, spaced, long, good := file("empty", "\n"), file("spaced", "two words\n"), file("long", strings.Repeat("x", maxTokenBytes+1)), file("good", "file-token\n")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"non-loopback without a token", []string{"--addr", "0.0.0.0:0"}, "--allow-unauthenticated"},
		{"all interfaces without a token", []string{"--addr", ":0"}, "without a token"},
		{"empty token file", []string{"--token-file", empty}, "empty"},
		{"missing token file", []string{"--token-file", filepath.Join(dir, "nope")}, "nope"},
		{"token file is a directory", []string{"--token-file", dir}, "token file"},
		{"token file too long", []string{"--token-file", long}, "longer"},
		{"token with a space", []string{"--token-file", spaced}, "spaces"},
		{"token and token file", []string{"--token", "t", "--token-file", good}, "give one"},
		{"wildcard CORS origin", []string{"--cors-origins", "https://*.example.com"}, "cors-origins"},
		{"origin with a path", []string{"--cors-origins", "https://app.example.com/"}, "cors-origins"},
		{"allowed host with a port", []string{"--allowed-hosts", "skygate.example:8080"}, "allowed-hosts"},
		{"no streams", []string{"--max-streams", "0"}, "max-streams"},
		{"streams not a number", []string{"--max-streams", "many"}, "max-streams"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stderr := serveOnce(t, append([]string{"--state-dir", t.TempDir()}, tc.args...)...)
			if code == 0 || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
				t.Fatalf("exit %d, stderr %q; want non-zero and one line with %q", code, stderr, tc.want)
			}
			if strings.Contains(stderr, "file-token") || strings.Contains(stderr, "two words") {
				t.Fatalf("the token shows in %q", stderr)
			}
		})
	}
	for env, value := range map[string]string{"SKYGATE_ALLOW_UNAUTHENTICATED": "perhaps", "SKYGATE_MAX_STREAMS": "lots", "SKYGATE_TOKEN": "a\tb"} {
		t.Run(env, func(t *testing.T) {
			t.Setenv(env, value)
			code, stderr := serveOnce(t, "--state-dir", t.TempDir())
			if code == 0 || strings.Count(stderr, "\n") != 1 || strings.Contains(stderr, value) && env == "SKYGATE_TOKEN" {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
		})
	}
}

func TestAllowUnauthenticatedServesAndWarns(t *testing.T) {
	c := startChild(t, "serve --addr 0.0.0.0:0 --allow-unauthenticated --state-dir "+t.TempDir())
	port := c.base[strings.LastIndex(c.base, ":"):]
	if code := get(t, "http://127.0.0.1"+port+"/cluster/status"); code != 200 {
		t.Fatalf("status: %d", code)
	}
	c.stop(t)
	if !strings.Contains(c.output.String(), `"level":"warn"`) || !strings.Contains(c.output.String(), "without a token") {
		t.Fatalf("no warning in the log:\n%s", c.output)
	}
	// With a token there is nothing to warn about, and no flag is needed.
	tokened := startChild(t, "serve --addr 0.0.0.0:0 --state-dir "+t.TempDir(), "SKYGATE_TOKEN=env-token")
	port = tokened.base[strings.LastIndex(tokened.base, ":"):]
	if code := get(t, "http://127.0.0.1"+port+"/cluster/status", "Authorization", "Bearer env-token"); code != 200 {
		t.Fatalf("status with the token: %d", code)
	}
	tokened.stop(t)
	if strings.Contains(tokened.output.String(), `"level":"warn"`) || strings.Contains(tokened.output.String(), "env-token") {
		t.Fatalf("log of a service with a token:\n%s", tokened.output)
	}
}

// TestTokenFile serves with the token read from a file; neither the log nor sky's
// environment ever holds it, nor any other SKYGATE_ setting.
func TestTokenFile(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte("file-token-5b1e\r\n"), 0o600)
	// A sky that writes its environment down and fails.
	dump := filepath.Join(dir, "sky-env")
	sky := filepath.Join(dir, "sky")
	os.WriteFile(sky, []byte("#!/bin/sh\nenv >> \"$SKYENV_DUMP\"\nexit 1\n"), 0o755)
	c := startChild(t, "serve --addr 127.0.0.1:0 --token-file "+tokenFile+" --sky-bin "+sky+" --state-dir "+filepath.Join(dir, "state"),
		"SKYENV_DUMP="+dump, "SKYGATE_TOKEN_FILE=ignored-by-the-flag")
	if code := get(t, c.base+"/cluster/status"); code != http.StatusUnauthorized {
		t.Fatalf("status without the token: %d", code)
	}
	// The check runs sky, which fails: any answer but 401 shows the token was taken.
	if code := get(t, c.base+"/cluster/check?refresh=true", "Authorization", "Bearer file-token-5b1e"); code == http.StatusUnauthorized {
		t.Fatalf("check with the file's token: %d", code)
	}
	c.stop(t)
	env, err := os.ReadFile(dump)
	if err != nil || !strings.Contains(string(env), "SKYENV_DUMP=") {
		t.Fatalf("sky did not run: %v", err)
	}
	for _, line := range strings.Split(string(env), "\n") {
		if strings.HasPrefix(line, "SKYGATE_") || strings.Contains(line, "file-token-5b1e") {
			t.Errorf("sky's environment holds %q", line)
		}
	}
	if strings.Contains(c.output.String(), "file-token-5b1e") {
		t.Fatalf("the token shows in the output:\n%s", c.output)
	}
}

func TestServerBoundsClients(t *testing.T) {
	srv := newHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout < srv.ReadHeaderTimeout || srv.IdleTimeout <= 0 || srv.MaxHeaderBytes != 64<<10 {
		t.Fatalf("server bounds: %+v", srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/", nil)
	req.Header.Set("X-Big", strings.Repeat("x", 100<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("100 KiB of headers: %d", resp.StatusCode)
	}
}
