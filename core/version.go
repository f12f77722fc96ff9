package core

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Version is an installed SkyPilot version. The zero Version means "unknown"; callers then
// choose output and YAML forms that every version understands.
type Version struct {
	Major, Minor, Patch int
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

// Feature thresholds, from SkyPilot's release history.
func (v Version) HasInfra() bool      { return v.AtLeast(0, 10) } // resources.infra, INFRA column
func (v Version) HasJSONOutput() bool { return v.AtLeast(0, 12) } // `-o json` on status and check

var (
	versionRE = regexp.MustCompile(`(?i)skypilot,\s+version\s+(\d+)\.(\d+)(?:\.(\d+))?([0-9A-Za-z.+-]*)`)
	commitRE  = regexp.MustCompile(`(?i)skypilot,\s+commit\s+([0-9a-f]{7,40})(-dirty)?`)
)

// ParseVersion reads the output of `sky --version` / `sky -v` ("skypilot, version 0.10.3",
// nightly "1.0.0.dev20250730", source "1.0.0-dev0") or `sky -c` ("skypilot, commit <sha>").
// A commit alone means a source install of master, which is treated as the newest release
// line (1.0.0).
func ParseVersion(out string) (Version, error) {
	out = StripANSI(out)
	if m := versionRE.FindStringSubmatch(out); m != nil {
		major, err1 := strconv.Atoi(m[1])
		minor, err2 := strconv.Atoi(m[2])
		patch := 0
		var err3 error
		if m[3] != "" {
			patch, err3 = strconv.Atoi(m[3])
		}
		if err1 != nil || err2 != nil || err3 != nil {
			return Version{}, fmt.Errorf("sky version %q: number out of range", strings.TrimSpace(m[0]))
		}
		raw := m[1] + "." + m[2]
		if m[3] != "" {
			raw += "." + m[3]
		}
		return Version{Major: major, Minor: minor, Patch: patch, Raw: raw + m[4]}, nil
	}
	if m := commitRE.FindStringSubmatch(out); m != nil {
		return Version{Major: 1, Raw: "commit " + m[1] + m[2]}, nil
	}
	return Version{}, fmt.Errorf("unrecognised sky version output %q", firstLine(out))
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
