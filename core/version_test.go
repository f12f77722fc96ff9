package core

import (
	"strings"
	"testing"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		sample, out string // a file under testdata/version, or the output itself
		want        Version
	}{
		{out: "skypilot, version 0.10.3\n", want: Version{Major: 0, Minor: 10, Patch: 3, Raw: "0.10.3"}},
		{out: "skypilot, version 1.0.0.dev20250730\n", want: Version{Major: 1, Minor: 0, Patch: 0, Nightly: 20250730, Raw: "1.0.0.dev20250730"}},
		{out: "skypilot, version 1.0.0-dev0\n", want: Version{Major: 1, Minor: 0, Patch: 0, Raw: "1.0.0-dev0"}},
		{out: "\x1b[0mskypilot, version 0.8\r\n", want: Version{Major: 0, Minor: 8, Raw: "0.8"}},
		{out: "skypilot, commit a63eaf53e79c28d4fa8bdf0a5fa6419daf72277a\n", want: Version{Major: 1, Raw: "commit a63eaf53e79c28d4fa8bdf0a5fa6419daf72277a"}},
		{out: "skypilot, commit a63eaf53e79c28d4fa8bdf0a5fa6419daf72277a-dirty\n", want: Version{Major: 1, Raw: "commit a63eaf53e79c28d4fa8bdf0a5fa6419daf72277a-dirty"}},
		// `sky api info`: the client's version and the server's.
		{sample: "issue7060_api_info.txt", want: Version{Major: 0, Minor: 10, Patch: 2, Raw: "0.10.2"}},
		// `sky -v` leads when it is there too.
		{sample: "issue7052_v_c_api_info.txt", want: Version{Major: 0, Minor: 10, Patch: 1, Raw: "0.10.1"}},
		// No server connected: the client's version.
		{sample: "pr9076_no_server.txt", want: Version{Major: 1, Minor: 0, Patch: 0, Raw: "1.0.0-dev0"}},
		// Client and server differ: the older one.
		{sample: "api_info_server_older.txt", want: Version{Major: 0, Minor: 10, Patch: 1, Raw: "0.10.1"}},
		{sample: "api_info_json.txt", want: Version{Major: 0, Minor: 11, Patch: 2, Raw: "0.11.2"}},
		{out: "SkyPilot client version: 0.10.2, commit: fc35b369", want: Version{Major: 0, Minor: 10, Patch: 2, Raw: "0.10.2"}},
		// The server line alone, as 0.10.1 printed it.
		{out: "Using SkyPilot API server and dashboard: http://127.0.0.1:46580\n├── Status: healthy, commit: 0c04d758-dirty, version: 0.10.1\n",
			want: Version{Major: 0, Minor: 10, Patch: 1, Raw: "0.10.1"}},
		// An older client than server: the client.
		{out: "SkyPilot client version: 0.9.3, commit: abc\n├── Status: healthy, commit: def, version: 1.0.0.dev20250730\n",
			want: Version{Major: 0, Minor: 9, Patch: 3, Raw: "0.9.3"}},
		{out: "\x1b[1mSkyPilot client version: 1.0.0.dev20260314, commit: 97eead97\x1b[0m\r\n", want: Version{Major: 1, Nightly: 20260314, Raw: "1.0.0.dev20260314"}},
		{out: `{"client": {"version": "0.12.0", "commit": "x"}, "user": "alice"}`, want: Version{Major: 0, Minor: 12, Raw: "0.12.0"}},
	}
	for _, tt := range tests {
		out := tt.out
		if tt.sample != "" {
			out = readSample(t, "version/"+tt.sample)
		}
		got, err := ParseVersion(out)
		if err != nil || got != tt.want {
			t.Errorf("ParseVersion(%q) = %+v, %v; want %+v", firstNonEmpty(tt.sample, tt.out), got, err, tt.want)
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
	// A nightly is 1.0.0.devDATE whatever it holds: its date says what it has.
	for _, c := range []struct {
		out            string
		infra, jsonOut bool
	}{
		{"skypilot, version 1.0.0.dev20250401", false, false},
		{"skypilot, version 1.0.0.dev20250520", true, false},
		{"skypilot, version 1.0.0.dev20250730", true, false},
		{"skypilot, version 1.0.0.dev20260310", true, true},
		{"skypilot, version 1.0.0-dev0", true, true}, // a source install of master
		{"skypilot, version 0.9.3", false, false},
		{"skypilot, version 0.12.0", true, true},
	} {
		v, err := ParseVersion(c.out)
		if err != nil {
			t.Fatal(err)
		}
		if v.HasInfra() != c.infra || v.HasJSONOutput() != c.jsonOut {
			t.Errorf("%s: HasInfra %v HasJSONOutput %v, want %v %v", c.out, v.HasInfra(), v.HasJSONOutput(), c.infra, c.jsonOut)
		}
	}
}

func TestParseVersionUnreadable(t *testing.T) {
	for _, out := range []string{
		"",
		"garbage",
		"SkyPilot client version: unknown, commit: fc35b369",
		"SkyPilot client version: 1.99999999999999999999, commit: x",
		"├── Status: healthy, commit: x, version: 99999999999999999999.0",
		`{"client": {"version": "dev"}, "server": {"version": 12}}`,
		"{not json",
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
		"SkyPilot client version: 0.10.2, commit: x\n├── Status: healthy, commit: y, version: 0.10.1",
		`{"client": {"version": "0.12.0"}, "server": {"version": "0.11.2"}}`,
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
