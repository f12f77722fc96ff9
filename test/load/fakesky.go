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
	skyStateEnv    = "HARNESS_SKY_STATE" // directory of the clusters' state files
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

// hasRun reports whether a sky process has run whose arguments start with prefix.
func (f fakeSkyFiles) hasRun(prefix string) (bool, error) {
	data, err := os.ReadFile(f.calls)
	if os.IsNotExist(err) {
		return false, nil
	}
	return strings.HasPrefix(string(data), prefix) || strings.Contains(string(data), "\n"+prefix), err
}

// setStatus makes the fake sky report cluster name as status ("UP", "STOPPED").
func (f fakeSkyFiles) setStatus(name, status string) error {
	states := clusterStates{dir: f.stateDir}
	if states.path(name) == "" {
		return fmt.Errorf("fake sky: no state file for cluster name %q", name)
	}
	states.write(name, status)
	if states.read(name) != status {
		return fmt.Errorf("fake sky: could not write the state of cluster %s under %s", name, f.stateDir)
	}
	return nil
}

func countLines(path string) (int, error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return 0, nil
	}
	return strings.Count(string(data), "\n"), err
}

// runFakeSky answers one sky command line the way SkyPilot 0.10.3 would, for clusters
// whose states are files under HARNESS_SKY_STATE.
func runFakeSky(args []string) int {
	if err := appendLine(os.Getenv(skyCallsEnv), strings.Join(args, " ")); err != nil {
		fmt.Fprintln(os.Stderr, "sky:", err)
		return 1
	}
	if os.Getenv(skySlowEnv) == "1" {
		sleepWhileParentLives(slowCallDelay)
	}
	states := clusterStates{dir: os.Getenv(skyStateEnv)}
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
		if slices.Contains(rest, "--ip") {
			fmt.Println(fakeHeadIP)
		} else {
			fmt.Print(statusOutput(operands(rest), states))
		}
	case "launch":
		if err := appendLine(os.Getenv(skyLaunchesEnv), strings.Join(args, " ")); err != nil {
			fmt.Fprintln(os.Stderr, "sky:", err)
			return 1
		}
		printTicks(envInt(skyLinesEnv, defaultLines), envDuration(skyIntervalEnv, defaultTick))
		states.write(launchCluster(rest), "UP")
	case "down":
		name := lastOperand(rest)
		fmt.Printf("Terminating cluster %s...done.\n", name)
		states.write(name, "")
	case "stop":
		name := lastOperand(rest)
		fmt.Printf("Terminating cluster %s...done.\n", name)
		states.write(name, "STOPPED")
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

// statusOutput is what `sky status [--refresh] NAME...` prints in 0.10.3: the table of the
// clusters that exist, then the names that do not.
func statusOutput(names []string, states clusterStates) string {
	var rows [][]string
	var missing []string
	for _, name := range names {
		if status := states.read(name); status != "" {
			rows = append(rows, []string{name, "AWS (us-east-1)", "1x(cpus=2)", status, "-", "1 min ago"})
		} else {
			missing = append(missing, "'"+name+"'")
		}
	}
	var b strings.Builder
	b.WriteString("Clusters\n")
	if len(rows) > 0 {
		b.WriteString(statusTable(rows))
	}
	switch len(missing) {
	case 0:
	case 1:
		fmt.Fprintf(&b, "Cluster %s not found.\n", missing[0])
	default:
		fmt.Fprintf(&b, "Clusters %s not found.\n", strings.Join(missing, ", "))
	}
	return b.String()
}

// statusTable is the table of clusters sky prints, columns padded to at least two spaces
// beyond their widest cell as sky does.
func statusTable(rows [][]string) string {
	header := []string{"NAME", "INFRA", "RESOURCES", "STATUS", "AUTOSTOP", "LAUNCHED"}
	widths := make([]int, len(header))
	for _, cells := range append([][]string{header}, rows...) {
		for i, cell := range cells {
			widths[i] = max(widths[i], len(cell)+2)
		}
	}
	var b strings.Builder
	for _, cells := range append([][]string{header}, rows...) {
		for i, cell := range cells {
			b.WriteString(cell + strings.Repeat(" ", widths[i]-len(cell)))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// clusterStates are the fake clusters' statuses ("UP", "STOPPED"), in one file a cluster
// named after it; no file means no cluster.
type clusterStates struct{ dir string }

// path is the file of cluster name; "" for a name that cannot be a file of dir.
func (s clusterStates) path(name string) string {
	if name == "" || strings.HasPrefix(name, ".") || strings.ContainsAny(name, "/\x00") {
		return ""
	}
	return filepath.Join(s.dir, name)
}

func (s clusterStates) read(name string) string {
	path := s.path(name)
	if path == "" {
		return ""
	}
	data, _ := os.ReadFile(path)
	return strings.TrimSpace(string(data))
}

func (s clusterStates) write(name, status string) {
	path := s.path(name)
	switch {
	case path == "":
	case status == "":
		_ = os.Remove(path)
	default:
		_ = os.WriteFile(path, []byte(status+"\n"), 0o644)
	}
}

// operands are the arguments that are neither flags nor the values of `-o`: the cluster
// names of a `sky status`.
func operands(args []string) []string {
	var names []string
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "-o":
			i++
		case !strings.HasPrefix(args[i], "-"):
			names = append(names, args[i])
		}
	}
	return names
}

// launchCluster is the cluster of `sky launch -c NAME ... task.yaml`.
func launchCluster(args []string) string {
	if i := slices.Index(args, "-c"); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
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
