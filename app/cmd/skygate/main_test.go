package main

import (
	"bufio"
	"bytes"
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
		{"sky nice above 19", []string{"--state-dir", t.TempDir(), "--sky-nice", "20"}, "sky-nice"},
		{"negative sky nice", []string{"--state-dir", t.TempDir(), "--sky-nice", "-1"}, "sky-nice"},
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

// TestMain runs `skygate` itself when the test binary is started as a child by the
// tests below.
func TestMain(m *testing.M) {
	if os.Getenv("SKYGATE_TEST_CHILD") == "1" {
		os.Exit(run(strings.Fields(os.Getenv("SKYGATE_TEST_ARGS")), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// childCmd is this test binary set to run `skygate args` with env added.
func childCmd(args string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SKYGATE_TEST_CHILD=1", "SKYGATE_TEST_ARGS="+args, "SKYGATE_SKY_BIN=/nonexistent/sky")
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// child is a running `skygate serve`.
type child struct {
	cmd    *exec.Cmd
	base   string        // http://host:port it listens on
	output *bytes.Buffer // stderr, then the rest of stdout; read after stop
	done   chan error
}

// startChild starts `skygate args` and waits for the line saying where it listens.
func startChild(t *testing.T, args string, env ...string) *child {
	t.Helper()
	c := &child{cmd: childCmd(args, env...), output: &bytes.Buffer{}, done: make(chan error, 1)}
	stdout, _ := c.cmd.StdoutPipe()
	c.cmd.Stderr = c.output
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.cmd.Process.Kill() })
	out := bufio.NewReader(stdout)
	line, err := out.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "skygate listening on http://") {
		c.cmd.Process.Kill()
		c.cmd.Wait()
		t.Fatalf("first line %q, %v; stderr %s", line, err, c.output)
	}
	c.base = strings.TrimSpace(strings.TrimPrefix(line, "skygate listening on "))
	go func() {
		rest, _ := io.ReadAll(out)
		err := c.cmd.Wait()
		c.output.Write(rest)
		c.done <- err
	}()
	return c
}

// stop sends SIGINT and expects a clean exit.
func (c *child) stop(t *testing.T) {
	t.Helper()
	c.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-c.done:
		if err != nil {
			t.Fatalf("exit after SIGINT: %v\n%s", err, c.output)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop on SIGINT")
	}
}

// get answers GET base+path with the status code.
func get(t *testing.T, url string, header ...string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestServeAndSecondInstance starts the real binary's main in a child process, checks it
// answers, that a second instance on the same state dir is refused, and that SIGINT
// stops it cleanly.
func TestServeAndSecondInstance(t *testing.T) {
	state := t.TempDir()
	first := startChild(t, "serve --addr 127.0.0.1:0 --state-dir "+state)
	if code := get(t, first.base+"/healthz"); code != 200 {
		t.Fatalf("healthz: %d", code)
	}
	out, err := childCmd("serve --addr 127.0.0.1:0 --state-dir " + state).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "another skygate is using state dir") {
		t.Fatalf("second instance: %v\n%s", err, out)
	}
	first.stop(t)
}
