package core

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Version is an installed SkyPilot version. The zero Version means "unknown"; callers then
// choose output and YAML forms that every version understands.
type Version struct {
	Major, Minor, Patch int
	// Nightly is the build date (20250730) of a nightly, which is numbered 1.0.0.devDATE
	// whatever it holds; 0 for any other version.
	Nightly int
	// Raw is what `sky --version` said after "version " (or "commit "), for display.
	Raw string
}

// Known reports whether the version could be read.
func (v Version) Known() bool { return v.Raw != "" }

// AtLeast reports whether v is major.minor or newer. An unknown version is never at least
// anything, so feature checks fall back to the oldest form.
func (v Version) AtLeast(major, minor int) bool {
	if !v.Known() {
		return false
	}
	if v.Major != major {
		return v.Major > major
	}
	return v.Minor >= minor
}

func (v Version) String() string {
	if !v.Known() {
		return "unknown"
	}
	return v.Raw
}

// Feature thresholds, from SkyPilot's release history: the release that first had the
// feature, and the day it reached master, which a nightly of that day or later has.
func (v Version) HasInfra() bool      { return v.has(0, 10, 20250520) } // resources.infra, INFRA column (#5602)
func (v Version) HasJSONOutput() bool { return v.has(0, 12, 20260310) } // `-o json` on status and check (#8784)

func (v Version) has(major, minor, masterDate int) bool {
	if v.Nightly != 0 {
		return v.Nightly >= masterDate
	}
	return v.AtLeast(major, minor)
}

// nightlyRE is the suffix of a nightly's version number: ".dev20250730".
var nightlyRE = lazyRegexp(`^\.dev(20\d{6})$`)

// versionNumber is a version as sky prints it: "0.10.3", "0.8", nightly
// "1.0.0.dev20250730", source "1.0.0-dev0".
const versionNumber = `(\d+)\.(\d+)(?:\.(\d+))?([0-9A-Za-z.+-]*)`

var (
	versionRE = lazyRegexp(`(?i)skypilot,\s+version\s+` + versionNumber)
	commitRE  = lazyRegexp(`(?i)skypilot,\s+commit\s+([0-9a-f]{7,40})(-dirty)?`)
	// `sky api info` (v0.8+): "SkyPilot client version: 0.10.2, commit: fc35b369..." and,
	// for the server, "├── Status: healthy, commit: fc35b369...-dirty, version: 0.10.2".
	clientVersionRE = lazyRegexp(`SkyPilot client version:\s*` + versionNumber)
	serverVersionRE = lazyRegexp(`Status: [^,\n]*, commit: [^,\n]*, version: ` + versionNumber)
	// jsonVersionRE is a whole version string of `sky api info -o json`.
	jsonVersionRE = lazyRegexp(`^` + versionNumber + `$`)
)

// ParseVersion reads the output of `sky --version` / `sky -v` ("skypilot, version 0.10.3",
// nightly "1.0.0.dev20250730", source "1.0.0-dev0"), `sky -c` ("skypilot, commit <sha>")
// or `sky api info` (its text or `-o json`), which shows the client's version and the API
// server's. A commit alone means a source install of master, which is treated as the
// newest release line (1.0.0). When both the client's and the server's versions are known,
// the older one is returned: a feature is usable only when both sides have it.
func ParseVersion(out string) (Version, error) {
	out = StripANSI(out)
	if m := versionRE().FindStringSubmatch(out); m != nil {
		return versionOf(m[1:])
	}
	if m := commitRE().FindStringSubmatch(out); m != nil {
		return Version{Major: 1, Raw: "commit " + m[1] + m[2]}, nil
	}
	client, server := apiInfoVersions(out)
	if client == nil && server == nil {
		return Version{}, fmt.Errorf("unrecognised sky version output %q", firstLine(out))
	}
	var versions []Version
	for _, parts := range [][]string{client, server} {
		if parts == nil {
			continue
		}
		v, err := versionOf(parts)
		if err != nil {
			return Version{}, err
		}
		versions = append(versions, v)
	}
	if len(versions) == 2 && versions[1].olderThan(versions[0]) {
		return versions[1], nil
	}
	return versions[0], nil
}

// apiInfoVersions finds the client's and the server's versions (major, minor, patch,
// suffix) in `sky api info` output; nil when not shown.
func apiInfoVersions(out string) (client, server []string) {
	if m := clientVersionRE().FindStringSubmatch(out); m != nil {
		client = m[1:]
	}
	if m := serverVersionRE().FindStringSubmatch(out); m != nil {
		server = m[1:]
	}
	if client != nil || server != nil {
		return client, server
	}
	return apiInfoJSONVersions(out)
}

// apiInfoJSONVersions reads `sky api info -o json` (v0.12+):
// {"client": {"version": "0.12.0", "commit": "..."}, "server": {"version": "0.12.0", ...}, "user": "..."}.
func apiInfoJSONVersions(out string) (client, server []string) {
	start := strings.IndexByte(out, '{')
	if start < 0 {
		return nil, nil
	}
	var doc struct {
		Client, Server struct {
			Version string `json:"version"`
		}
	}
	if json.NewDecoder(strings.NewReader(out[start:])).Decode(&doc) != nil {
		return nil, nil
	}
	if m := jsonVersionRE().FindStringSubmatch(doc.Client.Version); m != nil {
		client = m[1:]
	}
	if m := jsonVersionRE().FindStringSubmatch(doc.Server.Version); m != nil {
		server = m[1:]
	}
	return client, server
}

// versionOf builds a Version from the groups of versionNumber.
func versionOf(parts []string) (Version, error) {
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	patch := 0
	var err3 error
	if parts[2] != "" {
		patch, err3 = strconv.Atoi(parts[2])
	}
	raw := parts[0] + "." + parts[1]
	if parts[2] != "" {
		raw += "." + parts[2]
	}
	if err1 != nil || err2 != nil || err3 != nil {
		return Version{}, fmt.Errorf("sky version %q: number out of range", raw)
	}
	v := Version{Major: major, Minor: minor, Patch: patch, Raw: raw + parts[3]}
	if m := nightlyRE().FindStringSubmatch(parts[3]); m != nil {
		v.Nightly, _ = strconv.Atoi(m[1])
	}
	return v, nil
}

// olderThan compares release numbers; the suffix (nightly date, "-dev0") is not compared.
func (v Version) olderThan(w Version) bool {
	if v.Major != w.Major {
		return v.Major < w.Major
	}
	if v.Minor != w.Minor {
		return v.Minor < w.Minor
	}
	return v.Patch < w.Patch
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
