package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOpenAPIDocumentIsCommitted(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"openapi"}, &out, &errb); code != 0 {
		t.Fatalf("skygate openapi exited %d: %s", code, errb.String())
	}
	committed, err := os.ReadFile("../../../openapi/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), committed) {
		t.Fatal("openapi/openapi.yaml differs from `skygate openapi`: run `make openapi` and commit the result")
	}
}

func TestUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "usage") {
		t.Fatalf("no args: %d %q", code, errb.String())
	}
	if code := run([]string{"bogus"}, &out, &errb); code != 2 {
		t.Fatalf("unknown command: %d", code)
	}
}

// serveOnce runs `skygate serve` in-process with args and returns its exit code and
// stderr; it is for configurations that must fail at once.
func serveOnce(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(append([]string{"serve"}, args...), &out, &errb) }()
	select {
	case code := <-done:
		return code, errb.String()
	case <-time.After(10 * time.Second):
		t.Fatalf("serve %v did not exit; stdout %q", args, out.String())
		return 0, ""
	}
}

func TestBadConfigurationEndsAtOnce(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o600)
	badYAML := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badYAML, []byte("setup: [unclosed\n"), 0o600)
	unknownKey := filepath.Join(dir, "unknown.yaml")
	os.WriteFile(unknownKey, []byte("cloud: aws\nbogus: 1\n"), 0o600)
	badCloud := filepath.Join(dir, "cloud.yaml")
	os.WriteFile(badCloud, []byte("cloud: mars\n"), 0o600)
	corrupt := filepath.Join(dir, "corrupt")
	os.MkdirAll(corrupt, 0o700)
	os.WriteFile(filepath.Join(corrupt, "state.json"), []byte("{not json"), 0o600)

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	cases := []struct {
		name string
		args []string
		want string
	}{
		{"state dir under a file", []string{"--state-dir", filepath.Join(file, "sub")}, "sub"},
		{"bad config yaml", []string{"--state-dir", t.TempDir(), "--config", badYAML}, "bad.yaml"},
		{"unknown config key", []string{"--state-dir", t.TempDir(), "--config", unknownKey}, "bogus"},
		{"invalid cloud in config", []string{"--state-dir", t.TempDir(), "--config", badCloud}, "mars"},
		{"missing config", []string{"--state-dir", t.TempDir(), "--config", filepath.Join(dir, "nope.yaml")}, "nope.yaml"},
		{"corrupt state", []string{"--state-dir", corrupt, "--addr", "127.0.0.1:0"}, "state.json"},
		{"port taken", []string{"--state-dir", t.TempDir(), "--addr", busy.Addr().String()}, busy.Addr().String()},
		{"bad cluster name", []string{"--state-dir", t.TempDir(), "--cluster-name", "no spaces"}, "cluster name"},
		{"bad log level", []string{"--state-dir", t.TempDir(), "--log-level", "loud"}, "log level"},
		{"unknown flag", []string{"--frobnicate"}, "frobnicate"},
		{"bad duration flag", []string{"--refresh-interval", "soon"}, "refresh-interval"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stderr := serveOnce(t, tc.args...)
			if code == 0 || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
				t.Fatalf("exit %d, stderr %q; want non-zero and one line with %q", code, stderr, tc.want)
			}
		})
	}
	t.Run("bad duration in the environment", func(t *testing.T) {
		t.Setenv("SKYGATE_POLL_INTERVAL", "often")
		code, stderr := serveOnce(t, "--state-dir", t.TempDir())
		if code == 0 || !strings.Contains(stderr, "SKYGATE_POLL_INTERVAL") {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
	})
	if data, _ := os.ReadFile(filepath.Join(corrupt, "state.json")); string(data) != "{not json" {
		t.Fatalf("the corrupt state file was changed: %q", data)
	}
}

// TestServeAndSecondInstance starts the real binary's main in a child process, checks it
// answers, that a second instance on the same state dir is refused, and that SIGTERM
// stops it cleanly.
func TestServeAndSecondInstance(t *testing.T) {
	if os.Getenv("SKYGATE_TEST_CHILD") == "1" {
		os.Exit(run(strings.Fields(os.Getenv("SKYGATE_TEST_ARGS")), os.Stdout, os.Stderr))
	}
	state := t.TempDir()
	child := func(args string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestServeAndSecondInstance$")
		cmd.Env = append(os.Environ(), "SKYGATE_TEST_CHILD=1", "SKYGATE_TEST_ARGS="+args, "SKYGATE_SKY_BIN=/nonexistent/sky")
		return cmd
	}
	first := child("serve --addr 127.0.0.1:0 --state-dir " + state)
	stdout, _ := first.StdoutPipe()
	first.Stderr = io.Discard
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer first.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "skygate listening on http://") {
		t.Fatalf("first line %q, %v", line, err)
	}
	base := strings.TrimSpace(strings.TrimPrefix(line, "skygate listening on "))
	resp, err := http.Get(base + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()

	second := child("serve --addr 127.0.0.1:0 --state-dir " + state)
	out, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "another skygate is using state dir") {
		t.Fatalf("second instance: %v\n%s", err, out)
	}

	first.Process.Signal(os.Interrupt)
	waited := make(chan error, 1)
	go func() { waited <- first.Wait() }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	select {
	case err := <-waited:
		if err != nil {
			t.Fatalf("exit after SIGINT: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("did not stop on SIGINT")
	}
}
