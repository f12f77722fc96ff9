package core

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

func TestParseCheckSamples(t *testing.T) {
	tests := []struct {
		sample   string
		enabled  []string
		disabled map[string]string
	}{
		// Era A (2023): bare "enabled" lines, multi-line reasons, Cloudflare's old label.
		{"2023_pr2196.txt", []string{"aws", "azure", "cloudflare", "ibm", "lambda", "oci", "scp"}, map[string]string{
			"gcp": "GCP tools are not installed. Run the following commands: $ pip install google-api-python-client " +
				"$ conda install -c conda-forge google-cloud-sdk -y Credentials may also need to be set. Run the following commands: " +
				"$ gcloud init $ gcloud auth application-default login For more info: " +
				"https://skypilot.readthedocs.io/en/latest/getting-started/installation.html#google-cloud-platform-gcp " +
				"Details: [builtins.ModuleNotFoundError] No module named 'googleapiclient'",
		}},
		// Era A as piped: "Checking X...\r" overwritten, padding, CRLF.
		{"2023_cr_padding.txt", []string{"aws", "cloudflare", "gcp"}, map[string]string{
			"azure": "Azure CLI returned error. Run the following commands: $ az login Credentials may also need to be set. " +
				"For more info: https://skypilot.readthedocs.io/en/latest/getting-started/installation.html#azure",
		}},
		{"2023_none_enabled.txt", []string{}, map[string]string{
			"aws": "AWS credentials are not set. Run the following commands: $ aws configure",
		}},
		// Era B (2024): "Cloudflare, for R2 object store".
		{"2024_issue3595.txt", []string{"cloudflare"}, map[string]string{
			"aws":  "AWS dependencies are not installed. Run the following commands: $ pip install skypilot[aws] ...",
			"cudo": "Cudo tools are not installed. Run the following commands: $ pip install cudo-compute [ModuleNotFoundError] No module named 'cudo_compute'",
		}},
		// `sky check kubernetes`: AWS and GCP appear only in the summary.
		{"2025_issue4754.txt", []string{"aws", "gcp"}, map[string]string{
			"kubernetes": `No available context found in kubeconfig. Check if you have a valid kubeconfig file and check "allowed_contexts" in your /tmp/skypilot_configniuukzgv file.`,
		}},
		// Era C: capabilities, "Reason [compute]:".
		{"2025_issue5059.txt", []string{"aws", "azure", "cloudflare", "gcp", "kubernetes"}, map[string]string{
			"cudo": "Cudo tools are not installed. Run the following commands: $ pip install cudo-compute [ImportError] cannot import name 'timeout' from 'asyncio' (...)",
			"do":   "No credentials found, please run `doctl auth init`",
		}},
		// Era D: "infra", summary before the footer, nothing enabled.
		{"2025_issue7291.txt", []string{}, map[string]string{
			"aws": "AWS credentials are not set. Run the following commands: $ aws configure $ aws configure list # Ensure that this shows identity is set. " +
				"For more info: https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-quickstart.html " +
				"Details: `aws sts get-caller-identity` failed with error: [botocore.exceptions.NoCredentialsError] Unable to locate credentials.",
		}},
		{"docs_k8s_summary.txt", []string{"kubernetes"}, map[string]string{}},
		// Only the summary, its ✔ entries indented by four spaces or two, "..." for more.
		{"docs_llama31_summary.txt", []string{"aws", "azure", "cloudflare", "cudo", "fluidstack", "gcp", "ibm", "lambda", "oci",
			"paperspace", "runpod", "scp", "vsphere"}, map[string]string{}},
		{"docs_nanochat_summary.txt", []string{"aws", "gcp", "kubernetes"}, map[string]string{}},
		{"docs_multi_k8s_summary.txt", []string{"kubernetes"}, map[string]string{}},
		// allowed_clouds: the note names the disabled clouds, which have no line of their own.
		{"issue5605_allowed_clouds.txt", []string{}, notAllowed("Not included in allowed_clouds in ~/.sky/config.yaml",
			"gcp", "azure", "cudo", "do", "fluidstack", "ibm", "lambda", "nebius", "oci", "paperspace", "runpod", "scp", "ssh",
			"vast", "vsphere", "cloudflare")},
		{"docs_ssh_summary.txt", []string{"ssh"}, map[string]string{}},
		// Era D with forced colour, context trees, hints, two reasons for one cloud.
		{"v0.10_full_ansi.txt", []string{"aws", "cloudflare", "kubernetes"}, map[string]string{
			"azure": "Azure CLI could not be found. Run the following commands: $ pip install skypilot[azure] " +
				"Credentials may also need to be set. Run the following commands: $ az login $ az account set -s <subscription_id> " +
				"For more info: https://learn.microsoft.com/en-us/cli/azure/get-started-with-azure-cli " +
				"Details: [FileNotFoundError] az CLI not found; Azure Blob Storage credentials are not set.",
			"gcp":    "GCP credentials are not set. Run the following commands: $ gcloud init $ gcloud auth application-default login",
			"runpod": `RunPod credentials not found. Run the following commands: $ pip install "runpod>=1.6" $ runpod config`,
			"ssh":    "No SSH Node Pools are up. Run `sky ssh up` to set up Node Pools from ~/.sky/ssh_node_pools.yaml.",
		}},
		{"v0.10_workspaces.txt", []string{"aws", "gcp", "kubernetes"}, map[string]string{}},
		// `-o json` (v0.12+).
		{"v0.12_json.txt", []string{"aws", "cloudflare", "kubernetes"}, map[string]string{}},
		{"v0.12_json_workspaces.txt", []string{"aws", "gcp", "ssh"}, map[string]string{}},
		{"v0.12_json_none.txt", []string{}, map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.sample, func(t *testing.T) {
			got, err := ParseCheck(readSample(t, "check/"+tt.sample))
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if !slices.Equal(got.Enabled, tt.enabled) {
				t.Errorf("enabled %q, want %q", got.Enabled, tt.enabled)
			}
			if !maps.Equal(got.Disabled, tt.disabled) {
				t.Errorf("disabled %q\nwant     %q", got.Disabled, tt.disabled)
			}
		})
	}
}

func TestParseCheckVariants(t *testing.T) {
	tests := []struct {
		name, out string
		enabled   []string
	}{
		{"json list of names", `{"default": ["AWS", "GCP"]}`, []string{"aws", "gcp"}},
		{"json cloud records", `{"clouds": [{"cloud": "AWS", "enabled": true}, {"cloud": "Azure", "enabled": false, "reason": "no CLI"}], "enabled_clouds": ["AWS"]}`,
			[]string{"aws"}},
		{"duplicate clouds", "Checking credentials to enable clouds for SkyPilot.\n  AWS: enabled\n\n🎉 Enabled clouds 🎉\n  ✔ AWS\n", []string{"aws"}},
		{"summary without emoji", "Enabled infra\n  GCP [compute, storage]\n", []string{"gcp"}},
		{"context lines are not clouds", "🎉 Enabled infra 🎉\n  Kubernetes [compute]\n    Allowed contexts:\n    └── aws\n", []string{"kubernetes"}},
		// A reason's details that look like JSON are not sky's JSON output.
		{"json-looking reason", "Checking credentials to enable infra for SkyPilot.\n  AWS: enabled [compute, storage]\n  GCP: disabled\n" +
			"    Reason [compute, storage]: GCP credentials are invalid:\n      {\"error\": \"invalid_grant\", \"error_description\": \"Bad Request\"}\n\n" +
			"🎉 Enabled infra 🎉\n  AWS [compute, storage]\n", []string{"aws"}},
		{"enabled in one workspace, disabled in another", "Checking credentials to enable infra for SkyPilot.\n  AWS: disabled\n    Reason [compute]: x\n  AWS: enabled [compute]\n", []string{"aws"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCheck(tt.out)
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if !slices.Equal(got.Enabled, tt.enabled) {
				t.Errorf("enabled %q, want %q", got.Enabled, tt.enabled)
			}
			if _, ok := got.Disabled["aws"]; ok {
				t.Errorf("aws is both enabled and disabled: %q", got.Disabled)
			}
		})
	}
}

func notAllowed(reason string, clouds ...string) map[string]string {
	disabled := map[string]string{}
	for _, cloud := range clouds {
		disabled[cloud] = reason
	}
	return disabled
}

func TestParseCheckAllowedCloudsNote(t *testing.T) {
	const note = "Note: The following clouds were disabled because they were not included in allowed_clouds in ~/.sky/config.yaml"
	tests := []struct {
		name, out string
		enabled   []string
		disabled  map[string]string
	}{
		{"a cloud's own line keeps its reason",
			"Checking credentials to enable infra for SkyPilot.\n  GCP: disabled\n    Reason [compute]: GCP is not included in allowed_clouds in ~/.sky/config.yaml\n" +
				note + ": GCP, Azure\n\n🎉 Enabled infra 🎉\n  AWS [compute, storage]\n",
			[]string{"aws"}, map[string]string{"gcp": "GCP is not included in allowed_clouds in ~/.sky/config.yaml",
				"azure": "Not included in allowed_clouds in ~/.sky/config.yaml"}},
		{"enabled elsewhere wins", "🎉 Enabled infra for workspace: 'default' 🎉\n  AWS [compute]\n" + note + " or disabled for this workspace 'team-a': AWS, GCP\n",
			[]string{"aws"}, map[string]string{"gcp": "Not included in allowed_clouds in ~/.sky/config.yaml or disabled for this workspace 'team-a'"}},
		{"the 2024 Cloudflare name", note + ": GCP, Cloudflare, for R2 object store\n", []string{},
			notAllowed("Not included in allowed_clouds in ~/.sky/config.yaml", "gcp", "cloudflare")},
		{"dimmed", "\x1b[2m" + note + ": Azure\x1b[0m\n", []string{}, notAllowed("Not included in allowed_clouds in ~/.sky/config.yaml", "azure")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCheck(tt.out)
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if !slices.Equal(got.Enabled, tt.enabled) || !maps.Equal(got.Disabled, tt.disabled) {
				t.Errorf("got %q %q\nwant %q %q", got.Enabled, got.Disabled, tt.enabled, tt.disabled)
			}
		})
	}
}

func TestParseCheckJSONReasons(t *testing.T) {
	got, err := ParseCheck(`{"clouds": [{"cloud": "Azure", "enabled": false, "reason": "Azure CLI not installed.\n Run az login."}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"azure": "Azure CLI not installed. Run az login."}; !maps.Equal(got.Disabled, want) {
		t.Errorf("disabled %q, want %q", got.Disabled, want)
	}
}

func TestParseCheckUnreadable(t *testing.T) {
	for _, out := range []string{
		"",
		"Using SkyPilot API server: http://127.0.0.1:46580\n",
		"ValueError: Cloud 'foo' is not a valid cloud among ['aws', 'gcp']",
		"  ├── ctx-a: enabled\n",
		"{not json",
	} {
		if _, err := ParseCheck(out); err == nil {
			t.Errorf("ParseCheck(%q): no error", out)
		}
	}
}

func TestComputeClouds(t *testing.T) {
	got := ComputeClouds([]string{"aws", "cloudflare", "coreweave", "kubernetes", "vastdata"})
	if want := []string{"aws", "kubernetes"}; !slices.Equal(got, want) {
		t.Errorf("ComputeClouds = %q, want %q", got, want)
	}
	if got := ComputeClouds(nil); got == nil || len(got) != 0 {
		t.Errorf("ComputeClouds(nil) = %#v, want an empty list", got)
	}
}

func FuzzParseCheck(f *testing.F) {
	addSampleSeeds(f, "check", func(sample string) { f.Add(sample) })
	f.Add("Checking credentials to enable infra for SkyPilot.\n  A: disabled\n    Reason [x]: \n    └── c: disabled. Reason: y\n")
	f.Add(`{"w": {"AWS": ["compute"]}, "x": [{"cloud": 1}]}`)
	f.Fuzz(func(t *testing.T, out string) {
		got, err := ParseCheck(out)
		if err != nil {
			return
		}
		if !slices.IsSorted(got.Enabled) || len(slices.Compact(slices.Clone(got.Enabled))) != len(got.Enabled) {
			t.Errorf("enabled not sorted and unique: %q", got.Enabled)
		}
		for _, name := range got.Enabled {
			if name == "" || name != strings.ToLower(name) {
				t.Errorf("bad cloud name %q", name)
			}
		}
		for _, reason := range got.Disabled {
			if strings.ContainsAny(reason, "\r\n\x1b") {
				t.Errorf("reason is not one clean line: %q", reason)
			}
		}
	})
}
