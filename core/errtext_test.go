package core

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestExtractErrorSamples(t *testing.T) {
	tests := []struct {
		stderrFile, stdoutFile, want string
	}{
		{"issue5600.stderr", "", "Failed to provision all possible launchable resources. Relax the task's resource requirements: " +
			"1x RunPod(cpus=32+, {'H100': 8}, disk_tier=best, disk_size=512, ports=['8081'])"},
		{"resources_unavailable_current.stderr", "", "Failed to provision all possible launchable resources. " +
			"Relax the task's resource requirements: 1x AWS(p4d.24xlarge, {'A100': 8})"},
		{"no_launchable.stderr", "", "No launchable resource found for task Task<name=...>(...). To fix: relax its resource requirements."},
		{"mismatch.stderr", "", "Requested resources do not match the existing cluster."},
		// Logger prefixes ("E 10-11 18:24:59 instance.py:457] ") and an exception logged on stdout.
		{"", "autofailover_docs.stdout", "Failed to acquire resources in all zones in eastus"},
		{"", "stop_skipped.stdout", "Stopping is currently not supported for Kubernetes."},
		{"", "issue2775_stop_k8s.stdout", "Kubernetes does not support stopping VMs."},
		{"", "ctrl_c.stdout", "⚙︎ Request will continue running asynchronously."},
		// A chain: the API server could not be reached, then starting one failed too.
		{"issue5057_api_server_chain.stderr", "", "Could not connect to SkyPilot API server at http://127.0.0.1:46580. " +
			"Please ensure that the server is running. Try: curl http://127.0.0.1:46580/api/health"},
		// A message announcing its details with a colon, indented below it or not.
		{"pr890_invalid_fields.stderr", "", "The following fields are invalid: Unknown field 'run1'. Did you mean 'run'?"},
		{"pr940_invalid_resources.stderr", "", "Invalid resources YAML: The following fields are invalid: " +
			"Instead of 'spot_recovery1', did you mean 'spot_recovery'?"},
		// The YAML prompt declined (or interrupted): the warning above it is the cause.
		{"", "issue1175_yaml_prompt.stdout", "'caption.yaml' looks like a yaml path but contains an invalid configuration. Please check syntax."},
		{"", "issue1175_yaml_prompt_debug.stdout", "'caption.yaml' looks like a yaml path but contains an invalid configuration. Please check syntax."},
		// Teardown failures: the cause is in the logged error block before the summary.
		{"", "pr581_down_locked.stdout", "Cluster sky-cpunode-mraheja is locked by /home/mraheja/.sky/.sky-cpunode-mraheja.lock. " +
			"Check to see if it is still being launched."},
		{"", "issue632_down_aws.stdout", "Failed to terminate vasp. An error occurred (InvalidParameterCombination) " +
			"when calling the TerminateInstances operation: No instances specified"},
		{"", "pr789_down_progress.stdout", "Failed to terminate sky-beab-weichiang-7. An error occurred (InvalidParameterCombination) " +
			"when calling the TerminateInstances operation: No instances specified"},
		{"", "issue1977_down_gcp.stdout", "Failed to terminate sky-spot-controller-9ce1ce58. ERROR: (gcloud.compute.instances.delete) " +
			"argument INSTANCE_NAMES [INSTANCE_NAMES ...]: Must be specified."},
		{"", "issue1783_down_no_summary.stdout", "Failed to terminate test-autostop. An error occurred (InvalidParameterCombination) " +
			"when calling the TerminateInstances operation: No instances specified"},
		{"", "issue1972_stop_gcp.stdout", "<HttpError 400 when requesting https://compute.googleapis.com/compute/v1/projects/alpa-373720/" +
			"zones/us-east4-c/instances/ray-eval-head-d4fb5427-compute/stop?alt=json returned \"VM has a Local SSD attached but an " +
			"undefined value for `discard-local-ssd`. If using gcloud, please add `--discard-local-ssd=false` or " +
			"`--discard-local-ssd=true` to your command.\". Details: \"[{'message': 'VM has a Local SSD attached but an undefined " +
			"value for `discard-local-ssd`. If using gcloud, please add `--discard-loca"}, // cut at 500 bytes
		{"", "down_failed_current.stdout", "Failed to terminate skygate-1. An error occurred (UnauthorizedOperation) when calling " +
			"the TerminateInstances operation: You are not authorized to perform this operation."},
	}
	for _, tt := range tests {
		t.Run(tt.stderrFile+tt.stdoutFile, func(t *testing.T) {
			var stderr, stdout string
			if tt.stderrFile != "" {
				stderr = readSample(t, "errors/"+tt.stderrFile)
			}
			if tt.stdoutFile != "" {
				stdout = readSample(t, "errors/"+tt.stdoutFile)
			}
			if got := ExtractError(stderr, stdout); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestExtractErrorCases(t *testing.T) {
	quotaStdout := "⚙︎ Launching on AWS us-east-1 (us-east-1a, us-east-1b).\n" +
		"W 03-12 10:01:02 cloud_vm_ray_backend.py:1234] Found no quota for p4d.24xlarge on-demand instances in region us-east-1 in AWS. " +
		"To request quotas, check the instruction:\n" +
		"https://docs.skypilot.co/en/latest/cloud-setup/quota.html.\n" +
		"⨯ Failed to provision resources. View logs: sky logs --provision skygate-1\n"
	tests := []struct {
		name, stderr, stdout, want string
	}{
		{"quota beats the generic provisioning failure", readSample(t, "errors/resources_unavailable_current.stderr"), quotaStdout,
			"Found no quota for p4d.24xlarge on-demand instances in region us-east-1 in AWS. To request quotas, check the instruction: " +
				"https://docs.skypilot.co/en/latest/cloud-setup/quota.html."},
		{"cloud not enabled",
			"sky.exceptions.ResourcesUnavailableError: Task requires AWS which is not enabled. To enable access, change the task cloud requirement or run: sky check aws\n", "",
			"Task requires AWS which is not enabled. To enable access, change the task cloud requirement or run: sky check aws"},
		{"no cloud access", "sky.exceptions.NoCloudAccessError: Cloud access is not set up. Run: sky check\n", "",
			"Cloud access is not set up. Run: sky check"},
		{"no cloud access, 2022", "RuntimeError: Cloud access is not set up. Run: sky check\n", "", "Cloud access is not set up. Run: sky check"},
		{"invalid task yaml", "ValueError: Invalid task YAML: Instead of 'resource', did you mean 'resources'?\n", "YAML to run: task.yaml\n",
			"Invalid task YAML: Instead of 'resource', did you mean 'resources'?"},
		{"api server unreachable",
			"sky.exceptions.ApiServerConnectionError: Could not connect to SkyPilot API server at http://10.0.0.5:46580. Please ensure that the server is running. Try: curl http://10.0.0.5:46580/api/health\n", "",
			"Could not connect to SkyPilot API server at http://10.0.0.5:46580. Please ensure that the server is running. Try: curl http://10.0.0.5:46580/api/health"},
		{"request cancelled", "\x1b[31msky.exceptions.RequestCancelled: Current 'sky.launch' request (73d316ac-5e2b) is cancelled by another process.\x1b[0m\n",
			"⚙︎ Launching on AWS us-east-1 (us-east-1a).\n", "Current 'sky.launch' request (73d316ac-5e2b) is cancelled by another process."},
		{"ip of a stopped cluster", "RuntimeError: Cluster 'skygate-1' is not in UP status.\n", "", "Cluster 'skygate-1' is not in UP status."},
		// The per-zone failure was being handled when the summary was raised; the first of
		// sky's exceptions is the cause.
		{"debug traceback with a server traceback",
			"Traceback (most recent call last):\n  File \"/opt/sky/bin/sky\", line 8, in <module>\n    sys.exit(cli())\n" +
				"=== Traceback on SkyPilot API Server ===\nTraceback (most recent call last):\n" +
				"  File \"/sky/backends/cloud_vm_ray_backend.py\", line 2071, in provision_with_retries\n    raise exceptions.ResourcesUnavailableError(\n" +
				"sky.exceptions.ResourcesUnavailableError: Failed to acquire resources in all zones in us-central1 for {GCP(n1-standard-8)}.\n" +
				"During handling of the above exception, another exception occurred:\n" +
				"sky.exceptions.ResourcesUnavailableError: Failed to provision all possible launchable resources. Relax the task's resource requirements: 1x GCP(n1-standard-8)\n",
			"", "Failed to acquire resources in all zones in us-central1 for {GCP(n1-standard-8)}."},
		{"a TypeError while reporting sky's exception",
			"sky.exceptions.ResourcesUnavailableError: Failed to acquire resources in all zones in us-central1 for {GCP(n1-standard-8)}.\n\n" +
				"During handling of the above exception, another exception occurred:\n\n" +
				"TypeError: RuntimeError() takes no keyword arguments\n", "",
			"Failed to acquire resources in all zones in us-central1 for {GCP(n1-standard-8)}."},
		{"a TypeError while handling a builtin exception",
			"ConnectionRefusedError: [Errno 111] Connection refused\n\nDuring handling of the above exception, another exception occurred:\n\n" +
				"TypeError: SSHCommandRunner.__init__() missing 2 required positional arguments: 'ssh_user' and 'ssh_private_key'\n", "",
			"[Errno 111] Connection refused"},
		{"sky's exception raised from another one",
			"subprocess.CalledProcessError: Command 'ray get-head-ip' returned non-zero exit status 1.\n\n" +
				"The above exception was the direct cause of the following exception:\n\nTraceback (most recent call last):\n" +
				"  File \"/opt/sky/bin/sky\", line 8, in <module>\n" +
				"sky.exceptions.FetchClusterInfoError: Failed to get head ip\n", "",
			"Failed to get head ip"},
		{"a builtin exception raised from sky's",
			"sky.exceptions.CommandError: Command ray up failed with return code 1.\n\n" +
				"The above exception was the direct cause of the following exception:\n\n" +
				"RuntimeError: Failed to start the cluster\n", "",
			"Failed to start the cluster"},
		{"two unchained exceptions: the last ended the run",
			"sky.exceptions.ResourcesUnavailableError: first\nsome output\nValueError: second\n", "", "second"},
		{"a colon with nothing after it", "ValueError: Invalid resources YAML: The following fields are invalid:\n", "",
			"Invalid resources YAML: The following fields are invalid:"},
		{"a colon, then a blank line", "ValueError: Invalid task YAML:\n\nUsing SkyPilot API server: http://127.0.0.1:46580\n", "",
			"Invalid task YAML:"},
		{"several indented details",
			"ValueError: The following fields are invalid:\n    Unknown field 'run1'. Did you mean 'run'?\n    Unknown field 'setups'. Did you mean 'setup'?\n" +
				"Next line\n", "",
			"The following fields are invalid: Unknown field 'run1'. Did you mean 'run'? Unknown field 'setups'. Did you mean 'setup'?"},
		{"traceback of a crash", "Traceback (most recent call last):\n  File \"/usr/bin/sky\", line 5, in <module>\n    from sky.cli import cli\nModuleNotFoundError: No module named 'sky'\n", "",
			"No module named 'sky'"},
		{"exception message on the next line", "sky.exceptions.CommandError:\nCommand ray up failed with return code 1.\n", "", "Command ray up failed with return code 1."},
		{"click usage error", "Usage: sky launch [OPTIONS] [ENTRYPOINT]...\nTry 'sky launch -h' for help.\n\nError: No such option: --foo\n", "",
			"No such option: --foo"},
		{"aborted at the launch prompt", "Aborted!\n", "Considered resources (1 node):\nLaunching a new cluster 'skygate-1'. Proceed? [Y/n]: \n",
			"Aborted at the prompt: Launching a new cluster 'skygate-1'. Proceed?"},
		{"aborted without a prompt", "Aborted!\n", "", "Aborted!"},
		{"yaml prompt of current sky, declined", "Aborted!\n", readSample(t, "errors/yaml_prompt_current.stdout"),
			"'task.yaml' looks like a yaml path but contains an invalid configuration. Please check syntax."},
		{"stop prompt answered no", "Aborted!\n", "Stopping 1 cluster: skygate-1. Proceed? [Y/n]: n\n",
			"Aborted at the prompt: Stopping 1 cluster: skygate-1. Proceed?"},
		{"file path warning, then Proceed anyway", "Aborted!\n",
			"Cluster name 'task.yaml' looks like a file path. Did you mean: sky launch -c my-cluster task.yaml\nProceed anyway? [y/N]: \n",
			"Cluster name 'task.yaml' looks like a file path. Did you mean: sky launch -c my-cluster task.yaml"},
		{"a continuation prompt with nothing above it", "Aborted!\n", "✓ SkyPilot API server started.\nProceed anyway? [y/N]: \n",
			"Aborted at the prompt: Proceed anyway?"},
		{"teardown failure", "",
			"\nTerminating cluster skygate-1...failed. \nReason: sky.exceptions.ClusterOwnerIdentityMismatchError: 'skygate-1' (AWS) is owned by account '1234', but the activated account is '5678'.\n" +
				"Cluster(s) failed. See details above. If you want to ignore the errors and remove the cluster(s) from the status table, use `sky down --purge`.\n",
			"'skygate-1' (AWS) is owned by account '1234', but the activated account is '5678'."},
		{"teardown failure, lock held", "",
			"\nTerminating cluster skygate-1...failed. \nReason: RuntimeError: Cluster 'skygate-1' is locked by cluster_status.skygate-1. " +
				"Check to see if it is still being launched\n.\nCluster(s) failed. See details above.\n",
			"Cluster 'skygate-1' is locked by cluster_status.skygate-1. Check to see if it is still being launched"},
		{"summary cut before failed, no logged error", "", "Terminating cluster skygate-1...\n", "Terminating cluster skygate-1..."},
		{"logged error far from the summary is not used", "",
			"E 03-22 18:40:18 cloud_vm_ray_backend.py:2049] old error\n" + strings.Repeat("progress\n", maxLoggedErrorDistance+1) +
				"Terminating cluster skygate-1...failed.\n",
			"Terminating cluster skygate-1...failed."},
		{"stop without a reason line", "", "\nStopping cluster skygate-1...failed. \nCluster(s) failed. See details above.\n", "Stopping cluster skygate-1...failed."},
		{"start of a missing cluster", "",
			"Cluster(s) not found (tip: see `sky status`). Do you mean to use `sky launch` to provision a new cluster?\n", "Cluster(s) not found."},
		{"job failed", "", "⚙︎ Job submitted, ID: 1\n(task, pid=4100) boom\nERROR: Job 1 failed with return code list: [1]\n✓ Job finished (status: FAILED).\n",
			"Job 1 failed with return code list: [1]"},
		{"2022 teardown failure", "",
			"Failed to terminate sky-beab-weichiang-7. If you want to ignore this error and remove the cluster from from Sky's status table, use `sky down --purge`.\n",
			"Failed to terminate sky-beab-weichiang-7. If you want to ignore this error and remove the cluster from from Sky's status table, use `sky down --purge`."},
		{"stderr wins over stdout", "ValueError: from stderr\n", "RuntimeError: from stdout\n", "from stderr"},
		{"last line of stderr", "something odd happened\n\n", "progress\n", "something odd happened"},
		{"last line of stdout", "", "line one\nline two\n   \n", "line two"},
		{"nothing at all", "", "", noErrorMessage},
		{"only noise", "Traceback (most recent call last):\n   ^^^^\n", "\x1b[0m\n", noErrorMessage},
		{"crlf and ansi", "\x1b[31mValueError: Invalid infra format: aws//x.\x1b[0m\r\n", "", "Invalid infra format: aws//x."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ExtractError(tt.stderr, tt.stdout); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestExtractErrorCapsLength(t *testing.T) {
	got := ExtractError("ValueError: "+strings.Repeat("é", 400), "")
	if len(got) > maxErrorBytes || !utf8.ValidString(got) {
		t.Errorf("got %d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
	}
}

func FuzzExtractError(f *testing.F) {
	addSampleSeeds(f, "errors", func(sample string) { f.Add(sample, ""); f.Add("", sample) })
	f.Add("TracebTraceback (most recent call last)ack (most recent call last)", "")
	f.Add("Error: \x1b", "Aborted!\n[Y/n]")
	f.Add("sky.exceptions.X:", "Stopping cluster x... skipped.")
	f.Add("A:\n B:\nDuring handling of the above exception\nTypeError: x", "E 01-01 00:00:00 a.py:1] **** STDERR ****\nx...failed")
	f.Add("Aborted!", "x.\n\n a\nContinue? [y/N]: ^CAborted!")
	f.Fuzz(func(t *testing.T, stderr, stdout string) {
		got := ExtractError(stderr, stdout)
		switch {
		case got == "":
			t.Error("empty message")
		case strings.Contains(got, "\x1b"):
			t.Errorf("escape code in %q", got)
		case strings.Contains(got, tracebackHeader):
			t.Errorf("traceback header in %q", got)
		case len(got) > maxErrorBytes || !utf8.ValidString(got):
			t.Errorf("not a bounded UTF-8 line: %q", got)
		case strings.ContainsAny(got, "\r\n"):
			t.Errorf("more than one line: %q", got)
		}
	})
}

func TestRunMessage(t *testing.T) {
	launchOK := "YAML to run: task.yaml\n⚙︎ Launching on AWS us-east-1 (us-east-1a).\n\x1b[32m✓ Cluster launched: c1.\x1b[0m\n" +
		"📋 Useful Commands\nCluster name: c1\n└── To teardown the cluster:\tsky down c1\n"
	tests := []struct {
		name, stderr, stdout string
		exitFailed           bool
		want                 string
	}{
		{"success says nothing", "", launchOK, false, ""},
		{"stop done says nothing", "", "\nStopping cluster c1...done.\n  To restart the cluster, run: sky start c1\n", false, ""},
		{"nothing at all", "", "", false, ""},
		{"a failed exit with no output", "", "", true, ""},
		{"a failed exit with blank output", "\n \n", "\r\n", true, ""},
		{"a failed exit with escape codes only", "\x1b[0m\n", "\x1b[32m\x1b[0m\n", true, ""},
		{"stop skipped, exit 0", "", readSample(t, "errors/stop_skipped.stdout"), false,
			"Stopping is currently not supported for Kubernetes."},
		{"down failed, exit 0", "", "\nTerminating cluster c1...failed. \nReason: RuntimeError: Failed to terminate instances.\n" +
			"Cluster(s) failed. See details above.\n", false, "Failed to terminate instances."},
		// v0.11+ echoes the error of a failed stop or down above its summary, exit 0.
		{"down failed with a cloud error, exit 0", "", "\nbotocore error (ClientError): An error occurred (UnauthorizedOperation) when calling the TerminateInstances operation: You are not authorized to perform this operation.\n" +
			"Cluster(s) failed. See details above. If you want to ignore the errors and remove the cluster(s) from the status table, use `sky down --purge`.\n", false,
			"botocore error (ClientError): An error occurred (UnauthorizedOperation) when calling the TerminateInstances operation: You are not authorized to perform this operation."},
		{"stop failed with an owner mismatch, exit 0", "", "\n'c1' (AWS) is owned by account '111' (['arn:aws:iam::111:user/a']), but the activated account is '222'.\nCluster(s) failed. See details above.\n", false,
			"'c1' (AWS) is owned by account '111' (['arn:aws:iam::111:user/a']), but the activated account is '222'."},
		{"clusters failed with nothing above, exit 0", "", "Cluster(s) failed. See details above.\n", false, "Cluster(s) failed."},
		{"down of an unknown cluster, exit 0", "", "Cluster(s) not found (tip: see `sky status`).\n", false, "Cluster(s) not found."},
		{"an exception", readSample(t, "errors/mismatch.stderr"), "", true, "Requested resources do not match the existing cluster."},
		{"a failed job", "", launchOK + "\x1b[31mERROR: Job 1 failed with return code list: [1] \x1b[0m\n", true,
			"Job 1 failed with return code list: [1]"},
		{"the last line of a failed exit", "", "⚙︎ Launching on AWS us-east-1 (us-east-1a).\n", true,
			"⚙︎ Launching on AWS us-east-1 (us-east-1a)."},
		{"a prompt that got no answer", "Aborted!\n", "Launching a new cluster 'c1'. Proceed? [Y/n]: ", true,
			"Aborted at the prompt: Launching a new cluster 'c1'. Proceed?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RunMessage(tt.stderr, tt.stdout, tt.exitFailed); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func FuzzRunMessage(f *testing.F) {
	addSampleSeeds(f, "errors", func(sample string) { f.Add("", sample, false); f.Add(sample, "", true) })
	f.Fuzz(func(t *testing.T, stderr, stdout string, exitFailed bool) {
		msg := RunMessage(stderr, stdout, exitFailed)
		if msg == "" {
			return
		}
		if msg != ExtractError(stderr, stdout) {
			t.Errorf("RunMessage %q differs from ExtractError %q", msg, ExtractError(stderr, stdout))
		}
	})
}
