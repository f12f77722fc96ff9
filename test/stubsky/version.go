package main

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
)

// version is the emulated SkyPilot version. Only major/minor select the
// output style; raw is echoed by `sky --version`.
type version struct {
	raw          string
	major, minor int
}

// Accepts releases (0.10.3), nightlies (1.0.0.dev20250730) and source
// installs (1.0.0-dev0).
var versionPattern = regexp.MustCompile(`^(\d+)\.(\d+)(\.\d+)?([.-].*)?$`)

func parseVersion(raw string) (version, error) {
	m := versionPattern.FindStringSubmatch(raw)
	if m == nil {
		return version{}, fmt.Errorf("invalid SKYSTUB_VERSION %q", raw)
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	return version{raw: raw, major: major, minor: minor}, nil
}

func (v version) atLeast(major, minor int) bool {
	if v.major != major {
		return v.major > major
	}
	return v.minor >= minor
}

// Output eras, named after what changed in the real CLI.

// hasAPIServer: v0.8 moved all work into a local API server (#4660).
func (v version) hasAPIServer() bool { return v.atLeast(0, 8) }

// hasInfra: v0.10 introduced `infra`, the INFRA column and "Enabled Infra".
func (v version) hasInfra() bool { return v.atLeast(0, 10) }

// hasJSONOutput: v0.12 added `-o/--output json` (#8784).
func (v version) hasJSONOutput() bool { return v.atLeast(0, 12) }

// hasJobExitCodes: since #4846 (v0.9) a tailed launch exits with the job's
// status code (100 for FAILED) instead of always 0.
func (v version) hasJobExitCodes() bool { return v.atLeast(0, 9) }

// commit is a stable fake git sha for `sky --commit`.
func (v version) commit() string {
	sum := sha1.Sum([]byte("skypilot " + v.raw))
	return hex.EncodeToString(sum[:])
}
