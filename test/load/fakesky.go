package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The fake sky is this binary run under the name "sky". Its settings come from the
// environment skygate passes on to it.
const (
	skyStateEnv    = "HARNESS_SKY_STATE" // directory of the cluster state file
	skyLaunchesEnv = "HARNESS_SKY_LOG"   // one line per `sky launch` process
	skyCallsEnv    = "HARNESS_SKY_CALLS" // one line per sky process of any kind
	skyLinesEnv    = "HARNESS_LINES"     // lines a launch prints (default 200)
	skyIntervalEnv = "HARNESS_INTERVAL"  // time between those lines (default 10ms)
	skySlowEnv     = "HARNESS_SLOW"      // "1": every call first sleeps slowCallDelay
)

const (
	defaultLines  = 200
	defaultTick   = 10 * time.Millisecond
	slowCallDelay = 2 * time.Second
	fakeHeadIP    = "3.3.3.3"
	checkOutput   = "Checking credentials to enable infra for SkyPilot.\n" +
		"  AWS: enabled [compute, storage]\n  GCP: enabled [compute, storage]\n\n" +
		"\U0001F389 Enabled infra \U0001F389\n  AWS [compute, storage]\n  GCP [compute, storage]\n"
)

// fakeSkyFiles are the files through which the harness sets up and observes one fake
// sky: its cluster state and the logs of its invocations.
type fakeSkyFiles struct {
	stateDir, launches, calls string
}

func newFakeSkyFiles(dir string) (fakeSkyFiles, error) {
	f := fakeSkyFiles{
		stateDir: filepath.Join(dir, "state"),
		launches: filepath.Join(dir, "launches.log"),
		calls:    filepath.Join(dir, "calls.log"),
	}
	return f, os.MkdirAll(f.stateDir, 0o755)
}

func (f fakeSkyFiles) env() []string {
	return []string{skyStateEnv + "=" + f.stateDir, skyLaunchesEnv + "=" + f.launches, skyCallsEnv + "=" + f.calls}
}

// launchCount is how many `sky launch` processes have run.
func (f fakeSkyFiles) launchCount() (int, error) { return countLines(f.launches) }

// callCount is how many sky processes of any kind have run.
func (f fakeSkyFiles) callCount() (int, error) { return countLines(f.calls) }

func countLines(path string) (int, error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return 0, nil
	}
	return strings.Count(string(data), "\n"), err
}

// runFakeSky answers one sky command line the way SkyPilot 0.10.3 would, for a cluster
// whose state is a file under HARNESS_SKY_STATE.
func runFakeSky(args []string) int {
	if err := appendLine(os.Getenv(skyCallsEnv), strings.Join(args, " ")); err != nil {
		fmt.Fprintln(os.Stderr, "sky:", err)
		return 1
	}
	if os.Getenv(skySlowEnv) == "1" {
		sleepWhileParentLives(slowCallDelay)
	}
	state := clusterState{dir: os.Getenv(skyStateEnv)}
	command, rest := "", args
	if len(args) > 0 {
		command, rest = args[0], args[1:]
	}
	switch command {
	case "--version":
		fmt.Println("skypilot, version 0.10.3")
	case "check":
		fmt.Print(checkOutput)
	case "status":
		name := lastOperand(rest)
		switch {
		case slices.Contains(rest, "--ip"):
			fmt.Println(fakeHeadIP)
		case state.read() == "":
			fmt.Printf("Clusters\nCluster '%s' not found.\n", name)
		default:
			fmt.Print(statusTable(name, state.read()))
		}
	case "launch":
		if err := appendLine(os.Getenv(skyLaunchesEnv), strings.Join(args, " ")); err != nil {
			fmt.Fprintln(os.Stderr, "sky:", err)
			return 1
		}
		printTicks(envInt(skyLinesEnv, defaultLines), envDuration(skyIntervalEnv, defaultTick))
		state.write("UP")
	case "down":
		fmt.Printf("Terminating cluster %s...done.\n", lastOperand(rest))
		state.write("")
	case "stop":
		fmt.Printf("Terminating cluster %s...done.\n", lastOperand(rest))
		state.write("STOPPED")
	default:
		fmt.Fprintf(os.Stderr, "sky: the fake sky does not know %q\n", strings.Join(args, " "))
		return 2
	}
	return 0
}

// printTicks prints `tick <seq> <unixnano>` lines, each written on its own so that it
// leaves the process at once (os.Stdout is unbuffered). Subscribers measure delivery
// latency against the time in the line.
func printTicks(lines int, interval time.Duration) {
	parent := os.Getppid()
	for seq := range lines {
		if seq > 0 {
			time.Sleep(interval)
		}
		if os.Getppid() != parent {
			os.Exit(1) // skygate is gone: no one reads the output any more
		}
		fmt.Fprintf(os.Stdout, "tick %d %d\n", seq, time.Now().UnixNano())
	}
}

// sleepWhileParentLives sleeps for d, or less if skygate goes away meanwhile, so that a
// slow fake sky does not outlive the process it was started by.
func sleepWhileParentLives(d time.Duration) {
	parent := os.Getppid()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if os.Getppid() != parent {
			os.Exit(1)
		}
	}
}

// statusTable is the table `sky status NAME` prints for one cluster, columns padded to
// at least two spaces as sky does.
func statusTable(name, status string) string {
	header := []string{"NAME", "INFRA", "RESOURCES", "STATUS", "AUTOSTOP", "LAUNCHED"}
	row := []string{name, "AWS (us-east-1)", "1x(cpus=2)", status, "-", "1 min ago"}
	var b strings.Builder
	b.WriteString("Clusters\n")
	for _, cells := range [][]string{header, row} {
		for i, cell := range cells {
			width := max(len(header[i]), len(row[i])) + 2
			b.WriteString(cell + strings.Repeat(" ", width-len(cell)))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// clusterState is the fake cluster's status ("UP", "STOPPED"), kept in a file; no file
// means no cluster.
type clusterState struct{ dir string }

func (s clusterState) path() string { return filepath.Join(s.dir, "cluster") }

func (s clusterState) read() string {
	data, _ := os.ReadFile(s.path())
	return strings.TrimSpace(string(data))
}

func (s clusterState) write(status string) {
	if status == "" {
		_ = os.Remove(s.path())
		return
	}
	_ = os.WriteFile(s.path(), []byte(status+"\n"), 0o644)
}

// lastOperand is the last argument that is not a flag: the cluster name.
func lastOperand(args []string) string {
	for _, a := range slices.Backward(args) {
		if !strings.HasPrefix(a, "-") {
			return a
		}
	}
	return ""
}

func appendLine(path, line string) error {
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	// One write per line: appends of concurrent processes do not interleave.
	if _, err := f.WriteString(line + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n >= 0 {
		return n
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil && d >= 0 {
		return d
	}
	return def
}
