package core

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

var (
	v09  = Version{Major: 0, Minor: 9, Patch: 1, Raw: "0.9.1"}
	v010 = Version{Major: 0, Minor: 10, Patch: 3, Raw: "0.10.3"}
)

func parseYAML(t testing.TB, doc string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatalf("emitted YAML does not parse: %v\n%s", err, doc)
	}
	return m
}

func TestGenerateYAML(t *testing.T) {
	full := SkyPilotConfig{
		Name: "skygate", Cloud: "aws", Region: "us-east-1", InstanceType: "m5.xlarge",
		DiskSize: 100, ImageID: "ami-123", Ports: []string{"8080", "9000-9010"}, AutostopMinutes: 30,
		Envs: map[string]string{"MODEL": "llama", "B": "x: y\n- z"}, Setup: "pip install -r r.txt\necho 'ok'", Run: "python train.py",
	}
	cases := []struct {
		name string
		cfg  SkyPilotConfig
		v    Version
		want map[string]any
	}{
		{"empty", SkyPilotConfig{}, v010, nil},
		{"infra cloud and region", SkyPilotConfig{Cloud: "aws", Region: "us-east-1"}, v010,
			map[string]any{"resources": map[string]any{"infra": "aws/us-east-1"}}},
		{"infra cloud only", SkyPilotConfig{Cloud: "gcp"}, v010, map[string]any{"resources": map[string]any{"infra": "gcp"}}},
		{"infra region only", SkyPilotConfig{Region: "eu-west-1"}, v010, map[string]any{"resources": map[string]any{"infra": "*/eu-west-1"}}},
		{"k8s alias", SkyPilotConfig{Cloud: "k8s"}, v09, map[string]any{"resources": map[string]any{"cloud": "kubernetes"}}},
		{"old keys", SkyPilotConfig{Cloud: "aws", Region: "us-east-1", InstanceType: "m5.xlarge"}, v09,
			map[string]any{"resources": map[string]any{"cloud": "aws", "region": "us-east-1", "instance_type": "m5.xlarge"}}},
		{"unknown version uses old keys", SkyPilotConfig{Cloud: "aws"}, Version{}, map[string]any{"resources": map[string]any{"cloud": "aws"}}},
		{"full new", full, v010, map[string]any{
			"name": "skygate",
			"resources": map[string]any{"infra": "aws/us-east-1", "instance_type": "m5.xlarge", "disk_size": 100,
				"image_id": "ami-123", "ports": []any{"8080", "9000-9010"}, "autostop": 30},
			"envs":  map[string]any{"MODEL": "llama", "B": "x: y\n- z"},
			"setup": "pip install -r r.txt\necho 'ok'", "run": "python train.py",
		}},
		{"full old has no autostop", full, v09, map[string]any{
			"name": "skygate",
			"resources": map[string]any{"cloud": "aws", "region": "us-east-1", "instance_type": "m5.xlarge", "disk_size": 100,
				"image_id": "ami-123", "ports": []any{"8080", "9000-9010"}},
			"envs":  map[string]any{"MODEL": "llama", "B": "x: y\n- z"},
			"setup": "pip install -r r.txt\necho 'ok'", "run": "python train.py",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := GenerateYAML(tc.cfg, tc.v)
			if err != nil {
				t.Fatal(err)
			}
			got := parseYAML(t, doc)
			if !equalYAML(got, tc.want) {
				t.Fatalf("got %#v\nwant %#v\n%s", got, tc.want, doc)
			}
		})
	}
}

func equalYAML(a, b any) bool {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for k, v := range av {
			if !equalYAML(v, bv[k]) {
				return false
			}
		}
		return true
	case []any:
		bv, ok := b.([]any)
		return ok && slices.EqualFunc(av, bv, func(x, y any) bool { return equalYAML(x, y) })
	case nil:
		bm, isMap := b.(map[string]any)
		return b == nil || (isMap && len(bm) == 0)
	}
	return a == b
}

func TestValidateLaunch(t *testing.T) {
	cases := []struct {
		in      LaunchRequest
		wantKey string
		out     LaunchRequest
	}{
		{LaunchRequest{}, "", LaunchRequest{}},
		{LaunchRequest{Cloud: "aws", Region: "us-east-1", InstanceType: "m5.xlarge"}, "", LaunchRequest{Cloud: "aws", Region: "us-east-1", InstanceType: "m5.xlarge"}},
		{LaunchRequest{Cloud: "k8s"}, "", LaunchRequest{Cloud: "kubernetes"}},
		{LaunchRequest{Cloud: "AWS"}, "body.cloud", LaunchRequest{}},
		{LaunchRequest{Cloud: "cloudflare"}, "body.cloud", LaunchRequest{}},
		{LaunchRequest{Cloud: "notacloud"}, "body.cloud", LaunchRequest{}},
		{LaunchRequest{Region: "us-east-1\ncloud: gcp"}, "body.region", LaunchRequest{}},
		{LaunchRequest{Region: "-us"}, "body.region", LaunchRequest{}},
		{LaunchRequest{Region: strings.Repeat("a", 65)}, "body.region", LaunchRequest{}},
		{LaunchRequest{Region: strings.Repeat("a", 64)}, "", LaunchRequest{Region: strings.Repeat("a", 64)}},
		{LaunchRequest{InstanceType: "m5.x large"}, "body.instance_type", LaunchRequest{}},
		{LaunchRequest{InstanceType: "Standard_NC6s_v3"}, "", LaunchRequest{InstanceType: "Standard_NC6s_v3"}},
	}
	for _, tc := range cases {
		got, err := ValidateLaunch(tc.in)
		if tc.wantKey != "" {
			de, ok := AsError(err)
			if !ok || de.Kind != KindInvalid || de.Key != tc.wantKey {
				t.Errorf("%+v: err = %v, want invalid %s", tc.in, err, tc.wantKey)
			}
			continue
		}
		if err != nil || got != tc.out {
			t.Errorf("%+v: got %+v, %v", tc.in, got, err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	bad := map[string]SkyPilotConfig{
		"envs":             {Envs: map[string]string{"1BAD": "x"}},
		"ports":            {Ports: []string{"80; rm"}},
		"disk_size":        {DiskSize: -1},
		"autostop_minutes": {AutostopMinutes: -5},
		"image_id":         {ImageID: "a\nb"},
		"name":             {Name: "a b"},
		"body.cloud":       {Cloud: "nope"},
	}
	for key, cfg := range bad {
		_, err := GenerateYAML(cfg, v010)
		if de, ok := AsError(err); !ok || de.Key != key {
			t.Errorf("%s: err = %v", key, err)
		}
	}
}

func TestWithRequest(t *testing.T) {
	tmpl := SkyPilotConfig{Cloud: "gcp", Region: "us-central1", InstanceType: "n2-standard-4", ImageID: "projects/x/images/y", Run: "x"}
	cases := []struct {
		req  LaunchRequest
		want LaunchRequest
	}{
		{LaunchRequest{}, LaunchRequest{Cloud: "gcp", Region: "us-central1", InstanceType: "n2-standard-4"}},
		{LaunchRequest{Cloud: "aws"}, LaunchRequest{Cloud: "aws"}},
		{LaunchRequest{Cloud: "gcp"}, LaunchRequest{Cloud: "gcp", Region: "us-central1", InstanceType: "n2-standard-4"}},
		{LaunchRequest{Cloud: "aws", Region: "us-east-1", InstanceType: "m5.large"}, LaunchRequest{Cloud: "aws", Region: "us-east-1", InstanceType: "m5.large"}},
		{LaunchRequest{Region: "europe-west4"}, LaunchRequest{Cloud: "gcp", Region: "europe-west4", InstanceType: "n2-standard-4"}},
	}
	for _, tc := range cases {
		got := tmpl.WithRequest(tc.req)
		if got.Defaults() != tc.want || got.Run != "x" {
			t.Errorf("%+v: got %+v", tc.req, got.Defaults())
		}
		if sameCloud := tc.want.Cloud == tmpl.Cloud; (got.ImageID == tmpl.ImageID) != sameCloud {
			t.Errorf("%+v: image %q kept across clouds = %v", tc.req, got.ImageID, !sameCloud)
		}
	}
}

// FuzzGenerateYAML proves that no value can add or change keys: whatever the strings hold,
// the document parses to exactly the keys the emitter chose, with the values given.
func FuzzGenerateYAML(f *testing.F) {
	f.Add("skygate", "us-east-1", "m5.xlarge", "ami-1", "echo hi", "python x.py", "MODEL", "llama", true)
	f.Add("a", "x\ncloud: gcp", "y: z", "\"quoted\"", "line1\nline2: x\n- item", "#comment", "K", "{a: b}", false)
	f.Add("n", "r", "i", "&anchor *alias", "|\n  block", ">-\n fold", "E", "\x00\xff\u2028", true)
	f.Fuzz(func(t *testing.T, name, region, instance, image, setup, run, envKey, envVal string, newForm bool) {
		cfg := SkyPilotConfig{Name: name, Cloud: "aws", Region: region, InstanceType: instance, ImageID: image,
			Setup: setup, Run: run, Envs: map[string]string{envKey: envVal}}
		v := v09
		if newForm {
			v = v010
		}
		doc, err := GenerateYAML(cfg, v)
		if err != nil {
			if _, ok := AsError(err); !ok {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		got := parseYAML(t, doc)
		wantTop := []string{"resources", "envs"}
		for k, v := range map[string]string{"name": name, "setup": setup, "run": run} {
			if v != "" {
				wantTop = append(wantTop, k)
			}
		}
		if !sameKeys(got, wantTop) {
			t.Fatalf("top-level keys %v, want %v\n%s", slices.Collect(maps.Keys(got)), wantTop, doc)
		}
		envs, _ := got["envs"].(map[string]any)
		if len(envs) != 1 || envs[envKey] != valid(envVal) {
			t.Fatalf("envs = %#v", envs)
		}
		res, _ := got["resources"].(map[string]any)
		var wantRes []string
		if instance != "" {
			wantRes = append(wantRes, "instance_type")
		}
		if image != "" {
			wantRes = append(wantRes, "image_id")
		}
		if newForm {
			wantRes = append(wantRes, "infra")
		} else {
			wantRes = append(wantRes, "cloud")
			if region != "" {
				wantRes = append(wantRes, "region")
			}
		}
		if !sameKeys(res, wantRes) {
			t.Fatalf("resources keys %v, want %v\n%s", slices.Collect(maps.Keys(res)), wantRes, doc)
		}
		for k, v := range map[string]string{"setup": setup, "run": run, "name": name} {
			if v != "" && got[k] != valid(v) {
				t.Fatalf("%s = %q, want %q", k, got[k], v)
			}
		}
		if image != "" && res["image_id"] != valid(image) {
			t.Fatalf("image_id = %q, want %q", res["image_id"], image)
		}
	})
}

// valid is the string as the emitter writes it: each invalid UTF-8 byte becomes U+FFFD.
func valid(s string) string { return string([]rune(s)) }

func sameKeys(m map[string]any, want []string) bool {
	got := slices.Sorted(maps.Keys(m))
	slices.Sort(want)
	return slices.Equal(got, want)
}
