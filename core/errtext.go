package core

import (
	"regexp"
	"strings"
)

const (
	// maxErrorBytes caps the message shown to a user; the full output stays in the logs.
	maxErrorBytes = 500
	// noErrorMessage is shown when a failed run printed nothing usable.
	noErrorMessage = "sky failed without an error message"
	// tracebackHeader is Python's; it says nothing to a user and is never returned.
	tracebackHeader = "Traceback (most recent call last)"
)

// ExtractError picks the one sentence that tells a user why a `sky` run failed: the
// message of the final Python exception (on stderr, else on stdout, with a more specific
// cause such as a missing quota preferred over the generic "failed to provision"), the
// reason of a failed stop/down, a click usage error, or else the last meaningful line.
// The result is never empty, carries no escape codes, tracebacks or exception type names,
// and is at most 500 bytes of valid UTF-8.
func ExtractError(stderr, stdout string) string {
	errLines := meaningfulLines(stderr)
	outLines := meaningfulLines(stdout)
	return finishMessage(explainFailure(errLines, outLines))
}

func explainFailure(errLines, outLines []string) string {
	if msg, ok := exceptionMessage(errLines); ok {
		return moreSpecificCause(msg, outLines, errLines)
	}
	if msg, ok := abortMessage(errLines, outLines); ok {
		return msg
	}
	for _, lines := range [][]string{errLines, outLines} {
		if msg, ok := reportedFailure(lines); ok {
			return msg
		}
	}
	if msg, ok := exceptionMessage(outLines); ok {
		return moreSpecificCause(msg, outLines, errLines)
	}
	return firstNonEmpty(lastMeaningfulLine(errLines), lastMeaningfulLine(outLines))
}

// meaningfulLines cleans output into trimmed, non-blank lines.
func meaningfulLines(s string) []string {
	var lines []string
	for _, line := range outputLines(s) {
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	return lines
}

// exceptionRE matches the line Python prints for an uncaught exception,
// "sky.exceptions.ResourcesUnavailableError: message", "ValueError: message",
// "sky.exceptions.RequestCancelled: message", "KeyboardInterrupt". Capitalised labels such
// as "Reason:", "Hint:" or click's "Error:" do not match.
var exceptionRE = regexp.MustCompile(`^(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Exit|Interrupt|Cancelled|DoesNotExist|Unavailable|Configs|Credentials|ByPolicy)(?::\s*(.*))?$`)

// exceptionMessage returns the message of the last exception line: with a traceback
// (SKYPILOT_DEBUG=1, chained exceptions) the last one is the one that ended the run.
func exceptionMessage(lines []string) (string, bool) {
	for i := len(lines) - 1; i >= 0; i-- {
		m := exceptionRE.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		msg := stripExceptionType(m[1])
		if msg == "" && i+1 < len(lines) {
			msg = stripExceptionType(lines[i+1])
		}
		if msg == "" {
			msg = lines[i]
		}
		return msg, true
	}
	return "", false
}

// stripExceptionType removes "module.Type: " prefixes, also nested ones
// ("Reason: RuntimeError: ..." has had "Reason: " removed by its caller).
func stripExceptionType(msg string) string {
	msg = strings.TrimSpace(msg)
	for range 3 {
		m := exceptionRE.FindStringSubmatch(msg)
		if m == nil || m[1] == "" {
			return msg
		}
		msg = strings.TrimSpace(m[1])
	}
	return msg
}

// quotaRE finds the zero-quota precheck message, which says why provisioning failed more
// precisely than the final "Failed to provision all possible launchable resources".
var quotaRE = regexp.MustCompile(`Found no quota for .*`)

func moreSpecificCause(msg string, outLines, errLines []string) string {
	if !strings.HasPrefix(msg, "Failed to provision all possible launchable resources") {
		return msg
	}
	for _, lines := range [][]string{outLines, errLines} {
		for i, line := range lines {
			if quota := quotaRE.FindString(line); quota != "" {
				return withURLContinuation(quota, lines, i)
			}
		}
	}
	return msg
}

// withURLContinuation appends the next line when a message ends by announcing a link
// ("check the instruction:") that was printed on a line of its own.
func withURLContinuation(msg string, lines []string, at int) string {
	if strings.HasSuffix(msg, ":") && at+1 < len(lines) && strings.HasPrefix(lines[at+1], "http") {
		return msg + " " + lines[at+1]
	}
	return msg
}

// promptRE matches a confirmation prompt sky asks before acting.
var promptRE = regexp.MustCompile(`^(.*\S)\s*\[(?:Y/n|y/N)\]:?$`)

// abortMessage explains click's "Aborted!": a prompt got no answer (no -y, or the
// "looks like a yaml path" prompt that -y does not skip), or the run was interrupted.
func abortMessage(errLines, outLines []string) (string, bool) {
	if !containsLine(errLines, "Aborted!") && !containsLine(outLines, "Aborted!") {
		return "", false
	}
	for i := len(outLines) - 1; i >= 0; i-- {
		if m := promptRE.FindStringSubmatch(outLines[i]); m != nil {
			return "Aborted at the prompt: " + m[1], true
		}
	}
	return "Aborted!", true
}

func containsLine(lines []string, want string) bool {
	for _, line := range lines {
		if line == want {
			return true
		}
	}
	return false
}

var (
	// clickErrorRE: click usage errors, "Error: No such option: --foo".
	clickErrorRE = regexp.MustCompile(`^Error: (.+)$`)
	// operationFailedRE: "Terminating cluster x...failed." / "Stopping cluster x...failed.",
	// followed by a "Reason: ..." line.
	operationFailedRE = regexp.MustCompile(`\.\.\.\s*failed\.?$`)
	// operationSkippedRE: "Stopping cluster 'x'... skipped.", followed by why.
	operationSkippedRE = regexp.MustCompile(`\.\.\.\s*skipped\.?$`)
	reasonLineRE       = regexp.MustCompile(`^Reason:\s*(.+)$`)
	// jobFailedRE: "ERROR: Job 1 failed with return code list: [1]",
	// "ERROR: Job 1's setup failed with return code 1 (pid=...)".
	jobFailedRE = regexp.MustCompile(`^ERROR: (Job \d+.*failed.*)$`)
	// unsupportedFeatureRE: the 2023 table "The following features are not supported by
	// Kubernetes:" / "Feature  Reason" / "stop     Kubernetes does not support stopping VMs.".
	unsupportedFeatureRE = regexp.MustCompile(`^The following features are not supported by`)
)

// reportedFailure finds a failure sky printed as text rather than raising: stop/down
// failures and skips (which exit 0), a missing cluster, a failed job, a usage error.
func reportedFailure(lines []string) (string, bool) {
	finders := []func([]string) (string, bool){
		failedOperation, skippedOperation, unsupportedFeature, missingCluster, failedJob, usageError,
	}
	for _, find := range finders {
		if msg, ok := find(lines); ok {
			return msg, true
		}
	}
	return "", false
}

func failedOperation(lines []string) (string, bool) {
	for i, line := range lines {
		if !operationFailedRE.MatchString(line) {
			continue
		}
		for _, next := range lines[i+1 : min(i+4, len(lines))] {
			if m := reasonLineRE.FindStringSubmatch(next); m != nil {
				return stripExceptionType(m[1]), true
			}
		}
		return line, true
	}
	return "", false
}

func skippedOperation(lines []string) (string, bool) {
	for i, line := range lines {
		if operationSkippedRE.MatchString(line) {
			if i+1 < len(lines) {
				return lines[i+1], true
			}
			return line, true
		}
	}
	return "", false
}

func unsupportedFeature(lines []string) (string, bool) {
	for i, line := range lines {
		if !unsupportedFeatureRE.MatchString(line) {
			continue
		}
		for _, row := range lines[i+1:] {
			cells := multiSpaceRE.Split(row, -1)
			if len(cells) >= 2 && cells[0] != "Feature" {
				return cells[len(cells)-1], true
			}
		}
		return line, true
	}
	return "", false
}

func missingCluster(lines []string) (string, bool) {
	for _, line := range lines {
		if strings.HasPrefix(line, "Cluster(s) not found") {
			return "Cluster(s) not found.", true
		}
	}
	return "", false
}

func failedJob(lines []string) (string, bool) {
	for i := len(lines) - 1; i >= 0; i-- {
		if m := jobFailedRE.FindStringSubmatch(lines[i]); m != nil {
			return m[1], true
		}
	}
	return "", false
}

func usageError(lines []string) (string, bool) {
	for i := len(lines) - 1; i >= 0; i-- {
		if m := clickErrorRE.FindStringSubmatch(lines[i]); m != nil {
			return m[1], true
		}
	}
	return "", false
}

// lastMeaningfulLine is the last line that is not traceback scaffolding, usage help or a
// hint.
func lastMeaningfulLine(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		if !isNoiseLine(lines[i]) {
			return lines[i]
		}
	}
	return ""
}

var noisePrefixes = []string{
	tracebackHeader, `File "`, "===", "During handling of the above exception",
	"The above exception was the direct cause", "Usage:", "Try '", "Using SkyPilot API server",
	"├──", "└──", "│",
}

func isNoiseLine(line string) bool {
	for _, prefix := range noisePrefixes {
		if strings.HasPrefix(line, prefix) {
			return true
		}
	}
	return strings.Trim(line, "^~ ") == ""
}

// finishMessage makes the message safe to show: one line, no escape codes or traceback
// header, bounded, never empty.
func finishMessage(msg string) string {
	msg = dropEscapes(msg)
	for {
		msg = strings.Join(strings.Fields(msg), " ")
		if !strings.Contains(msg, tracebackHeader) {
			break
		}
		msg = strings.ReplaceAll(msg, tracebackHeader, " ")
	}
	msg = strings.TrimSpace(capBytes(msg, maxErrorBytes))
	if msg == "" {
		return noErrorMessage
	}
	return msg
}
