package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The tests build the stub once and run it as a subprocess, exactly as
// skygate does.

var stubPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stubsky-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	stubPath = filepath.Join(dir, "sky")
	build := exec.Command("go", "build", "-o", stubPath, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building stub: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const testDelayMS = 5

// stub is one isolated SKYSTUB_HOME plus the environment of the tests.
type stub struct {
	t   *testing.T
	env map[string]string
}

func newStub(t *testing.T, version string) *stub {
	t.Helper()
	return &stub{t: t, env: map[string]string{
		"SKYSTUB_HOME":     t.TempDir(),
		"SKYSTUB_VERSION":  version,
		"SKYSTUB_DELAY_MS": fmt.Sprint(testDelayMS),
	}}
}

func (s *stub) with(key, value string) *stub {
	env := map[string]string{}
	for k, v := range s.env {
		env[k] = v
	}
	env[key] = value
	return &stub{t: s.t, env: env}
}

func (s *stub) command(args ...string) *exec.Cmd {
	cmd := exec.Command(stubPath, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + s.t.TempDir(), "USER=tester"}
	for k, v := range s.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

type result struct {
	stdout, stderr string
	code           int
}

func (s *stub) run(args ...string) result {
	s.t.Helper()
	cmd := s.command(args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		code = exitErr.ExitCode()
	} else if err != nil {
		s.t.Fatalf("running %v: %v", args, err)
	}
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}

func (s *stub) mustRun(args ...string) result {
	s.t.Helper()
	r := s.run(args...)
	if r.code != 0 {
		s.t.Fatalf("sky %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, r.code, r.stdout, r.stderr)
	}
	return r
}

func writeTask(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "task.yaml")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const simpleTask = `name: demo
resources:
  cloud: "aws"
  region: us-east-1
  instance_type: m6i.large
run: |
  echo hello from the task
`

var ansi = regexp.MustCompile(`\x1b\[[0-9;]*m`)

func stripANSI(s string) string { return ansi.ReplaceAllString(s, "") }

// statusOf parses the clusters table the way a careful client would: by the
// header's column offsets. It returns "" when the cluster is absent.
func statusOf(t *testing.T, out, name string) string {
	t.Helper()
	lines := strings.Split(stripANSI(out), "\n")
	for i, l := range lines {
		if l != "Clusters" || i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "NAME") {
			continue
		}
		header := lines[i+1]
		col := strings.Index(header, "STATUS")
		for _, row := range lines[i+2:] {
			if row == "" {
				break
			}
			if strings.HasPrefix(row, name+" ") {
				return strings.Fields(row[col:])[0]
			}
		}
	}
	return ""
}

func TestVersionStrings(t *testing.T) {
	for _, v := range []string{"0.7.0", "0.9.3", "0.10.3", "0.12.0", "1.0.0.dev20250730"} {
		s := newStub(t, v)
		for _, flag := range []string{"--version", "-v"} {
			r := s.mustRun(flag)
			if want := "skypilot, version " + v + "\n"; r.stdout != want {
				t.Errorf("%s %s: got %q, want %q", v, flag, r.stdout, want)
			}
		}
		for _, flag := range []string{"--commit", "-c"} {
			r := s.mustRun(flag)
			if !regexp.MustCompile(`^skypilot, commit [0-9a-f]{40}\n$`).MatchString(r.stdout) {
				t.Errorf("%s %s: got %q", v, flag, r.stdout)
			}
		}
	}
	r := newStub(t, "").mustRun("--version")
	if r.stdout != "skypilot, version 0.10.3\n" {
		t.Errorf("default version: got %q", r.stdout)
	}
}

func TestStatusTableShape(t *testing.T) {
	cases := []struct {
		version string
		header  []string
		cells   []string
	}{
		{"0.7.0", []string{"NAME", "LAUNCHED", "RESOURCES", "STATUS", "AUTOSTOP", "COMMAND"},
			[]string{"demo-1", "1x AWS(m6i.large)", "UP", "-", "sky launch -y -c demo-1 /..."}},
		{"0.9.3", []string{"NAME", "LAUNCHED", "RESOURCES", "STATUS", "AUTOSTOP", "COMMAND"},
			[]string{"demo-1", "1x AWS(m6i.large)", "UP"}},
		{"0.10.3", []string{"NAME", "INFRA", "RESOURCES", "STATUS", "AUTOSTOP", "LAUNCHED"},
			[]string{"demo-1", "AWS (us-east-1)", "1x(cpus=2, mem=8, m6i.large, ...)", "UP", "-"}},
	}
	for _, tc := range cases {
		t.Run(tc.version, func(t *testing.T) {
			s := newStub(t, tc.version)
			task := writeTask(t, simpleTask)

			before := s.mustRun("status")
			if !strings.Contains(before.stdout, "Clusters\nNo existing clusters.\n") {
				t.Errorf("empty status:\n%s", before.stdout)
			}
			s.mustRun("launch", "-y", "-c", "demo-1", task)
			r := s.mustRun("status", "demo-1")
			lines := strings.Split(stripANSI(r.stdout), "\n")
			var header, row string
			for i, l := range lines {
				if l == "Clusters" {
					header, row = lines[i+1], lines[i+2]
				}
			}
			if got := strings.Fields(header); strings.Join(got, " ") != strings.Join(tc.header, " ") {
				t.Fatalf("header %q, want tokens %v", header, tc.header)
			}
			for _, l := range []string{header, row} {
				if !strings.HasSuffix(l, "  ") {
					t.Errorf("line %q must end with the 2-space cell padding", l)
				}
			}
			// Columns line up with the header and are separated by >= 2 spaces.
			cells := regexp.MustCompile(`\S+(?: \S+)*`).FindAllStringIndex(row, -1)
			heads := regexp.MustCompile(`\S+`).FindAllStringIndex(header, -1)
			if len(cells) != len(heads) {
				t.Fatalf("row %q has %d cells, header has %d", row, len(cells), len(heads))
			}
			for i := range heads {
				if cells[i][0] != heads[i][0] {
					t.Errorf("cell %d of %q starts at %d, header column at %d", i, row, cells[i][0], heads[i][0])
				}
			}
			for _, want := range tc.cells {
				if !strings.Contains(row, want+"  ") {
					t.Errorf("row %q lacks cell %q", row, want)
				}
			}
			if tc.version == "0.10.3" && !strings.HasPrefix(r.stdout, "Enabled Infra: aws, gcp\n\nClusters\n") {
				t.Errorf("0.10 status must start with Enabled Infra:\n%s", r.stdout)
			}
			if strings.Contains(r.stdout, "Managed jobs") {
				t.Errorf("named status must not show the jobs section:\n%s", r.stdout)
			}
			all := s.mustRun("status")
			if !strings.HasSuffix(all.stdout, "\nManaged jobs\nNo in-progress managed jobs.\n\nServices\nNo live services.\n") {
				t.Errorf("unnamed status lacks trailing sections:\n%s", all.stdout)
			}
		})
	}
}

func TestNotFoundForms(t *testing.T) {
	cases := map[string]string{
		"0.7.0":  "Clusters\nCluster foo not found.\nNo existing clusters.\n",
		"0.9.3":  "Clusters\nCluster 'foo' not found.\n",
		"0.10.3": "Enabled Infra: aws, gcp\n\nClusters\nCluster 'foo' not found.\n",
	}
	for version, want := range cases {
		s := newStub(t, version)
		s.mustRun("status") // absorb the API server start lines
		r := s.mustRun("status", "foo")
		if r.stdout != want {
			t.Errorf("%s: got %q, want %q", version, r.stdout, want)
		}
	}
}

func TestAPIServerStartLines(t *testing.T) {
	s := newStub(t, "0.10.3")
	first := s.mustRun("status", "x")
	if !strings.HasPrefix(stripANSI(first.stdout),
		"Failed to connect to SkyPilot API server at http://127.0.0.1:46580. Starting a local server.\n✓ SkyPilot API server started. \n") {
		t.Errorf("first call lacks the server start lines:\n%q", first.stdout)
	}
	if second := s.mustRun("status", "x"); strings.Contains(second.stdout, "API server") {
		t.Errorf("second call repeats the server start:\n%s", second.stdout)
	}
	if old := newStub(t, "0.7.0").mustRun("status", "x"); strings.Contains(old.stdout, "API server") {
		t.Errorf("0.7 has no API server:\n%s", old.stdout)
	}
}

func TestLaunchStopDown(t *testing.T) {
	s := newStub(t, "0.10.3").with("SKYSTUB_DELAY_MS", "60")
	task := writeTask(t, simpleTask)

	cmd := s.command("launch", "-y", "-c", "life", task)
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sawInit := false
	deadline := time.Now().Add(5 * time.Second)
	for !sawInit && time.Now().Before(deadline) {
		sawInit = statusOf(t, s.mustRun("status", "life").stdout, "life") == statusInit
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("launch: %v\n%s", err, out.String())
	}
	if !sawInit {
		t.Error("never saw INIT during the launch")
	}
	text := stripANSI(out.String())
	for _, want := range []string{
		"YAML to run: " + task + "\n", "Running on cluster: life\n", "Considered resources (1 node):\n",
		"⚙︎ Launching on AWS us-east-1 (us-east-1a", "└── Instance is up.\n",
		"✓ Cluster launched: life.  View logs: sky logs --provision life\n",
		"⚙︎ Job submitted, ID: 1\n", "(task, pid=", ") hello from the task\n",
		"✓ Job finished (status: SUCCEEDED).\n", "📋 Useful Commands\nJob ID: 1\n", "├── To stop the cluster:\tsky stop life\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("launch output lacks %q:\n%s", want, text)
		}
	}
	if got := statusOf(t, s.mustRun("status", "life").stdout, "life"); got != statusUp {
		t.Fatalf("after launch: status %q, want UP", got)
	}
	if ip := s.mustRun("status", "--ip", "life").stdout; !regexp.MustCompile(`^3\.91\.\d+\.\d+\n$`).MatchString(ip) {
		t.Errorf("--ip printed %q", ip)
	}

	stop := s.mustRun("stop", "-y", "life")
	if stop.stdout != "\nStopping cluster life...done.\n  To restart the cluster, run: sky start life\n" {
		t.Errorf("stop output %q", stop.stdout)
	}
	if got := statusOf(t, s.mustRun("status", "life").stdout, "life"); got != statusStopped {
		t.Fatalf("after stop: status %q, want STOPPED", got)
	}
	ipErr := s.run("status", "--ip", "life")
	if ipErr.code != 1 || ipErr.stderr != "RuntimeError: Cluster 'life' is not in UP status.\n" {
		t.Errorf("--ip on STOPPED: %+v", ipErr)
	}

	start := s.mustRun("start", "-y", "life")
	if !strings.HasSuffix(start.stdout, "Cluster life started.\n") {
		t.Errorf("start output:\n%s", start.stdout)
	}
	if again := s.mustRun("start", "-y", "life"); again.stdout != "Cluster life already has status UP.\n" {
		t.Errorf("start on UP: %q", again.stdout)
	}

	if down := s.mustRun("down", "-y", "life"); down.stdout != "\nTerminating cluster life...done.\n" {
		t.Errorf("down output %q", down.stdout)
	}
	if r := s.mustRun("status", "life"); !strings.Contains(r.stdout, "Cluster 'life' not found.") {
		t.Errorf("after down:\n%s", r.stdout)
	}
	for _, op := range []string{"stop", "down"} {
		if r := s.mustRun(op, "-y", "life"); r.stdout != "Cluster(s) not found (tip: see `sky status`).\n" {
			t.Errorf("%s on missing cluster: %q", op, r.stdout)
		}
	}
}

func TestScenarioExitCodes(t *testing.T) {
	gpuTask := "resources:\n  infra: aws/us-east-1\n  instance_type: p4d.24xlarge\nrun: echo hi\n"
	cases := []struct {
		scenario, version string
		code              int
		stderr            []string
		stdout            []string
	}{
		{scenarioQuota, "0.10.3", 1,
			[]string{"sky.exceptions.ResourcesUnavailableError: Failed to provision all possible launchable resources. Relax the task's resource requirements: 1x AWS(p4d.24xlarge, {'A100': 8})\n",
				"To keep retrying until the cluster is up, use the `--retry-until-up` flag."},
			[]string{"Found no quota for p4d.24xlarge on-demand instances in region us-east-1 in AWS.",
				"⨯ Failed to provision resources. View logs: sky logs --provision c1"}},
		{scenarioNoCredentials, "0.10.3", 1,
			[]string{"sky.exceptions.NoCloudAccessError: Cloud access is not set up. Run: sky check\n"}, nil},
		{scenarioCrash, "0.10.3", 1,
			[]string{"Traceback (most recent call last):\n", "KeyError: 'head_ip'\n"}, []string{"⚙︎ Launching on AWS"}},
		{scenarioJobFails, "0.10.3", 100, nil,
			[]string{"ERROR: Job 1 failed with return code list: [1]", "✓ Job finished (status: FAILED)."}},
		{scenarioJobFails, "0.8.1", 0, nil, []string{"✓ Job finished (status: FAILED)."}},
	}
	for _, tc := range cases {
		t.Run(tc.scenario+"-"+tc.version, func(t *testing.T) {
			s := newStub(t, tc.version).with("SKYSTUB_SCENARIO", tc.scenario)
			task := writeTask(t, strings.Replace(gpuTask, "infra: aws/us-east-1", "cloud: aws\n  region: us-east-1", 1))
			r := s.run("launch", "-y", "-c", "c1", task)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tc.code, r.stdout, r.stderr)
			}
			for _, want := range tc.stderr {
				if !strings.Contains(stripANSI(r.stderr), want) {
					t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
				}
			}
			for _, want := range tc.stdout {
				if !strings.Contains(stripANSI(r.stdout), want) {
					t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
				}
			}
			if strings.Contains(r.stdout, "sky.exceptions.") || strings.Contains(r.stdout, "Traceback") {
				t.Errorf("exception text leaked to stdout:\n%s", r.stdout)
			}
		})
	}
	// A failed provisioning removes the cluster: nothing was created.
	s := newStub(t, "0.10.3").with("SKYSTUB_SCENARIO", scenarioQuota)
	s.run("launch", "-y", "-c", "gone", writeTask(t, gpuTask))
	if got := statusOf(t, s.mustRun("status", "gone").stdout, "gone"); got != "" {
		t.Errorf("quota failure left status %q", got)
	}
}

func TestStopAndDownFailuresExitZero(t *testing.T) {
	s := newStub(t, "0.10.3")
	s.mustRun("launch", "-y", "-c", "k", writeTask(t, simpleTask))

	r := s.with("SKYSTUB_SCENARIO", scenarioStopUnsupported).mustRun("stop", "-y", "k")
	if r.stdout != "\nStopping cluster 'k'... skipped.\n  Stopping is currently not supported for Kubernetes.\n"+
		"  To terminate the cluster instead, run: sky down k\nCluster(s) failed. See details above.\n" {
		t.Errorf("stop_unsupported: %q", r.stdout)
	}
	d := s.with("SKYSTUB_SCENARIO", scenarioDownFails).mustRun("down", "-y", "k")
	if !strings.Contains(d.stdout, "Terminating cluster k...failed. \nReason: ") ||
		!strings.HasSuffix(d.stdout, "use `sky down --purge`.\n") {
		t.Errorf("down_fails: %q", d.stdout)
	}
	if got := statusOf(t, s.mustRun("status", "k").stdout, "k"); got != statusUp {
		t.Errorf("cluster must stay UP, got %q", got)
	}
}

func TestUsageErrors(t *testing.T) {
	s := newStub(t, "0.10.3")
	cases := []struct {
		args   []string
		stderr string
	}{
		{[]string{"launch", "--foo"}, "Usage: sky launch [OPTIONS] [ENTRYPOINT]...\nTry 'sky launch -h' for help.\n\nError: No such option: --foo\n"},
		{[]string{"foo"}, "Usage: sky [OPTIONS] COMMAND [ARGS]...\nTry 'sky -h' for help.\n\nError: No such command 'foo'.\n"},
		{[]string{"status", "-o", "json", "x"}, "Usage: sky status [OPTIONS] [CLUSTERS]...\nTry 'sky status -h' for help.\n\nError: No such option: -o\n"},
		{[]string{"check", "--output", "json"}, "Usage: sky check [OPTIONS] [INFRA_LIST]...\nTry 'sky check -h' for help.\n\nError: No such option: --output\n"},
		{[]string{"status", "--ip", "--refresh", "x"}, "Usage: sky status [OPTIONS] [CLUSTERS]...\nTry 'sky status -h' for help.\n\n" +
			"Error: Using --ip or --endpoint(s) with --refresh is notsupported for now. To fix, refresh first, then query the IP or endpoint.\n"},
		{[]string{"launch", "-y", "-c"}, "Usage: sky launch [OPTIONS] [ENTRYPOINT]...\nTry 'sky launch -h' for help.\n\nError: Option '-c' requires an argument.\n"},
	}
	for _, tc := range cases {
		r := s.run(tc.args...)
		if r.code != 2 || r.stderr != tc.stderr || r.stdout != "" {
			t.Errorf("sky %v: exit %d\nstdout %q\nstderr %q\nwant %q", tc.args, r.code, r.stdout, r.stderr, tc.stderr)
		}
	}
}

func TestPromptsAbortWithoutYes(t *testing.T) {
	s := newStub(t, "0.10.3")
	task := writeTask(t, simpleTask)
	r := s.run("launch", "-c", "p", task)
	if r.code != 1 || r.stderr != "Aborted!\n" || !strings.HasSuffix(r.stdout, "Launching a new cluster 'p'. Proceed? [Y/n]: ") {
		t.Errorf("launch without -y: %+v", r)
	}
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	r = s.run("launch", "-y", "-c", "p", missing)
	want := fmt.Sprintf("'%s' looks like a yaml path but does not exist. Please check if the path is correct.\n"+
		"It will be treated as a command to be run remotely. Continue? [y/N]: ", missing)
	if r.code != 1 || r.stdout != want || r.stderr != "Aborted!\n" {
		t.Errorf("missing YAML: %+v", r)
	}
	s.mustRun("launch", "-y", "-c", "p", task)
	r = s.run("down", "p")
	if r.code != 1 || r.stdout != "Terminating 1 cluster: p. Proceed? [Y/n]: " || r.stderr != "Aborted!\n" {
		t.Errorf("down without -y: %+v", r)
	}
}

func TestInfraFieldByVersion(t *testing.T) {
	infraTask := writeTask(t, "resources:\n  infra: aws/us-west-2\n")
	r := newStub(t, "0.9.3").run("launch", "-y", "-c", "i", infraTask)
	if r.code != 1 || r.stderr != "sky.exceptions.InvalidSkyPilotConfigError: Invalid resources YAML: Found unsupported field 'infra'.\n" {
		t.Errorf("infra on 0.9: %+v", r)
	}
	s := newStub(t, "0.10.3")
	s.mustRun("launch", "-y", "-c", "i", infraTask)
	if r := s.mustRun("status", "i"); !strings.Contains(r.stdout, "AWS (us-west-2)") {
		t.Errorf("infra region not used:\n%s", r.stdout)
	}
	anyCloud := writeTask(t, "resources:\n  infra: \"*/us-west-2\"\n")
	s.mustRun("launch", "-y", "-c", "w", anyCloud)
	if r := s.mustRun("status", "w"); !strings.Contains(r.stdout, "AWS (us-west-2)") {
		t.Errorf("a wildcard cloud is not launched in its region:\n%s", r.stdout)
	}
	both := writeTask(t, "resources:\n  infra: aws\n  cloud: aws\n")
	if r := s.run("launch", "-y", "-c", "j", both); r.code != 1 || !strings.HasPrefix(r.stderr, "ValueError: Cannot specify both `infra` and `cloud`") {
		t.Errorf("infra with cloud: %+v", r)
	}
	gcpOnly := s.with("SKYSTUB_CLOUDS", "gcp")
	if r := gcpOnly.run("launch", "-y", "-c", "j", infraTask); r.code != 1 ||
		stripANSI(r.stderr) != "sky.exceptions.ResourcesUnavailableError: Task requires AWS which is not enabled. To enable access, change the task cloud requirement or run: sky check aws\n" {
		t.Errorf("disabled cloud: %+v", r)
	}
}

func TestJSONOutput(t *testing.T) {
	s := newStub(t, "0.12.0")
	s.mustRun("check") // absorb the API server start lines
	s.mustRun("launch", "-y", "-c", "j1", writeTask(t, simpleTask))
	for _, args := range [][]string{{"status", "-o", "json", "j1"}, {"status", "--refresh", "-o", "json", "j1"}} {
		r := s.mustRun(args...)
		var records []map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &records); err != nil {
			t.Fatalf("%v: invalid JSON %v:\n%s", args, err, r.stdout)
		}
		if len(records) != 1 || records[0]["name"] != "j1" || records[0]["status"] != "UP" ||
			records[0]["cloud"] != "AWS" || records[0]["region"] != "us-east-1" {
			t.Errorf("%v: records %v", args, records)
		}
		if _, ok := records[0]["handle"]; ok {
			t.Error("handle must be excluded")
		}
	}
	if r := s.mustRun("status", "-o", "json", "missing"); r.stdout != "[]\n" {
		t.Errorf("missing cluster JSON: %q", r.stdout)
	}
	r := s.mustRun("check", "-o", "json")
	var check map[string]map[string][]string
	if err := json.Unmarshal([]byte(r.stdout), &check); err != nil {
		t.Fatalf("check JSON: %v\n%s", err, r.stdout)
	}
	if got := check["default"]["AWS"]; strings.Join(got, ",") != "compute,storage" {
		t.Errorf("check JSON: %v", check)
	}
	none := s.with("SKYSTUB_SCENARIO", scenarioNoCredentials).mustRun("check", "-o", "json")
	if none.stdout != "{\n  \"default\": {}\n}\n" {
		t.Errorf("no credentials JSON: %q", none.stdout)
	}
}

func TestCheckEras(t *testing.T) {
	old := newStub(t, "0.7.0").mustRun("check").stdout
	for _, want := range []string{"Checking credentials to enable clouds for SkyPilot.\n",
		"  Checking AWS...\r  AWS: enabled" + strings.Repeat(" ", 30) + "\n", "🎉 Enabled clouds 🎉\n  ✔ AWS\n  ✔ GCP\n"} {
		if !strings.Contains(old, want) {
			t.Errorf("0.7 check lacks %q:\n%s", want, old)
		}
	}
	mid := stripANSI(newStub(t, "0.9.3").mustRun("check").stdout)
	if !strings.Contains(mid, "  AWS: enabled [compute, storage]\n") || !strings.Contains(mid, "🎉 Enabled clouds 🎉\n  AWS [compute, storage]\n") {
		t.Errorf("0.9 check:\n%s", mid)
	}
	cur := newStub(t, "0.10.3").mustRun("check").stdout
	if !strings.Contains(cur, "\x1b[") {
		t.Error("0.10 check must carry ANSI codes even when piped")
	}
	cur = stripANSI(cur)
	for _, want := range []string{"Checking credentials to enable infra for SkyPilot.\n", "  Azure: disabled \n    Reason [compute, storage]: ",
		"🎉 Enabled infra 🎉\n  AWS [compute, storage]\n  GCP [compute, storage]\n", "\nUsing SkyPilot API server: http://127.0.0.1:46580\n"} {
		if !strings.Contains(cur, want) {
			t.Errorf("0.10 check lacks %q:\n%s", want, cur)
		}
	}
	none := stripANSI(newStub(t, "0.10.3").with("SKYSTUB_SCENARIO", scenarioNoCredentials).mustRun("check").stdout)
	if !strings.Contains(none, "  AWS: disabled \n    Reason [compute, storage]: AWS credentials are not set.") ||
		!strings.Contains(none, "🎉 Enabled infra 🎉\n  No infra to check/enabled.\n") {
		t.Errorf("no_credentials check:\n%s", none)
	}
}

// A launch killed mid-way leaves INIT; the emulated server finishes the
// provisioning, so once ready_at passes a refresh reports UP.
func TestKilledLaunchConverges(t *testing.T) {
	const delayMS = 40
	s := newStub(t, "0.10.3").with("SKYSTUB_DELAY_MS", fmt.Sprint(delayMS))
	cmd := s.command("launch", "-y", "-c", "killed", writeTask(t, simpleTask))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for statusOf(t, s.mustRun("status", "killed").stdout, "killed") != statusInit {
		if time.Now().After(deadline) {
			t.Fatal("launch never reached INIT")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if got := statusOf(t, s.mustRun("status", "killed").stdout, "killed"); got != statusInit {
		t.Fatalf("right after the kill: %q, want INIT", got)
	}
	time.Sleep(launchPauses * delayMS * time.Millisecond)
	if got := statusOf(t, s.mustRun("status", "--refresh", "killed").stdout, "killed"); got != statusUp {
		t.Errorf("after ready_at: %q, want UP", got)
	}
}

func TestHangIgnoresTerm(t *testing.T) {
	s := newStub(t, "0.10.3").with("SKYSTUB_SCENARIO", scenarioHangIgnoreTerm)
	cmd := s.command("launch", "-y", "-c", "h", writeTask(t, simpleTask))
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	time.Sleep(200 * time.Millisecond)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		t.Fatalf("exited on SIGTERM: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	_ = cmd.Process.Kill()
	<-done
	if !strings.Contains(out.String(), "Launching on AWS") {
		t.Errorf("hang printed:\n%s", out.String())
	}
}

func TestInvocationLog(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "argv.log")
	s := newStub(t, "0.10.3").with("SKYSTUB_LOG", logPath)
	task := writeTask(t, simpleTask)
	s.mustRun("launch", "-y", "-c", "a", task)
	s.mustRun("status", "a")
	s.run("launch", "--bogus")
	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 log lines, got %q", lines)
	}
	launches := 0
	for _, l := range lines {
		var argv []string
		if err := json.Unmarshal([]byte(l), &argv); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if len(argv) > 1 && argv[0] == "sky" && argv[1] == "launch" {
			launches++
		}
	}
	if launches != 2 {
		t.Errorf("counted %d launches, want 2", launches)
	}
	var first []string
	_ = json.Unmarshal([]byte(lines[0]), &first)
	if strings.Join(first, " ") != "sky launch -y -c a "+task {
		t.Errorf("first line %v", first)
	}
}

func TestLaunchAcceptsAutostopFlags(t *testing.T) {
	s := newStub(t, "0.9.1").with("SKYSTUB_DELAY_MS", "1")
	task := writeTask(t, simpleTask)
	if r := s.run("launch", "-y", "-c", "idle", "-i", "30", "--down", task); r.code != 0 {
		t.Fatalf("launch with -i and --down: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
