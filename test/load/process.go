package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// harness holds what every phase shares: the binaries, the temporary directory and the
// child processes to stop at the end.
type harness struct {
	opts   options
	self   string // this binary, re-executed as the bare server
	skyBin string // a link named "sky" to this binary: the fake sky
	dir    string

	mu        sync.Mutex
	children  map[*child]struct{}
	closed    bool
	closeOnce sync.Once
}

func newHarness(opts options) (*harness, error) {
	skygateBin, err := filepath.Abs(opts.skygateBin)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(skygateBin); err != nil {
		return nil, fmt.Errorf("skygate binary: %w (run make build)", err)
	}
	opts.skygateBin = skygateBin
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "skygate-load-")
	if err != nil {
		return nil, err
	}
	h := &harness{opts: opts, self: self, dir: dir, children: map[*child]struct{}{}}
	if err := os.Mkdir(filepath.Join(dir, "bin"), 0o755); err != nil {
		h.close()
		return nil, err
	}
	h.skyBin = filepath.Join(dir, "bin", "sky")
	if err := os.Symlink(self, h.skyBin); err != nil {
		h.close()
		return nil, err
	}
	return h, nil
}

// close stops every child still running and removes the temporary directory. It may be
// called more than once, and from the signal handler while a phase runs: every call
// returns once the first is done.
func (h *harness) close() {
	h.closeOnce.Do(func() {
		h.mu.Lock()
		h.closed = true
		live := make([]*child, 0, len(h.children))
		for c := range h.children {
			live = append(live, c)
		}
		h.mu.Unlock()
		var wg sync.WaitGroup
		for _, c := range live {
			wg.Go(func() { c.stop() })
		}
		wg.Wait()
		os.RemoveAll(h.dir)
	})
}

// child is a process started by the harness: skygate or the bare server.
type child struct {
	name     string
	cmd      *exec.Cmd
	started  time.Time // just before the exec
	stderr   *tailWriter
	listenAt chan string   // receives the address from the "listening on" line
	exited   chan struct{} // closed once the process is reaped
}

// start runs a child with its stdout watched for "listening on http://ADDR".
func (h *harness) start(name, path string, args, env []string) (*child, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	// Should the harness itself be killed, the kernel takes its children along.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	c := &child{name: name, cmd: cmd, stderr: &tailWriter{max: 4096}, listenAt: make(chan string, 1), exited: make(chan struct{})}
	cmd.Stderr = c.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, errors.New("harness is stopping")
	}
	c.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	h.children[c] = struct{}{}
	go func() {
		c.watchStdout(stdout)
		_ = cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

func (c *child) watchStdout(stdout io.Reader) {
	scanner := bufio.NewScanner(stdout)
	const marker = "listening on http://"
	for scanner.Scan() {
		if _, addr, ok := strings.Cut(scanner.Text(), marker); ok {
			select {
			case c.listenAt <- addr:
			default:
			}
		}
	}
	_, _ = io.Copy(io.Discard, stdout)
}

// waitListening returns the address the child printed, or why it did not.
func (c *child) waitListening(timeout time.Duration) (string, error) {
	select {
	case addr := <-c.listenAt:
		return addr, nil
	case <-c.exited:
		return "", fmt.Errorf("%s exited before listening (%v): %s", c.name, c.cmd.ProcessState, c.stderr)
	case <-time.After(timeout):
		return "", fmt.Errorf("%s did not print its address within %v: %s", c.name, timeout, c.stderr)
	}
}

// stop asks the child to stop with SIGTERM and kills it if it is still there after a
// short grace.
func (c *child) stop() {
	select {
	case <-c.exited:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(2 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

// stop stops one child now, for a phase that is done with it.
func (h *harness) stop(c *child) {
	c.stop()
	h.mu.Lock()
	delete(h.children, c)
	h.mu.Unlock()
}

// residentKiB reads the child's resident set size from /proc.
func (c *child) residentKiB() (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", c.cmd.Process.Pid)
}

// tailWriter keeps the last max bytes written to it: the end of a child's log, for
// error messages.
type tailWriter struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(bytes.TrimSpace(t.buf)) == 0 {
		return "(no stderr output)"
	}
	return "stderr ends with: " + string(bytes.TrimSpace(t.buf))
}

// skygate is a running skygate process and the files of the fake sky it drives.
type skygate struct {
	*child
	url string // http://127.0.0.1:PORT
	sky fakeSkyFiles
}

// skygateSettings vary a skygate process for a phase.
type skygateSettings struct {
	addr   string   // listen address; empty means any free loopback port
	dir    string   // prepared directory of the state dir ("state") and the fake sky ("sky"); empty means a fresh one
	args   []string // extra flags of skygate serve
	skyEnv []string // extra settings of the fake sky (HARNESS_*)
}

// launchSkygate starts a skygate process, with a fresh state directory unless set names
// one, and returns at once, without waiting for it to listen.
func (h *harness) launchSkygate(name string, set skygateSettings) (*skygate, error) {
	dir := set.dir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp(h.dir, name+"-"); err != nil {
			return nil, err
		}
	}
	sky, err := newFakeSkyFiles(filepath.Join(dir, "sky"))
	if err != nil {
		return nil, err
	}
	addr := set.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	args := []string{"serve", "--addr", addr, "--state-dir", filepath.Join(dir, "state"),
		"--sky-bin", h.skyBin, "--log-level", "warn"}
	args = append(args, set.args...)
	c, err := h.start("skygate "+name, h.opts.skygateBin, args, append(sky.env(), set.skyEnv...))
	if err != nil {
		return nil, err
	}
	return &skygate{child: c, sky: sky}, nil
}

// startSkygate starts a skygate process and waits until it listens.
func (h *harness) startSkygate(name string, skyEnv ...string) (*skygate, error) {
	sg, err := h.launchSkygate(name, skygateSettings{skyEnv: skyEnv})
	if err != nil {
		return nil, err
	}
	addr, err := sg.waitListening(10 * time.Second)
	if err != nil {
		return nil, err
	}
	sg.url = "http://" + addr
	return sg, nil
}

// cpuTime is the CPU time (user and system) the child has used so far.
func (c *child) cpuTime() (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: fields are counted after it.
	_, rest, ok := strings.Cut(string(data), ") ")
	fields := strings.Fields(rest)
	if !ok || len(fields) < 13 {
		return 0, fmt.Errorf("unreadable /proc/%d/stat", c.cmd.Process.Pid)
	}
	// utime and stime, fields 14 and 15 of stat, in clock ticks of 1/100 s on Linux.
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// harnessCPUTime is the CPU time (user and system) this process has used so far.
func harnessCPUTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
