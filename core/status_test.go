package core

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// readSample returns a file under testdata; SOURCES.md says where each one comes from.
func readSample(t testing.TB, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// addSampleSeeds adds every file of a testdata directory to a fuzz corpus.
func addSampleSeeds(f *testing.F, dir string, add func(sample string)) {
	f.Helper()
	entries, err := os.ReadDir(filepath.Join("testdata", dir))
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			add(readSample(f, filepath.Join(dir, e.Name())))
		}
	}
}

func TestParseStatusSamples(t *testing.T) {
	notFound := SkyCluster{}
	tests := []struct {
		sample, cluster string
		want            SkyCluster
	}{
		// Early 2022: no "Clusters" line.
		{"2022_pr653.txt", "test-auto-4", SkyCluster{Found: true, Status: SkyUp, Cloud: "gcp", Resources: "4x GCP(n1-highmem-8)"}},
		{"2022_pr653.txt", "test-auto-azure-4", SkyCluster{Found: true, Status: SkyInit, Cloud: "azure", Resources: "4x Azure(Standard_D8_v4)"}},
		{"2022_pr653.txt", "test-auto", notFound},
		// ≤v0.7: truncated RESOURCES, a row without COMMAND.
		{"v0.7_issue4090.txt", "lmf-l4-4-machine-image", SkyCluster{Found: true, Status: SkyUp, Cloud: "gcp",
			Resources: "1x GCP(g2-standard-48, {'L4': 4}, image_id={'us-east4': 'projects/skyp..."}},
		{"v0.7_issue4090.txt", "lmf", SkyCluster{Found: true, Status: SkyStopped, Cloud: "gcp", Resources: "1x GCP(g2-standard-24, {'L4': 2})"}},
		{"v0.7_issue4090.txt", "sky-344a-txia", SkyCluster{Found: true, Status: SkyStopped, Cloud: "azure",
			Resources: "1x Azure(Standard_NV18ads_A10_v5, {'A10': 0.5})"}},
		{"v0.7_issue4090.txt", "lmf-gcp", notFound},
		{"2023_issue2768.txt", "sky-bench-test-boot-plus-files-0", SkyCluster{Found: true, Status: SkyUp, Cloud: "gcp", Resources: "1x GCP(n2-standard-2)"}},
		{"v0.8_issue4837.txt", "aylei3", SkyCluster{Found: true, Status: SkyUp, Cloud: "kubernetes", Resources: "1x Kubernetes(1CPU--1GB, cpus=1)"}},
		// v0.10+: INFRA column, LAUNCHED last.
		{"v0.10_quickstart.txt", "mycluster", SkyCluster{Found: true, Status: SkyUp, Cloud: "aws", Region: "us-east-1",
			Resources: "1x(gpus=A100:8, p4d.24xlarge, ...)"}},
		// INFRA shows the zone (us-central1-a) when sky knows one; the region is read from it.
		{"v0.10_quickstart.txt", "mygcp", SkyCluster{Found: true, Status: SkyStopped, Cloud: "gcp", Region: "us-central1",
			Resources: "1x(cpus=4, mem=16, n2-standard-4, ...)"}},
		// Hand-edited doc sample: a single space between USER and WORKSPACE.
		{"v0.10_workspaces_docs.txt", "mycluster", SkyCluster{Found: true, Status: SkyUp, Cloud: "kubernetes", Region: "k8s-context1",
			Resources: "1x(cpus=2, mem=4, ...)"}},
		{"v0.10_workspaces_docs.txt", "dev", SkyCluster{Found: true, Status: SkyUp, Cloud: "kubernetes", Region: "k8s-context2",
			Resources: "1x(gpus=H100:1, cpus=4, mem=16, ...)"}},
		// API-server start-up lines, colour codes, trailing spaces, trailing sections and hints.
		{"v0.10_preamble_ansi.txt", "skygate-1", SkyCluster{Found: true, Status: SkyUp, Cloud: "aws", Region: "us-east-1",
			Resources: "1x(cpus=2, mem=8, m6i.large, ...)"}},
		{"v0.10_preamble_ansi.txt", "dev-box", SkyCluster{Found: true, Status: SkyStopped, Cloud: "gcp", Region: "us-central1",
			Resources: "1x(cpus=4, mem=16, n2-standard-4, ...)"}},
		// ≤v0.7 `-a`: REGION, ZONE, HEAD_IP; CRLF line endings.
		{"v0.7_all_crlf.txt", "skygate-1", SkyCluster{Found: true, Status: SkyUp, Cloud: "aws", Region: "us-east-1",
			Resources: "1x AWS(m6i.2xlarge)", HeadIP: "3.91.120.7"}},
		{"v0.7_all_crlf.txt", "train", SkyCluster{Found: true, Status: SkyStopped, Cloud: "gcp", Region: "us-central1",
			Resources: "1x GCP(n1-standard-8, {'T4': 1})"}},
		{"v0.9_users_verbose.txt", "skygate-1", SkyCluster{Found: true, Status: SkyUp, Cloud: "azure", Region: "eastus",
			Resources: "1x Azure(Standard_D2s_v5)", HeadIP: "20.1.2.3"}},
		// v0.11 `-v`: HEAD_IP, COMMAND, LAST_EVENT.
		{"v0.11_verbose.txt", "skygate-1", SkyCluster{Found: true, Status: SkyUp, Cloud: "kubernetes", Region: "kind-skypilot",
			Resources: "1x(cpus=2, mem=2, 2CPU--2GB)", HeadIP: "10.244.0.12"}},
		{"v0.11_verbose.txt", "other", SkyCluster{Found: true, Status: SkyInit, Cloud: "aws", Region: "eu-west-1",
			Resources: "1x(cpus=2, mem=8, m6i.large, ...)"}},
		// v0.12: PENDING, AUTOSTOPPING, USER and WORKSPACE columns; an unknown status word.
		{"v0.12_pending_autostopping.txt", "skygate-1", SkyCluster{Found: true, Status: SkyPending, Cloud: "runpod", Region: "CA",
			Resources: "1x(gpus=H100:1, cpus=16, mem=125, ...)"}},
		{"v0.12_pending_autostopping.txt", "skygate-2", SkyCluster{Found: true, Status: SkyAutostopping, Cloud: "lambda", Region: "us-east-1",
			Resources: "1x(gpus=A10:1, gpu_1x_a10, ...)"}},
		{"v0.12_pending_autostopping.txt", "odd", SkyCluster{Found: true, Status: "REPAIRING"}},
		// Pre-Oct-2024 logger prefixes before the table.
		{"v0.6_log_prefix.txt", "skygate-1", SkyCluster{Found: true, Status: SkyInit, Cloud: "lambda", Resources: "1x Lambda(gpu_1x_a10, {'A10': 1})"}},
		// Not found, every era.
		{"notfound_v0.10.txt", "skygate-1", notFound},
		{"notfound_v0.8_multi.txt", "skygate-1", notFound},
		{"notfound_v0.7.txt", "skygate-1", notFound},
		{"noclusters_v0.10.txt", "skygate-1", notFound},
		{"notlisted_v0.10.txt", "skygate-1", notFound},
		// `-o json` (v0.12+).
		{"v0.12_json.txt", "skygate-1", SkyCluster{Found: true, Status: SkyUp, Cloud: "aws", Region: "us-east-1",
			Resources: "1x(cpus=2, mem=8, m6i.large, ...)"}},
		{"v0.12_json.txt", "train", SkyCluster{Found: true, Status: SkyStopped, Cloud: "gcp", Region: "us-central1",
			Resources: "1x(gpus=T4:1, n1-standard-8, ...)"}},
		{"v0.12_json.txt", "skygate", notFound},
		{"v0.12_json_preamble.txt", "skygate-1", SkyCluster{Found: true, Status: SkyInit, Cloud: "kubernetes", Region: "kind-skypilot",
			Resources: "1x(cpus=2, mem=8, m6i.large, ...)"}},
		{"v0.12_json_empty.txt", "skygate-1", notFound},
	}
	for _, tt := range tests {
		t.Run(tt.sample+"/"+tt.cluster, func(t *testing.T) {
			got, err := ParseStatus(readSample(t, "status/"+tt.sample), tt.cluster)
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseStatusVariants(t *testing.T) {
	v010 := readSample(t, "status/v0.10_quickstart.txt")
	upAWS := SkyCluster{Found: true, Status: SkyUp, Cloud: "aws", Region: "us-east-1", Resources: "1x(gpus=A100:8, p4d.24xlarge, ...)"}
	tests := []struct {
		name, out string
		want      SkyCluster
	}{
		{"crlf", strings.ReplaceAll(v010, "\n", "\r\n"), upAWS},
		{"trailing spaces", strings.ReplaceAll(v010, "\n", "   \n"), upAWS},
		{"clusters header", "Clusters\n" + v010, upAWS},
		{"spinner redraw", "⠴ Checking status\r" + v010, upAWS},
		{"colour in the status cell", strings.Replace(v010, "UP    ", "\x1b[32mUP\x1b[0m    ", 1), upAWS},
		{"using api server", v010 + "\nUsing SkyPilot API server: http://127.0.0.1:46580\n", upAWS},
		{"status enum json", `[{"name": "mycluster", "status": "ClusterStatus.UP", "infra": "AWS (us-east-1)", "resources_str": "1x(gpus=A100:8, p4d.24xlarge, ...)"}]`, upAWS},
		{"json wrapper object", `{"clusters": [{"name": "mycluster", "status": "UP", "cloud": "AWS", "region": "us-east-1", "resources_str": "1x(gpus=A100:8, p4d.24xlarge, ...)"}]}`, upAWS},
		{"json with head ip and no status", `[{"name": "mycluster", "head_ip": "1.2.3.4", "cloud": null, "region": 7}]`,
			SkyCluster{Found: true, Status: "UNKNOWN", HeadIP: "1.2.3.4"}},
		{"header alone", "Clusters\n", SkyCluster{}},
		// A line of text output that looks like JSON (an empty list in a refresh warning)
		// is not sky's JSON output.
		{"json-looking line before the table", "Failed to refresh status for 1 cluster:\n  other: ValueError: unexpected zones:\n  []\n" + v010, upAWS},
		// INFRA shows the zone when sky knows one; an AWS zone gives its region.
		{"aws zone in infra", strings.Replace(v010, "AWS (us-east-1)  ", "AWS (us-east-1a) ", 1), upAWS},
		{"zone only in json", `[{"name": "mycluster", "status": "UP", "cloud": "GCP", "zone": "europe-west4-b"}]`,
			SkyCluster{Found: true, Status: SkyUp, Cloud: "gcp", Region: "europe-west4"}},
		// InfraInfo.formatted_str shortens a long region or context in the middle: no name.
		{"shortened infra", "Clusters\nNAME       INFRA                                  RESOURCES               STATUS  AUTOSTOP  LAUNCHED    \n" +
			"mycluster  Kubernetes (gke_my-proje...my-cluster)  1x(cpus=2, mem=4, ...)  UP      -         4 mins ago  \n",
			SkyCluster{Found: true, Status: SkyUp, Cloud: "kubernetes", Resources: "1x(cpus=2, mem=4, ...)"}},
		// prettytable pads by display width: a CJK name takes two columns a character, and
		// an empty cell makes the row be sliced at the header's offsets.
		{"wide characters and an empty cell", "Clusters\n" +
			"NAME       USER      LAUNCHED    RESOURCES           STATUS   AUTOSTOP  COMMAND                 \n" +
			"mycluster  山田太郎  4 mins ago  1x AWS(m6i.large)   STOPPED  -                                 \n" +
			"other      bob       1 min ago   1x AWS(m6i.large)   UP       -         sky launch -c other     \n",
			SkyCluster{Found: true, Status: SkyStopped, Cloud: "aws", Resources: "1x AWS(m6i.large)"}},
		{"kubernetes context kept", "Clusters\nNAME       INFRA                    RESOURCES               STATUS  AUTOSTOP  LAUNCHED    \n" +
			"mycluster  Kubernetes (kind-skypilot)  1x(cpus=2, mem=4, ...)  UP      -         4 mins ago  \n",
			SkyCluster{Found: true, Status: SkyUp, Cloud: "kubernetes", Region: "kind-skypilot", Resources: "1x(cpus=2, mem=4, ...)"}},
		{"old not found with quotes elsewhere", "Clusters\nCluster mycluster not found.\n", SkyCluster{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStatus(tt.out, "mycluster")
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseStatusUnreadable(t *testing.T) {
	for _, out := range []string{
		"",
		"\n\n",
		"garbage that is not sky output",
		"sky.exceptions.ApiServerConnectionError: Could not connect to SkyPilot API server at http://127.0.0.1:46580.",
		"Traceback (most recent call last):\n  File \"/usr/bin/sky\", line 8, in <module>\nModuleNotFoundError: No module named 'sky'\n",
		"[not json",
	} {
		_, err := ParseStatus(out, "mycluster")
		if err == nil {
			t.Errorf("ParseStatus(%q): no error", out)
			continue
		}
		if first := strings.TrimSpace(out); first != "" && !strings.Contains(err.Error(), strings.Fields(first)[0]) {
			t.Errorf("error %q does not quote the output", err)
		}
	}
}

func TestCloudRegistryName(t *testing.T) {
	for display, want := range map[string]string{
		"AWS": "aws", "GCP": "gcp", "Azure": "azure", "Kubernetes": "kubernetes", "Lambda": "lambda",
		"RunPod": "runpod", "DO": "do", "vSphere": "vsphere", "SSH": "ssh", "PrimeIntellect": "primeintellect",
		"k8s": "kubernetes", "Cloudflare (for R2 object store)": "cloudflare", "Cloudflare, for R2 object store": "cloudflare",
		" \x1b[32mNebius\x1b[0m ": "nebius",
	} {
		if got := CloudRegistryName(display); got != want {
			t.Errorf("CloudRegistryName(%q) = %q, want %q", display, got, want)
		}
	}
}

func FuzzParseStatus(f *testing.F) {
	addSampleSeeds(f, "status", func(sample string) { f.Add(sample, "skygate-1") })
	f.Add("Clusters\nNAME  STATUS\nx y  UP\n", "x")
	f.Add("NAME STATUS INFRA\nskygate-1 UP AWS (", "skygate-1")
	f.Add(`[{"name": "skygate-1", "status": 1}]`, "skygate-1")
	f.Fuzz(func(t *testing.T, out, name string) {
		got, err := ParseStatus(out, name)
		if err != nil && got != (SkyCluster{}) {
			t.Errorf("error %v with a result %+v", err, got)
		}
		if got.Found && got.Status == "" {
			t.Errorf("found without a status: %+v", got)
		}
	})
}

func TestParseStatusAllMatchesOneByOne(t *testing.T) {
	for _, file := range []string{"v0.10_quickstart.txt", "v0.12_json.txt", "v0.7_issue4090.txt", "v0.9_users_verbose.txt"} {
		raw, err := os.ReadFile(filepath.Join("testdata", "status", file))
		if err != nil {
			t.Fatal(err)
		}
		names := []string{"no-such-cluster"}
		for _, line := range strings.Split(string(raw), "\n") {
			if f := strings.Fields(line); len(f) > 0 && f[0] != "NAME" && clusterNameRE().MatchString(f[0]) {
				names = append(names, f[0])
			}
		}
		all, err := ParseStatusAll(string(raw))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, name := range names {
			one, err := ParseStatus(string(raw), name)
			if err != nil || one != all[name] {
				t.Errorf("%s %s: one by one %+v %v, together %+v", file, name, one, err, all[name])
			}
		}
		if all["no-such-cluster"].Found {
			t.Errorf("%s: an unlisted name is found", file)
		}
	}
}

func FuzzParseStatusAllMatchesParseStatus(f *testing.F) {
	f.Add("NAME  STATUS\na     UP\n", "a", "b")
	f.Add(`[{"name":"a","status":"STOPPED"}]`, "a", "a")
	f.Fuzz(func(t *testing.T, out, a, b string) {
		all, err := ParseStatusAll(out)
		if err != nil {
			return
		}
		one, _ := ParseStatus(out, a)
		if one != all[a] {
			t.Fatalf("ParseStatus %+v != ParseStatusAll %+v", one, all[a])
		}
	})
}

func TestParseStatusAllSamples(t *testing.T) {
	tests := map[string][]string{
		"2022_pr653.txt":                 {"test-auto-azure-4", "test-auto-4"},
		"2023_issue2768.txt":             {"sky-bench-test-boot-plus-files-1", "sky-bench-test-boot-plus-files-0"},
		"noclusters_v0.10.txt":           {},
		"notfound_v0.10.txt":             {},
		"notfound_v0.7.txt":              {},
		"notfound_v0.8_multi.txt":        {},
		"notlisted_v0.10.txt":            {"dev-box"},
		"v0.10_preamble_ansi.txt":        {"dev-box", "skygate-1"},
		"v0.10_quickstart.txt":           {"mygcp", "mycluster"},
		"v0.10_workspaces_docs.txt":      {"mycluster", "dev"},
		"v0.11_verbose.txt":              {"skygate-1", "other"},
		"v0.12_json.txt":                 {"skygate-1", "train"},
		"v0.12_json_empty.txt":           {},
		"v0.12_json_preamble.txt":        {"skygate-1"},
		"v0.12_pending_autostopping.txt": {"skygate-1", "skygate-2", "odd"},
		"v0.6_log_prefix.txt":            {"skygate-1"},
		"v0.7_all_crlf.txt":              {"skygate-1", "train"},
		"v0.7_issue4090.txt":             {"lmf-l4-4-machine-image", "lmf-gcp-l4-4", "lmf", "sky-344a-txia"},
		"v0.8_issue4837.txt":             {"aylei3"},
		"v0.9_users_verbose.txt":         {"skygate-1"},
	}
	entries, err := os.ReadDir(filepath.Join("testdata", "status"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(tests) {
		t.Errorf("%d status samples, %d in the table: every sample needs its names", len(entries), len(tests))
	}
	for sample, names := range tests {
		t.Run(sample, func(t *testing.T) {
			out := readSample(t, "status/"+sample)
			got, err := ParseStatusAll(out)
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if len(got) != len(names) {
				t.Errorf("%d clusters %v, want %q", len(got), got, names)
			}
			for _, name := range names {
				c := got[name]
				if !c.Found || c.Status == "" {
					t.Errorf("%s: %+v, want a found cluster with a status", name, c)
				}
				if one, err := ParseStatus(out, name); err != nil || one != c {
					t.Errorf("%s: ParseStatus says %+v, %v; ParseStatusAll %+v", name, one, err, c)
				}
			}
		})
	}
}

func TestParseStatusAllSeveralNames(t *testing.T) {
	up := func(cloud, region, resources string) SkyCluster {
		return SkyCluster{Found: true, Status: SkyUp, Cloud: cloud, Region: region, Resources: resources}
	}
	tests := []struct {
		name, out string
		want      map[string]SkyCluster
	}{
		{"v0.10 with one name missing",
			"Enabled Infra: aws, gcp\n\nClusters\n" +
				"NAME  INFRA            RESOURCES                          STATUS   AUTOSTOP  LAUNCHED        \n" +
				"b     AWS (us-east-1)  1x(cpus=2, mem=8, m6i.large, ...)  UP       -         a few secs ago  \n" +
				"a     AWS (us-east-1)  1x(cpus=2, mem=8, m6i.large, ...)  STOPPED  -         1 min ago       \n" +
				"Cluster 'nope' not found.\n",
			map[string]SkyCluster{
				"b": up("aws", "us-east-1", "1x(cpus=2, mem=8, m6i.large, ...)"),
				"a": {Found: true, Status: SkyStopped, Cloud: "aws", Region: "us-east-1", Resources: "1x(cpus=2, mem=8, m6i.large, ...)"},
			}},
		{"v0.9 with two names missing",
			"Clusters\n" +
				"NAME  LAUNCHED        RESOURCES          STATUS  AUTOSTOP  COMMAND                       \n" +
				"a     a few secs ago  1x AWS(m6i.large)  UP      -         sky launch -y -c a /tmp/t...  \n" +
				"Clusters 'x', 'y' not found.\n",
			map[string]SkyCluster{"a": up("aws", "", "1x AWS(m6i.large)")}},
		{"v0.7 misses before the table",
			"Clusters\nCluster x not found.\n" +
				"NAME  LAUNCHED        RESOURCES          STATUS  AUTOSTOP  COMMAND                       \n" +
				"a     a few secs ago  1x AWS(m6i.large)  UP      -         sky launch -y -c a /tmp/t...  \n",
			map[string]SkyCluster{"a": up("aws", "", "1x AWS(m6i.large)")}},
		{"a name listed twice keeps the first row",
			"Clusters\nNAME  STATUS\na     UP\na     STOPPED\n",
			map[string]SkyCluster{"a": {Found: true, Status: SkyUp}}},
		{"json with a nameless record",
			`[{"name": "a", "status": "UP"}, {"status": "STOPPED"}, {"name": "a", "status": "INIT"}]`,
			map[string]SkyCluster{"a": {Found: true, Status: SkyUp}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStatusAll(tt.out)
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseStatusAllUnreadable(t *testing.T) {
	for _, out := range []string{"", "garbage that is not sky output", "[not json"} {
		if got, err := ParseStatusAll(out); err == nil || got != nil {
			t.Errorf("ParseStatusAll(%q) = %v, %v; want an error and no map", out, got, err)
		}
	}
}

func FuzzParseStatusAll(f *testing.F) {
	addSampleSeeds(f, "status", func(sample string) { f.Add(sample, "skygate-1") })
	f.Add("Clusters\nNAME  STATUS\nx y  UP\nx  STOPPED\n", "x")
	f.Add(`[{"name": " a ", "status": "UP"}, {"name": "a"}]`, "a")
	f.Fuzz(func(t *testing.T, out, name string) {
		all, err := ParseStatusAll(out)
		one, oneErr := ParseStatus(out, name)
		if (err == nil) != (oneErr == nil) {
			t.Fatalf("ParseStatusAll error %v, ParseStatus error %v", err, oneErr)
		}
		if err != nil {
			if all != nil {
				t.Errorf("error %v with clusters %v", err, all)
			}
			return
		}
		if one != all[name] {
			t.Errorf("ParseStatus(%q) = %+v, ParseStatusAll has %+v", name, one, all[name])
		}
		for n, c := range all {
			if n == "" || !c.Found || c.Status == "" {
				t.Errorf("cluster %q: %+v", n, c)
			}
			if strings.ContainsAny(n, " \t\r\n\x1b") {
				t.Errorf("cluster name %q holds space or escapes", n)
			}
		}
	})
}

func FuzzSplitOnSpaceRuns(f *testing.F) {
	for _, s := range []string{"", "a", "a  b", "  a  b  ", "a \t b", "a b\t\tc", "\t\t", "x y  z\r\n w"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := splitOnSpaceRuns(s, 2), multiSpaceRE().Split(s, -1); !slices.Equal(got, want) {
			t.Errorf("splitOnSpaceRuns(%q) = %q, want %q", s, got, want)
		}
	})
}
