package core

import (
	"strings"
	"testing"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		out  string
		want Version
	}{
		{"skypilot, version 0.10.3\n", Version{Major: 0, Minor: 10, Patch: 3, Raw: "0.10.3"}},
		{"skypilot, version 1.0.0.dev20250730\n", Version{Major: 1, Minor: 0, Patch: 0, Raw: "1.0.0.dev20250730"}},
		{"skypilot, version 1.0.0-dev0\n", Version{Major: 1, Minor: 0, Patch: 0, Raw: "1.0.0-dev0"}},
		{"\x1b[0mskypilot, version 0.8\r\n", Version{Major: 0, Minor: 8, Raw: "0.8"}},
		{"skypilot, commit a63eaf53e79c28d4fa8bdf0a5fa6419daf72277a\n", Version{Major: 1, Raw: "commit a63eaf53e79c28d4fa8bdf0a5fa6419daf72277a"}},
		{"skypilot, commit a63eaf53e79c28d4fa8bdf0a5fa6419daf72277a-dirty\n", Version{Major: 1, Raw: "commit a63eaf53e79c28d4fa8bdf0a5fa6419daf72277a-dirty"}},
	}
	for _, tt := range tests {
		got, err := ParseVersion(tt.out)
		if err != nil || got != tt.want {
			t.Errorf("ParseVersion(%q) = %+v, %v; want %+v", tt.out, got, err, tt.want)
		}
	}
}

func TestParseVersionFeatures(t *testing.T) {
	v, err := ParseVersion("skypilot, version 0.10.3")
	if err != nil {
		t.Fatal(err)
	}
	if !v.HasInfra() || v.HasJSONOutput() {
		t.Errorf("0.10.3: HasInfra %v HasJSONOutput %v", v.HasInfra(), v.HasJSONOutput())
	}
	nightly, _ := ParseVersion("skypilot, version 1.0.0.dev20250730")
	if !nightly.HasJSONOutput() {
		t.Error("a 1.0.0 nightly should have JSON output")
	}
}

func TestParseVersionUnreadable(t *testing.T) {
	for _, out := range []string{
		"",
		"garbage",
		"SkyPilot client version: 0.10.2, commit: fc35b369",
		"skypilot, version 99999999999999999999.1",
		"skypilot, commit xyz",
	} {
		v, err := ParseVersion(out)
		if err == nil || v.Known() {
			t.Errorf("ParseVersion(%q) = %+v, %v; want an error", out, v, err)
		}
	}
}

func FuzzParseVersion(f *testing.F) {
	for _, seed := range []string{
		"skypilot, version 0.10.3", "skypilot, version 1.0.0.dev20250730", "skypilot, version 1.0.0-dev0",
		"skypilot, commit a63eaf53e79c28d4fa8bdf0a5fa6419daf72277a-dirty", "garbage", "skypilot, version 9.9999999999999999999",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, out string) {
		v, err := ParseVersion(out)
		if err != nil {
			if v.Known() {
				t.Errorf("error %v with a known version %+v", err, v)
			}
			return
		}
		if !v.Known() || v.Major < 0 || v.Minor < 0 || v.Patch < 0 {
			t.Errorf("bad version %+v", v)
		}
		if strings.ContainsAny(v.Raw, "\r\n\x1b") {
			t.Errorf("raw version %q is not clean", v.Raw)
		}
	})
}
