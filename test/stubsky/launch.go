package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// Pauses (in SKYSTUB_DELAY_MS units) of a full launch: optimizer,
// launching, instance up, cluster launched, job submitted, job started,
// job output, job finished. A launch's ready_at is start + all of them.
const launchPauses = 8

// Pauses of a restart (sky start) until the cluster is up.
const startPauses = 3

// resources is what a launch provisions.
type resources struct {
	cloud, region, instanceType string
}

func (r resources) spec() instanceSpec { return specFor(r.instanceType) }

// confirm prints a click.confirm prompt. stdin is never a TTY for the
// stub's callers, so like click on EOF it aborts: "Aborted!" on stderr and
// exit code 1, which it returns.
func confirm(prompt string) int {
	fmt.Print(prompt + " [Y/n]: ")
	errln("Aborted!")
	return 1
}

// launch implements `sky launch [-y] [-d] -c NAME TASK.yaml`.
func (s *session) launch(inv *invocation) int {
	v := s.cfg.version
	entrypoint := strings.Join(inv.args, " ")
	t := &task{}
	if entrypoint != "" {
		if !looksLikeYAML(inv.args) {
			// The real CLI would run it as an inline command; the stub only
			// knows task files.
			return raise("ValueError", "stubsky only supports YAML entrypoints, got "+pyRepr(entrypoint))
		}
		var err error
		if t, err = readTask(entrypoint); err != nil {
			// This prompt is not skipped by -y; on a non-TTY it aborts.
			reason := "does not exist. Please check if the path is correct."
			if _, statErr := os.Stat(entrypoint); statErr == nil {
				reason = "is not a file. Please check if the path is correct."
			}
			fmt.Printf("%s looks like a yaml path but %s\nIt will be treated as a command to be run remotely. Continue? [y/N]: ",
				pyRepr(entrypoint), reason)
			errln("Aborted!")
			return 1
		}
		if v.hasAPIServer() {
			outln("YAML to run: " + entrypoint)
		} else {
			outln("Task from YAML spec: " + entrypoint)
		}
	}
	res, code, failed := s.resolveResources(t)
	if failed {
		return code
	}
	name := inv.value("cluster")
	if name == "" {
		name = "sky-" + newStableHex(fmt.Sprint(time.Now().UnixNano()), 4) + "-" + localUser()
	}
	if err := s.announceAPIServer(); err != nil {
		return internalError(err)
	}
	st, err := store{s.cfg.home}.read()
	if err != nil {
		return internalError(err)
	}
	existing := st.find(name)

	optimizerShown := false
	if !inv.flag("yes") {
		switch {
		case existing == nil:
			if code, failed := s.checkCloudAccess(t, res); failed {
				return code
			}
			s.printOptimizer(res)
			optimizerShown = true
			return confirm(fmt.Sprintf("Launching a new cluster %s. Proceed?", pyRepr(name)))
		case existing.Status == statusStopped:
			return confirm(fmt.Sprintf("Restarting the stopped cluster %s. Proceed?", pyRepr(name)))
		}
	}
	if v.hasAPIServer() {
		outln("Running on cluster: " + name)
	}
	if code, failed := s.checkCloudAccess(t, res); failed {
		return code
	}
	if existing != nil && existing.Status != statusStopped {
		if code, failed := checkMismatch(t, res, existing); failed {
			return code
		}
	}

	stopSignals := s.handleLaunchSignals()
	defer stopSignals()

	if existing == nil || existing.Status != statusUp {
		if existing == nil && !optimizerShown {
			s.pause(1)
			s.printOptimizer(res)
		}
		if existing != nil {
			res = resources{existing.Cloud, existing.Region, existing.InstanceType}
		}
		restart := existing != nil && existing.Status == statusStopped
		if code, ok := s.provision(name, res, launchPauses, restart); !ok {
			return code
		}
	}
	if !t.hasRun {
		fmt.Print(commandHints(name, 0))
		return 0
	}
	return s.runJob(name, t, inv.flag("detach_run"))
}

func looksLikeYAML(args []string) bool {
	return len(args) == 1 && (strings.HasSuffix(args[0], "yaml") || strings.HasSuffix(args[0], ".yml"))
}

// resolveResources validates the resources section for the emulated
// version and fills in defaults.
func (s *session) resolveResources(t *task) (resources, int, bool) {
	v := s.cfg.version
	res := resources{cloud: t.cloud, region: t.region, instanceType: t.instanceType}
	if t.infra != "" {
		if !v.hasInfra() {
			return res, raise("sky.exceptions.InvalidSkyPilotConfigError",
				"Invalid resources YAML: Found unsupported field 'infra'."), true
		}
		if t.cloud != "" || t.region != "" {
			return res, raise("ValueError", fmt.Sprintf(
				"Cannot specify both `infra` and `cloud`, `region`, or `zone` parameters. Got: infra=%s, cloud=%s, region=%s, zone=None",
				t.infra, pyNone(t.cloud), pyNone(t.region))), true
		}
		parts := strings.Split(t.infra, "/")
		for _, p := range parts {
			if p == "" {
				return res, raise("ValueError", fmt.Sprintf(
					"Invalid infra format: %s. Format should not contain empty parts (e.g., double slashes \"//\").", t.infra)), true
			}
		}
		// "*" in any part is a wildcard (task_yaml.md): a cloud of "*" is any cloud, which
		// the stub's optimizer takes as its default one.
		if parts[0] != "*" {
			res.cloud = canonicalCloud(parts[0])
		}
		if len(parts) > 1 && parts[1] != "*" {
			res.region = strings.Join(parts[1:], "/")
			if res.cloud != "kubernetes" && len(parts) > 2 {
				res.region = parts[1]
			}
		}
	}
	if res.cloud == "" {
		res.cloud = "aws"
	}
	info, known := lookupCloud(res.cloud)
	if !known || info.storageOnly {
		return res, raise("ValueError", fmt.Sprintf("Invalid cloud %s. Supported clouds: aws, azure, gcp, kubernetes, lambda", pyRepr(res.cloud))), true
	}
	if res.region == "" {
		res.region = info.defaultRegion
	}
	if res.instanceType == "" {
		res.instanceType = info.defaultType
	}
	return res, 0, false
}

func pyNone(s string) string {
	if s == "" {
		return "None"
	}
	return s
}

// checkCloudAccess fails the way the optimizer does when no cloud at all,
// or not the requested one, is enabled.
func (s *session) checkCloudAccess(t *task, res resources) (int, bool) {
	enabled := map[string]bool{}
	compute := 0
	for _, k := range s.enabledClouds() {
		if c, ok := lookupCloud(k); ok && !c.storageOnly {
			enabled[k] = true
			compute++
		}
	}
	if compute == 0 {
		return raise("sky.exceptions.NoCloudAccessError",
			"Cloud access is not set up. Run: "+ansiBright+"sky check"+ansiReset), true
	}
	if !enabled[res.cloud] {
		taskName := ""
		if t.name != "" {
			taskName = " " + pyRepr(t.name)
		}
		return raise("sky.exceptions.ResourcesUnavailableError", fmt.Sprintf(
			"Task%s requires %s which is not enabled. To enable access, change the task cloud requirement or run: %ssky check %s%s",
			taskName, displayName(res.cloud), ansiBright, res.cloud, ansiReset)), true
	}
	return 0, false
}

// checkMismatch rejects a launch on an existing cluster whose resources
// differ from the explicitly requested ones.
func checkMismatch(t *task, res resources, c *cluster) (int, bool) {
	cloudDiffers := (t.cloud != "" || t.infra != "") && res.cloud != c.Cloud
	typeDiffers := t.instanceType != "" && t.instanceType != c.InstanceType
	if !cloudDiffers && !typeDiffers {
		return 0, false
	}
	return raise("sky.exceptions.ResourcesMismatchError", fmt.Sprintf(
		"Requested resources do not match the existing cluster.\n"+
			"  Requested:\t{%s}\n"+
			"  Existing:\t%s\n"+
			"To fix: specify a new cluster name, or down the existing cluster first: sky down %s",
		oldResources(res.cloud, res.instanceType), oldResources(c.Cloud, c.InstanceType), c.Name)), true
}

// printOptimizer prints "Considered resources" with the optimizer's framed
// table, columns per era.
func (s *session) printOptimizer(res resources) {
	spec := res.spec()
	chosen := ansiGreen + "   ✔" + ansiReset
	cost := fmt.Sprintf("%.2f", spec.price)
	gpus := "-"
	if spec.accName != "" {
		gpus = fmt.Sprintf("%s:%d", spec.accName, spec.accCount)
	}
	t := &table{framed: true}
	if s.cfg.version.hasInfra() {
		t.header = []string{"INFRA", "INSTANCE", "vCPUs", "Mem(GB)", "GPUS", "COST ($)", "CHOSEN"}
		t.rows = [][]string{{infraCell(res.cloud, res.region), res.instanceType,
			formatFloat(spec.vcpus), formatFloat(spec.memGB), gpus, cost, chosen}}
	} else {
		t.header = []string{"CLOUD", "INSTANCE", "vCPUs", "Mem(GB)", "ACCELERATORS", "REGION/ZONE", "COST ($)", "CHOSEN"}
		t.rows = [][]string{{displayName(res.cloud), res.instanceType,
			formatFloat(spec.vcpus), formatFloat(spec.memGB), gpus, res.region, cost, chosen}}
	}
	outln("Considered resources (1 node):")
	outln(t.String())
}

// provisionHint is the log hint after "Cluster launched" / "Failed to
// provision", per era.
func (s *session) provisionHint(name string, started time.Time) string {
	ts := started.Format("2006-01-02-15-04-05") + fmt.Sprintf("-%06d", started.Nanosecond()/1000)
	switch {
	case s.cfg.version.hasInfra():
		return ansiDim + "View logs: \x1b[1msky logs --provision " + name + ansiReset + ansiReset
	case s.cfg.version.hasAPIServer():
		return ansiDim + "View logs: sky api logs -l sky-" + ts + "/provision.log" + ansiReset
	default:
		return ansiDim + "View logs at: ~/sky_logs/sky-" + ts + "/provision.log" + ansiReset
	}
}

// provision brings cluster name up on res, printing the provisioner's
// lines. The INIT record carries ready_at so that a killed CLI still leaves
// a cluster that converges like the real server's continued launch.
// pauses is the caller's whole duration for ready_at. restart marks the
// restart of a STOPPED cluster, which does not fail over and keeps the
// cluster on failure. ok is false when the invocation must end with code.
func (s *session) provision(name string, res resources, pauses int, restart bool) (code int, ok bool) {
	started := time.Now()
	outcome := outcomeUp
	switch s.cfg.scenario {
	case scenarioQuota:
		outcome = outcomeRemoved
		if restart {
			outcome = outcomeStopped
		}
	case scenarioCrash:
		outcome = outcomeStuck
	}
	var hash string
	err := store{s.cfg.home}.update(func(st *stateFile) error {
		c := st.find(name)
		if c == nil {
			c = &cluster{Name: name, Cloud: res.cloud, Region: res.region, InstanceType: res.instanceType,
				LaunchedAt: started.Truncate(time.Second), ClusterHash: newUUID(), IP: fakeIP(name, res.cloud)}
		}
		c.Status = statusInit
		c.ReadyAt = started.Add(time.Duration(pauses) * s.cfg.delay)
		c.Outcome = outcome
		c.LastUse = s.commandLine()
		hash = c.ClusterHash
		st.upsert(c)
		return nil
	})
	if err != nil {
		return internalError(err), false
	}

	s.pause(1)
	outln(startingMessage(launchingLine(res)))
	switch s.cfg.scenario {
	case scenarioHang, scenarioHangIgnoreTerm:
		for { // until a signal ends the process
			time.Sleep(time.Hour)
		}
	case scenarioQuota:
		return s.failQuota(name, res, started, restart), false
	case scenarioCrash:
		s.pause(1)
		return crashTraceback(), false
	}
	if s.cfg.forceColor {
		s.drawSpinner(name)
	}
	s.pause(1)
	if res.cloud == "kubernetes" {
		outln(indentLastSymbol + "Pod is up.")
	} else {
		outln(indentLastSymbol + "Instance is up.")
	}
	s.pause(1)
	outln(finishingMessage("Cluster launched: "+name+".") + "  " + s.provisionHint(name, started))

	cancelled := false
	err = store{s.cfg.home}.update(func(st *stateFile) error {
		c := st.find(name)
		if c == nil || c.ClusterHash != hash || c.Status == statusStopped {
			// A concurrent stop/down cancelled this launch request.
			cancelled = true
			return nil
		}
		c.Status = statusUp
		c.EverUp = true
		return nil
	})
	if err != nil {
		return internalError(err), false
	}
	if cancelled {
		return raise("sky.exceptions.RequestCancelled", fmt.Sprintf(
			"Current 'sky.launch' request (%s) is cancelled by another process.", newUUID())), false
	}
	return 0, true
}

// launchingLine is "Launching on AWS us-east-1 (us-east-1a, ...)."
func launchingLine(res resources) string {
	if res.cloud == "kubernetes" {
		return "Launching on Kubernetes."
	}
	line := fmt.Sprintf("Launching on %s %s", displayName(res.cloud), res.region)
	if zones := zonesFor(res.cloud, res.region); len(zones) > 0 {
		line += " (" + strings.Join(zones, ", ") + ")"
	}
	return line + "."
}

// drawSpinner mimics the rich spinner the real CLI draws on a TTY (or with
// FORCE_COLOR): frames redrawn in place with \r, then erased.
func (s *session) drawSpinner(name string) {
	frames := []string{"⠋", "⠙", "⠹", "⠸"}
	msg := " \x1b[1;36mLaunching\x1b[0m  " + ansiDim + "View logs: sky logs --provision " + name + ansiReset
	for _, f := range frames {
		fmt.Print("\r" + f + msg)
		time.Sleep(s.cfg.delay / time.Duration(len(frames)))
	}
	fmt.Print("\r\x1b[2K")
}

// failQuota prints the zero-quota failure. A new cluster was never
// created, so its record is removed and the failover summary is raised; a
// restarted cluster stays STOPPED and the zone's reason itself is raised.
func (s *session) failQuota(name string, res resources, started time.Time, restart bool) int {
	quota := fmt.Sprintf("Found no quota for %s on-demand instances in region %s in %s. "+
		"To request quotas, check the instruction: https://docs.skypilot.co/en/latest/cloud-setup/quota.html.",
		res.instanceType, res.region, displayName(res.cloud))
	s.pause(1)
	outln(ansiYellow + quota + ansiReset)
	s.pause(1)
	outln(errorMessage("Failed to provision resources. " + s.provisionHint(name, started)))
	if err := (store{s.cfg.home}).update(func(st *stateFile) error {
		if c := st.find(name); c != nil && restart {
			c.Status = statusStopped
		} else {
			st.remove(name)
		}
		return nil
	}); err != nil {
		return internalError(err)
	}
	if restart {
		return raise("sky.exceptions.ResourcesUnavailableError", quota)
	}
	requested := oldResources(res.cloud, res.instanceType)
	reasons := &table{}
	if s.cfg.version.hasInfra() {
		reasons.header = []string{"INFRA", "RESOURCES", "REASON"}
		reasons.rows = [][]string{{infraCell(res.cloud, res.region), requested, quota}}
	} else {
		reasons.header = []string{"Resource", "Reason"}
		reasons.rows = [][]string{{requested, quota}}
	}
	return raise("sky.exceptions.ResourcesUnavailableError",
		"Failed to provision all possible launchable resources. Relax the task's resource requirements: "+requested+
			"\nTo keep retrying until the cluster is up, use the `--retry-until-up` flag."+
			"\nReasons for provision failures (for details, please check the log above):\n"+reasons.String())
}

// crashTraceback prints an uncaught Python exception with its traceback,
// as an unexpected client crash does, and returns exit code 1.
func crashTraceback() int {
	const site = "/opt/conda/lib/python3.10/site-packages"
	errln(`Traceback (most recent call last):
  File "/opt/conda/bin/sky", line 8, in <module>
    sys.exit(cli())
  File "` + site + `/click/core.py", line 1157, in __call__
    return self.main(*args, **kwargs)
  File "` + site + `/sky/client/cli/command.py", line 1302, in launch
    job_id_handle = _async_call_or_wait(request_id, async_call, 'sky.launch')
  File "` + site + `/sky/backends/cloud_vm_ray_backend.py", line 3120, in _provision
    head_ip = provision_record.head_instance_info['head_ip']
KeyError: 'head_ip'`)
	return 1
}

// runJob submits the task's run section and, unless detached, tails it.
// The exit code follows the job status on v0.9+ (100 for FAILED).
func (s *session) runJob(name string, t *task, detach bool) int {
	jobID := 0
	err := store{s.cfg.home}.update(func(st *stateFile) error {
		if c := st.find(name); c != nil {
			c.LastJobID++
			jobID = c.LastJobID
		}
		return nil
	})
	if err != nil {
		return internalError(err)
	}
	s.pause(1)
	outln(startingMessage(fmt.Sprintf("Job submitted, ID: %d", jobID)))
	code := 0
	if !detach {
		s.pause(1)
		outln(indentSymbol + "Waiting for task resources on 1 node.")
		outln(indentLastSymbol + "Job started. Streaming logs... (Ctrl-C to exit log streaming; job will not be killed)")
		s.pause(1)
		lines := t.runEchoes
		if len(lines) == 0 {
			lines = []string{"Running task on " + name}
		}
		pid := fakePID(name)
		for _, l := range lines {
			outln(fmt.Sprintf("(task, pid=%d) %s", pid, l))
		}
		s.pause(1)
		if s.cfg.scenario == scenarioJobFails {
			outln(ansiRed + fmt.Sprintf("ERROR: Job %d failed with return code list: [1] ", jobID) + ansiReset)
			outln(finishingMessage("Job finished (status: FAILED)."))
			if s.cfg.version.hasJobExitCodes() {
				code = 100
			}
		} else {
			outln(finishingMessage("Job finished (status: SUCCEEDED)."))
		}
	}
	fmt.Print(commandHints(name, jobID))
	return code
}

// commandHints is the "📋 Useful Commands" footer. The client prints it
// with click.secho, which drops the ANSI codes on a pipe but keeps tabs.
func commandHints(name string, jobID int) string {
	var b strings.Builder
	b.WriteString("\n📋 Useful Commands\n")
	if jobID > 0 {
		fmt.Fprintf(&b, "Job ID: %d\n", jobID)
		fmt.Fprintf(&b, "├── To cancel the job:\t\tsky cancel %s %d\n", name, jobID)
		fmt.Fprintf(&b, "├── To stream job logs:\t\tsky logs %s %d\n", name, jobID)
		fmt.Fprintf(&b, "└── To view job queue:\t\tsky queue %s\n", name)
	}
	fmt.Fprintf(&b, "Cluster name: %s\n", name)
	fmt.Fprintf(&b, "├── To log into the head VM:\tssh %s\n", name)
	fmt.Fprintf(&b, "├── To submit a job:\t\tsky exec %s yaml_file\n", name)
	fmt.Fprintf(&b, "├── To stop the cluster:\tsky stop %s\n", name)
	fmt.Fprintf(&b, "└── To teardown the cluster:\tsky down %s\n", name)
	return b.String()
}

// handleLaunchSignals sets up what an interrupted launch does. SIGTERM
// keeps Go's default (the process dies, like the real CLI) except in the
// hang_ignore_term scenario, which ignores SIGTERM and SIGINT. On SIGINT
// the v0.8+ client reports that the request continues on the server. The
// returned function undoes the setup.
func (s *session) handleLaunchSignals() (stop func()) {
	if s.cfg.scenario == scenarioHangIgnoreTerm {
		signal.Ignore(syscall.SIGTERM, syscall.SIGINT)
		return func() {}
	}
	interrupts := make(chan os.Signal, 1)
	signal.Notify(interrupts, os.Interrupt)
	done := make(chan struct{})
	go func() {
		select {
		case <-interrupts:
			if s.cfg.version.hasAPIServer() {
				id := newUUID()[:8]
				outln(startingMessage("Request will continue running asynchronously."))
				outln(indentSymbol + ansiDim + "View logs: " + ansiBright + "sky api logs " + id + ansiReset)
				outln(indentSymbol + ansiDim + "Or, visit: " + apiServerURL + "/api/stream?request_id=" + id)
				outln(indentLastSymbol + ansiDim + "To cancel the request, run: " + ansiBright + "sky api cancel " + id + ansiReset)
				outln(ansiReset)
			}
			errln("Aborted!")
			exit(1)
		case <-done:
		}
	}()
	return func() {
		signal.Stop(interrupts)
		close(done)
	}
}

// start implements `sky start -y NAME`.
func (s *session) start(inv *invocation) int {
	if err := s.announceAPIServer(); err != nil {
		return internalError(err)
	}
	st, err := store{s.cfg.home}.read()
	if err != nil {
		return internalError(err)
	}
	var toStart []*cluster
	for _, n := range inv.args {
		c := st.find(n)
		switch {
		case c == nil:
		case c.Status == statusUp:
			outln(fmt.Sprintf("Cluster %s already has status UP.", c.Name))
		default:
			toStart = append(toStart, c)
		}
	}
	if len(toStart) == 0 {
		if !anyFound(st, inv.args) {
			outln("Cluster(s) not found (tip: see `sky status`). Do you mean to use `sky launch` to provision a new cluster?")
		}
		return 0
	}
	if !inv.flag("yes") {
		return confirm(fmt.Sprintf("Restarting %d %s: %s. Proceed?", len(toStart), pluralNoun(len(toStart), "cluster"), joinNames(toStart)))
	}
	stopSignals := s.handleLaunchSignals()
	defer stopSignals()
	for _, c := range toStart {
		res := resources{c.Cloud, c.Region, c.InstanceType}
		if code, ok := s.provision(c.Name, res, startPauses, c.Status == statusStopped); !ok {
			return code
		}
		// Printed by the client with click.secho: no colour on a pipe.
		outln("Cluster " + c.Name + " started.")
	}
	return 0
}

func anyFound(st *stateFile, names []string) bool {
	for _, n := range names {
		if st.find(n) != nil {
			return true
		}
	}
	return false
}

// stop implements `sky stop -y NAME`.
func (s *session) stop(inv *invocation) int {
	return s.downOrStop(inv, false)
}

// down implements `sky down -y NAME`.
func (s *session) down(inv *invocation) int {
	return s.downOrStop(inv, true)
}

// downOrStop follows _down_or_stop_clusters: every outcome, even a
// failure, exits 0; only the text tells what happened.
func (s *session) downOrStop(inv *invocation, down bool) int {
	if err := s.announceAPIServer(); err != nil {
		return internalError(err)
	}
	st, err := store{s.cfg.home}.read()
	if err != nil {
		return internalError(err)
	}
	var targets []*cluster
	for _, n := range inv.args {
		if c := st.find(n); c != nil {
			targets = append(targets, c)
		}
	}
	if len(targets) == 0 {
		outln("Cluster(s) not found (tip: see `sky status`).")
		return 0
	}
	operation := "Stopping"
	if down {
		operation = "Terminating"
	}
	if !inv.flag("yes") {
		return confirm(fmt.Sprintf("%s %d %s: %s. Proceed?", operation, len(targets), pluralNoun(len(targets), "cluster"), joinNames(targets)))
	}
	outln("")
	var failed []string
	for _, c := range targets {
		s.pause(3)
		switch {
		case !down && (c.Cloud == "kubernetes" || s.cfg.scenario == scenarioStopUnsupported):
			outln(fmt.Sprintf("Stopping cluster %s... skipped.\n"+
				"  Stopping is currently not supported for Kubernetes.\n"+
				"  To terminate the cluster instead, run: sky down %s", pyRepr(c.Name), c.Name))
			failed = append(failed, c.Name)
		case down && s.cfg.scenario == scenarioDownFails:
			outln(fmt.Sprintf("Terminating cluster %s...failed. \nReason: RuntimeError: Failed to terminate instances of cluster %s on %s: "+
				"An error occurred (UnauthorizedOperation) when calling the TerminateInstances operation: "+
				"You are not authorized to perform this operation.", c.Name, c.Name, infraCell(c.Cloud, c.Region)))
			failed = append(failed, c.Name)
		default:
			name := c.Name
			err := store{s.cfg.home}.update(func(st *stateFile) error {
				if down {
					st.remove(name)
				} else if cur := st.find(name); cur != nil {
					cur.Status = statusStopped
					cur.LastUse = s.commandLine()
				}
				return nil
			})
			if err != nil {
				return internalError(err)
			}
			if down {
				outln(fmt.Sprintf("Terminating cluster %s...done.", name))
			} else {
				outln(fmt.Sprintf("Stopping cluster %s...done.\n  To restart the cluster, run: sky start %s", name, name))
			}
		}
	}
	if len(failed) > 0 {
		msg := "Cluster(s) failed. See details above."
		if down {
			msg += " If you want to ignore the errors and remove the cluster(s) from the status table, use `sky down --purge`."
		}
		outln(msg)
	}
	return 0
}

func pluralNoun(n int, noun string) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}

func joinNames(cs []*cluster) string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}
