// Command stubsky stands in for the SkyPilot `sky` CLI in tests.
//
// It reproduces the output texts, exit codes and stream split (stdout vs
// stderr) of the real CLI for the commands skygate runs, across the output
// styles of SkyPilot 0.7 (in-process CLI), 0.8/0.9 (API server), 0.10/0.11
// (infra) and 0.12 (`-o json`). Cluster state lives in a JSON file so that
// `sky status` tells the truth across invocations.
//
// Environment:
//
//	SKYSTUB_VERSION   emulated SkyPilot version (default 0.10.3)
//	SKYSTUB_SCENARIO  behaviour of launch/start/stop/down/check (default success)
//	SKYSTUB_CLOUDS    clouds `sky check` reports enabled (default aws,gcp)
//	SKYSTUB_DELAY_MS  pause between launch/start output lines (default 300)
//	SKYSTUB_HOME      state directory (default $HOME/.sky-stub)
//	SKYSTUB_LOG       optional file; one JSON argv array is appended per run
//	SKYSTUB_PROCLOG   optional file; a JSON record is appended when a process starts and
//	                  when it ends (see procRecord), so tests can count processes and
//	                  how many ran at once
//	FORCE_COLOR       when set, launch draws a `\r` spinner line like on a TTY
//
// A file SKYSTUB_HOME/scenarios/NAME holding a scenario name sets the scenario of the
// commands about cluster NAME (launch -c NAME; stop, start or down whose first cluster is
// NAME), overriding SKYSTUB_SCENARIO, delays of slow included; tests change it at any
// time, and each command reads it when it starts. An empty file counts as none (it is
// being rewritten); an unknown name in it is an error.
//
// Cluster state lives in SKYSTUB_HOME/state.json, read and written under an flock, so
// any number of invocations about any number of clusters may run at once.
//
// Scenarios: success; quota (zero-quota provisioning failure, exit 1);
// no_credentials (every cloud disabled, launch raises NoCloudAccessError);
// crash (Python traceback, exit 1, cluster stuck in INIT); hang (blocks
// after "Launching on", dies on SIGTERM); hang_ignore_term (also ignores
// SIGTERM/SIGINT); slow (all delays x10); stop_unsupported (stop is
// skipped like on Kubernetes); down_fails (termination fails, exit 0);
// job_fails (the job fails, exit 100 from v0.9).
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Scenario names accepted in SKYSTUB_SCENARIO.
const (
	scenarioSuccess         = "success"
	scenarioQuota           = "quota"
	scenarioNoCredentials   = "no_credentials"
	scenarioCrash           = "crash"
	scenarioHang            = "hang"
	scenarioHangIgnoreTerm  = "hang_ignore_term"
	scenarioSlow            = "slow"
	scenarioStopUnsupported = "stop_unsupported"
	scenarioDownFails       = "down_fails"
	scenarioJobFails        = "job_fails"
)

var knownScenarios = []string{
	scenarioSuccess, scenarioQuota, scenarioNoCredentials, scenarioCrash,
	scenarioHang, scenarioHangIgnoreTerm, scenarioSlow, scenarioStopUnsupported,
	scenarioDownFails, scenarioJobFails,
}

// config is everything the environment decides about one invocation.
type config struct {
	version    version
	scenario   string
	clouds     []string      // canonical lower-case names, e.g. "aws"
	delay      time.Duration // the pause between output lines, after the scenario's factor
	baseDelay  time.Duration // SKYSTUB_DELAY_MS
	home       string
	forceColor bool
}

// withScenario returns cfg with another scenario, and the delay that goes with it.
func (cfg *config) withScenario(scenario string) *config {
	c := *cfg
	c.scenario = scenario
	c.delay = c.baseDelay
	if scenario == scenarioSlow {
		c.delay *= 10
	}
	return &c
}

func main() {
	args := os.Args[1:]
	logInvocation(os.Getenv("SKYSTUB_LOG"), args)
	startProcessRecord(os.Getenv("SKYSTUB_PROCLOG"), args)
	cfg, err := loadConfig()
	if err != nil {
		fmt.Fprintf(os.Stderr, "stubsky: %v\n", err)
		exit(1)
	}
	exit(run(cfg, args))
}

func loadConfig() (*config, error) {
	rawVersion := envOr("SKYSTUB_VERSION", "0.10.3")
	v, err := parseVersion(rawVersion)
	if err != nil {
		return nil, err
	}
	scenario := envOr("SKYSTUB_SCENARIO", scenarioSuccess)
	if !contains(knownScenarios, scenario) {
		return nil, fmt.Errorf("unknown SKYSTUB_SCENARIO %q (known: %s)",
			scenario, strings.Join(knownScenarios, ", "))
	}
	delayMS, err := strconv.Atoi(envOr("SKYSTUB_DELAY_MS", "300"))
	if err != nil || delayMS < 0 {
		return nil, fmt.Errorf("invalid SKYSTUB_DELAY_MS %q", os.Getenv("SKYSTUB_DELAY_MS"))
	}
	var clouds []string
	for _, c := range strings.Split(envOr("SKYSTUB_CLOUDS", "aws,gcp"), ",") {
		if c = canonicalCloud(strings.TrimSpace(c)); c != "" {
			clouds = append(clouds, c)
		}
	}
	home := os.Getenv("SKYSTUB_HOME")
	if home == "" {
		userHome, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("no SKYSTUB_HOME and no home directory: %w", err)
		}
		home = filepath.Join(userHome, ".sky-stub")
	}
	cfg := &config{
		version:    v,
		clouds:     clouds,
		baseDelay:  time.Duration(delayMS) * time.Millisecond,
		home:       home,
		forceColor: os.Getenv("FORCE_COLOR") != "",
	}
	return cfg.withScenario(scenario), nil
}

// run dispatches one invocation and returns the process exit code.
func run(cfg *config, args []string) int {
	// Top-level options come before the command name, as with click groups.
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "--version", "-v":
			fmt.Printf("skypilot, version %s\n", cfg.version.raw)
			return 0
		case "--commit", "-c":
			fmt.Printf("skypilot, commit %s\n", cfg.version.commit())
			return 0
		case "--help", "-h":
			fmt.Print(topUsage + "\n\n  The SkyPilot command line tool.\n")
			return 0
		default:
			return usageError(topUsage, "sky", fmt.Sprintf("No such option: %s", optionName(args[0])))
		}
	}
	if len(args) == 0 {
		fmt.Print(topUsage + "\n\n  The SkyPilot command line tool.\n")
		return 0
	}
	cmd, rest := args[0], args[1:]
	spec, ok := commandSpecs(cfg.version)[cmd]
	if !ok {
		return usageError(topUsage, "sky", fmt.Sprintf("No such command %s.", pyRepr(cmd)))
	}
	inv, code, failed := parseCommandLine(spec, rest)
	if failed {
		return code
	}
	if inv.flag("help") {
		fmt.Print(spec.usage + "\n")
		return 0
	}
	scenario, ok, err := clusterScenario(cfg.home, inv)
	if err != nil {
		return internalError(err)
	}
	if ok {
		cfg = cfg.withScenario(scenario)
	}
	s := &session{cfg: cfg, argv: args}
	return s.handler(cmd)(inv)
}

// clusterScenario is the scenario set for the cluster an invocation names (-c NAME, or
// its first NAME argument) in SKYSTUB_HOME/scenarios/NAME, which tests may change at any
// time; it overrides SKYSTUB_SCENARIO for that cluster.
// An unknown scenario name in the file is an error of the stub, as in SKYSTUB_SCENARIO.
func clusterScenario(home string, inv *invocation) (string, bool, error) {
	name := inv.value("cluster")
	if name == "" && len(inv.args) > 0 {
		name = inv.args[0]
	}
	if name == "" || strings.ContainsAny(name, "/\x00") {
		return "", false, nil
	}
	path := filepath.Join(home, "scenarios", name)
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	scenario := strings.TrimSpace(string(raw))
	if scenario == "" {
		// Empty: a test is just rewriting the file (os.WriteFile truncates first).
		return "", false, nil
	}
	if !contains(knownScenarios, scenario) {
		return "", false, fmt.Errorf("unknown scenario %q in %s (known: %s)", scenario, path, strings.Join(knownScenarios, ", "))
	}
	return scenario, true, nil
}

// handler returns the implementation of a command listed in commandSpecs.
func (s *session) handler(cmd string) func(*invocation) int {
	return map[string]func(*invocation) int{
		"status": s.status,
		"check":  s.check,
		"launch": s.launch,
		"start":  s.start,
		"stop":   s.stop,
		"down":   s.down,
	}[cmd]
}

// session carries the per-invocation context shared by the commands.
type session struct {
	cfg  *config
	argv []string // arguments after the program name
}

// commandLine is how the real CLI records a cluster's last command
// ("sky launch -y -c foo task.yaml"), shown in the old COMMAND column.
func (s *session) commandLine() string {
	return "sky " + strings.Join(s.argv, " ")
}

// pause sleeps n output-line delays.
func (s *session) pause(n int) {
	time.Sleep(time.Duration(n) * s.cfg.delay)
}

// logInvocation appends the argv as one JSON array line so tests can count
// invocations. Failures are ignored: logging must never change behaviour.
func logInvocation(path string, args []string) {
	if path == "" {
		return
	}
	line, err := json.Marshal(append([]string{"sky"}, args...))
	if err != nil {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	// One write call with O_APPEND keeps concurrent lines whole.
	_, _ = f.Write(append(line, '\n'))
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
