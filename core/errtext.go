package core

import (
	"regexp"
	"strings"
	"unicode"
)

const (
	// maxErrorBytes caps the message shown to a user; the full output stays in the logs.
	maxErrorBytes = 500
	// noErrorMessage is shown when a failed run printed nothing usable.
	noErrorMessage = "sky failed without an error message"
	// tracebackHeader is Python's; it says nothing to a user and is never returned.
	tracebackHeader = "Traceback (most recent call last)"
	// Python's separators between the exceptions of a chain.
	duringHandling = "During handling of the above exception"
	directCause    = "The above exception was the direct cause"
)

// ExtractError picks the one sentence that tells a user why a `sky` run failed: the
// message of the exception that caused it (on stderr, else on stdout; in a chain of
// exceptions the first of sky's own, not a later error raised while handling it; with
// its continuation lines when it announces them with a colon; a more specific cause such
// as a missing quota preferred over the generic "failed to provision"), the reason of a
// failed stop/down (from its "Reason:" lines or the error sky logged before the summary),
// what was wrong when a prompt was declined, a click usage error, or else the last
// meaningful line. The result is never empty, carries no escape codes, tracebacks or
// exception type names, and is at most 500 bytes of valid UTF-8.
func ExtractError(stderr, stdout string) string {
	return finishMessage(explainFailure(readOutput(stderr), readOutput(stdout)))
}

// RunMessage explains how a `sky` run ended, from its output: ExtractError's message when
// the output holds a failure line (an exception, an abort, a failed or skipped stop or
// down, a missing cluster, a failed job, a usage error), whatever the exit status, since
// sky stop, start and down exit 0 on failure. When exitFailed (a non-zero exit), the last
// meaningful line also serves. It returns "" when the output says nothing about a failure.
func RunMessage(stderr, stdout string, exitFailed bool) string {
	errLines, outLines := readOutput(stderr), readOutput(stdout)
	if !exitFailed && !holdsFailure(errLines, outLines) {
		return ""
	}
	if msg := finishMessage(explainFailure(errLines, outLines)); msg != noErrorMessage {
		return msg
	}
	return ""
}

// holdsFailure reports whether the output holds a line that reports a failure.
func holdsFailure(errLines, outLines []outLine) bool {
	if _, ok := abortMessage(errLines, outLines); ok {
		return true
	}
	for _, lines := range [][]outLine{errLines, outLines} {
		if _, ok := exceptionMessage(lines); ok {
			return true
		}
		if _, ok := reportedFailure(lines); ok {
			return true
		}
	}
	return false
}

func explainFailure(errLines, outLines []outLine) string {
	if msg, ok := exceptionMessage(errLines); ok {
		return moreSpecificCause(msg, outLines, errLines)
	}
	if msg, ok := abortMessage(errLines, outLines); ok {
		return msg
	}
	for _, lines := range [][]outLine{errLines, outLines} {
		if msg, ok := reportedFailure(lines); ok {
			return msg
		}
	}
	if msg, ok := exceptionMessage(outLines); ok {
		return moreSpecificCause(msg, outLines, errLines)
	}
	for _, lines := range [][]outLine{errLines, outLines} {
		if msg, ok := loggedError(lines, len(lines)); ok {
			return msg
		}
	}
	return firstNonEmpty(lastMeaningfulLine(errLines), lastMeaningfulLine(outLines))
}

// outLine is one non-blank line of sky output.
type outLine struct {
	text       string // escape codes and logger prefix removed, trimmed
	indent     int    // white space before the text (after any logger prefix)
	level      byte   // level letter of the logger prefix ('E', 'W', 'I', 'D'), 0 without one
	source     string // "file.py:123" of the logger prefix
	afterBlank bool   // a blank line came just before it
}

// loggerLineRE finds sky's logger prefix, "E 03-22 18:40:18 cloud_vm_ray_backend.py:2049] "
// or, under SKYPILOT_DEBUG, "D 02-24 21:00:25.123 PID=1234 sdk.py:1422] ". It is searched
// anywhere in the line: a progress bar drawn without a newline can come before it
// ("Terminating 1 cluster ━━━ 0% -:--:--E 05-03 04:53:12 cloud_vm_ray_backend.py:2238] ...").
var loggerLineRE = lazyRegexp(`(?:^|[^\w])([DIWE]) \d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?(?: PID=\d+)? ([\w./-]+:\d+)\] ?`)

// readOutput splits output into its non-blank lines: "\r\n" and "\r" redraws handled,
// escape codes and logger prefixes removed, the prefix's level and source kept.
func readOutput(s string) []outLine {
	var lines []outLine
	blank := false
	for _, raw := range strings.Split(s, "\n") {
		line := strings.TrimRight(raw, "\r")
		if i := strings.LastIndexByte(line, '\r'); i >= 0 {
			line = line[i+1:]
		}
		line = dropEscapes(line)
		var l outLine
		if strings.IndexByte(line, ']') >= 0 {
			if loc := loggerLineRE().FindStringSubmatchIndex(line); loc != nil {
				l.level, l.source = line[loc[2]], line[loc[4]:loc[5]]
				line = line[loc[1]:]
			}
		}
		body := strings.TrimRightFunc(line, unicode.IsSpace)
		l.text = strings.TrimLeftFunc(body, unicode.IsSpace)
		if l.text == "" {
			blank = true
			continue
		}
		l.indent, l.afterBlank = len(body)-len(l.text), blank
		blank = false
		lines = append(lines, l)
	}
	return lines
}

// ---- Exceptions ----

// exceptionRE matches the line Python prints for an uncaught exception,
// "sky.exceptions.ResourcesUnavailableError: message", "ValueError: message",
// "sky.exceptions.RequestCancelled: message", "KeyboardInterrupt"; group 1 is the type,
// group 2 the message. Capitalised labels such as "Reason:", "Hint:" or click's "Error:"
// do not match.
var exceptionRE = lazyRegexp(`^((?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Exit|Interrupt|Cancelled|DoesNotExist|Unavailable|Configs|Credentials|ByPolicy))(?::\s*(.*))?$`)

// raised is one exception line of a chain.
type raised struct {
	at         int    // index of its line
	typ, msg   string // "sky.exceptions.X", the text after the colon
	causedNext bool   // Python said it was the direct cause of the next one
}

// exceptionMessage returns the message of the exception that caused the run to fail: the
// last exception line, or, when it ends a chain of exceptions, the cause chosen by
// chainCause.
func exceptionMessage(lines []outLine) (string, bool) {
	chain := exceptionChain(lines)
	if len(chain) == 0 {
		return "", false
	}
	cause := chainCause(chain)
	at, msg := cause.at, stripExceptionType(cause.msg)
	if msg == "" && at+1 < len(lines) && !startsAnother(lines[at+1].text) {
		at++
		msg = stripExceptionType(lines[at].text)
	}
	if msg == "" {
		return lines[cause.at].text, true
	}
	return withContinuation(msg, lines, at), true
}

// exceptionChain returns the last exception line and those linked to it by Python's
// chain separators ("During handling of the above exception, another exception
// occurred:", "The above exception was the direct cause of the following exception:"),
// first raised first.
func exceptionChain(lines []outLine) []raised {
	var chain []raised
	during, direct := false, false
	for i := len(lines) - 1; i >= 0; i-- {
		text := lines[i].text
		switch {
		case strings.HasPrefix(text, duringHandling):
			during = true
		case strings.HasPrefix(text, directCause):
			direct = true
		}
		m := exceptionRE().FindStringSubmatch(text)
		if m == nil {
			continue
		}
		if len(chain) > 0 && !during && !direct {
			break
		}
		chain = append(chain, raised{at: i, typ: m[1], msg: m[2], causedNext: len(chain) > 0 && direct && !during})
		during, direct = false, false
	}
	for i, j := 0, len(chain)-1; i < j; i, j = i+1, j-1 {
		chain[i], chain[j] = chain[j], chain[i]
	}
	return chain
}

// chainCause picks the cause in a chain: an exception that was the direct cause of the
// next one is superseded by it (sky raised the next one on purpose, with its own
// message); of the others, which were each being handled when the next one came (often a
// TypeError in sky's own error path), the first of sky's own exceptions is the cause,
// else the first one.
func chainCause(chain []raised) raised {
	candidates := make([]raised, 0, len(chain))
	for _, r := range chain {
		if !r.causedNext {
			candidates = append(candidates, r)
		}
	}
	for _, r := range candidates {
		if strings.HasPrefix(r.typ, "sky.") {
			return r
		}
	}
	return candidates[0]
}

// maxContinuationLines bounds how many lines a message announcing more with a colon takes.
const maxContinuationLines = 10

// withContinuation completes a message that ends by announcing more with a colon ("The
// following fields are invalid:", "check the instruction:"): the lines indented below its
// line at lines[at], or else the one line after it.
func withContinuation(msg string, lines []outLine, at int) string {
	if !strings.HasSuffix(msg, ":") {
		return msg
	}
	parts := []string{msg}
	for j := at + 1; j < len(lines) && len(parts) <= maxContinuationLines; j++ {
		next := lines[j]
		if next.indent <= lines[at].indent {
			if len(parts) == 1 && !next.afterBlank && !startsAnother(next.text) {
				parts = append(parts, next.text)
			}
			break
		}
		parts = append(parts, next.text)
	}
	return strings.Join(parts, " ")
}

// startsAnother reports whether a line begins something else than a continuation.
func startsAnother(text string) bool {
	return isNoiseLine(text) || exceptionRE().MatchString(text) || promptRE().MatchString(text)
}

// stripExceptionType removes "module.Type: " prefixes, also nested ones
// ("Reason: RuntimeError: ..." has had "Reason: " removed by its caller).
func stripExceptionType(msg string) string {
	msg = strings.TrimSpace(msg)
	for range 3 {
		m := exceptionRE().FindStringSubmatch(msg)
		if m == nil || m[2] == "" {
			return msg
		}
		msg = strings.TrimSpace(m[2])
	}
	return msg
}

// isBareType reports whether msg is empty or only an exception type ("RuntimeError:").
func isBareType(msg string) bool {
	m := exceptionRE().FindStringSubmatch(msg)
	return msg == "" || m != nil && m[2] == ""
}

// quotaRE finds the zero-quota precheck message, which says why provisioning failed more
// precisely than the final "Failed to provision all possible launchable resources".
var quotaRE = lazyRegexp(`Found no quota for .*`)

func moreSpecificCause(msg string, outLines, errLines []outLine) string {
	if !strings.HasPrefix(msg, "Failed to provision all possible launchable resources") {
		return msg
	}
	for _, lines := range [][]outLine{outLines, errLines} {
		for i, line := range lines {
			if quota := quotaRE().FindString(line.text); quota != "" {
				return withContinuation(quota, lines, i)
			}
		}
	}
	return msg
}

// ---- Prompts ----

// promptRE matches a confirmation prompt sky asks before acting, with whatever was typed
// after it ("Continue? [y/N]: N", "Continue? [y/N]: ^CAborted!"); group 1 is the question.
var promptRE = lazyRegexp(`^(.*?\S)\s*\[(?:Y/n|y/N)\]:?`)

// abortMessage explains click's "Aborted!": a prompt was declined or got no answer (no
// -y, or the "looks like a yaml path" prompt that -y does not skip), or the run was
// interrupted.
func abortMessage(errLines, outLines []outLine) (string, bool) {
	if !anyEndsWith(errLines, "Aborted!") && !anyEndsWith(outLines, "Aborted!") {
		return "", false
	}
	for _, lines := range [][]outLine{outLines, errLines} {
		for i := len(lines) - 1; i >= 0; i-- {
			if m := promptRE().FindStringSubmatch(lines[i].text); m != nil {
				return promptCause(lines, i, m[1]), true
			}
		}
	}
	return "Aborted!", true
}

func anyEndsWith(lines []outLine, suffix string) bool {
	for _, line := range lines {
		if strings.HasSuffix(line.text, suffix) {
			return true
		}
	}
	return false
}

// promptCause says why a prompt at lines[at] stopped the run. A prompt that states the
// action it confirms ("Launching a new cluster 'x'. Proceed?") explains itself; one that
// asks to go on despite a problem ("... Continue?", "Proceed anyway?") follows the
// sentence that states the problem, which is the cause.
func promptCause(lines []outLine, at int, question string) string {
	statement, ask := splitLastSentence(question)
	if statement == "" || ask != "Proceed?" {
		if warning, ok := promptWarning(lines, at); ok {
			return warning
		}
	}
	return "Aborted at the prompt: " + question
}

// splitLastSentence splits "It will be treated as a command. Continue?" into the text
// before the last sentence and that sentence.
func splitLastSentence(s string) (before, last string) {
	cut := -1
	for _, sep := range []string{". ", "? ", "! "} {
		cut = max(cut, strings.LastIndex(s, sep))
	}
	if cut < 0 {
		return "", s
	}
	return strings.TrimSpace(s[:cut+1]), strings.TrimSpace(s[cut+2:])
}

// maxPromptLines bounds how far above a prompt its warning is looked for.
const maxPromptLines = 12

// promptWarning finds the sentence a prompt's message starts with: the unindented line
// right above the prompt, or the nearest unindented line above it that ends a sentence
// (a YAML error's details can come in between). Logger lines and progress lines belong to
// earlier output and end the search.
func promptWarning(lines []outLine, at int) (string, bool) {
	for j := at - 1; j >= 0 && at-j <= maxPromptLines; j-- {
		line := lines[j]
		if line.level != 0 || isProgressLine(line.text) || promptRE().MatchString(line.text) {
			break
		}
		adjacent := j == at-1 && !lines[at].afterBlank
		if line.indent == 0 && (adjacent || strings.HasSuffix(line.text, ".") || strings.HasSuffix(line.text, "!")) {
			return line.text, true
		}
	}
	return "", false
}

// progressMarks start the lines sky draws for progress, which are no warning.
var progressMarks = []string{"✓", "✔", "⚙", "⨯", "↺", "├", "└", "│", "━"}

func isProgressLine(text string) bool {
	for _, mark := range progressMarks {
		if strings.HasPrefix(text, mark) {
			return true
		}
	}
	return strings.Contains(text, "━")
}

// ---- Failures reported as text ----

var (
	// clickErrorRE: click usage errors, "Error: No such option: --foo".
	clickErrorRE = lazyRegexp(`^Error: (.+)$`)
	// operationFailedRE: "Terminating cluster x...failed." / "Stopping cluster x...failed.",
	// also with text after it ("...failed. Please check the logs and try again.").
	operationFailedRE = lazyRegexp(`\.\.\.\s*failed\b`)
	// operationCutRE: the same summary cut before "failed." ("Terminating cluster x...").
	operationCutRE = lazyRegexp(`^(?:Terminating|Stopping) cluster \S+?\.\.\.$`)
	// operationSkippedRE: "Stopping cluster 'x'... skipped.", followed by why.
	operationSkippedRE = lazyRegexp(`\.\.\.\s*skipped\.?$`)
	// reasonLineRE: the "Reason: <exception>" line under a failed operation; since the
	// teardown's own message starts with a newline, the line can hold only the type.
	reasonLineRE = lazyRegexp(`^Reason:\s*(.*)$`)
	// jobFailedRE: "ERROR: Job 1 failed with return code list: [1]",
	// "ERROR: Job 1's setup failed with return code 1 (pid=...)".
	jobFailedRE = lazyRegexp(`^ERROR: (Job \d+.*failed.*)$`)
	// unsupportedFeatureRE: the 2023 table "The following features are not supported by
	// Kubernetes:" / "Feature  Reason" / "stop     Kubernetes does not support stopping VMs.".
	unsupportedFeatureRE = lazyRegexp(`^The following features are not supported by`)
)

// reportedFailure finds a failure sky printed as text rather than raising: stop/down
// failures and skips (which exit 0), a missing cluster, a failed job, a usage error.
func reportedFailure(lines []outLine) (string, bool) {
	finders := []func([]outLine) (string, bool){
		failedOperation, failedClusters, skippedOperation, unsupportedFeature, missingCluster, failedJob, usageError,
	}
	for _, find := range finders {
		if msg, ok := find(lines); ok {
			return msg, true
		}
	}
	return "", false
}

// failedOperation explains "Terminating cluster x...failed.": by the "Reason:" below it,
// else by the error sky logged before it (a cloud API error, a lock held by another
// operation), else by the summary itself.
func failedOperation(lines []outLine) (string, bool) {
	for i, line := range lines {
		if !operationFailedRE().MatchString(line.text) && !operationCutRE().MatchString(line.text) {
			continue
		}
		if msg, ok := reasonBelow(lines, i); ok {
			return msg, true
		}
		if msg, ok := loggedError(lines, i); ok {
			return msg, true
		}
		return line.text, true
	}
	return "", false
}

// maxEchoedErrorLines bounds the lines of the error sky echoes above "Cluster(s) failed.".
const maxEchoedErrorLines = 4

// failedClusters explains a stop or down that ended in "Cluster(s) failed. See details
// above." with no per-cluster summary: since v0.11 sky echoes the error itself (a cloud's
// API error, an owner mismatch) in the lines just above it, after a blank line.
func failedClusters(lines []outLine) (string, bool) {
	for i, line := range lines {
		if !strings.HasPrefix(line.text, "Cluster(s) failed") {
			continue
		}
		start := i
		for start > 0 && i-start < maxEchoedErrorLines && !endsReport(lines[start-1].text) {
			start--
			if lines[start].afterBlank {
				break
			}
		}
		if start == i {
			summary, _, _ := strings.Cut(line.text, ". ")
			return strings.TrimSuffix(summary, ".") + ".", true
		}
		texts := make([]string, 0, i-start)
		for _, l := range lines[start:i] {
			texts = append(texts, l.text)
		}
		return strings.Join(texts, " "), true
	}
	return "", false
}

// reasonBelow reads the "Reason:" line a few lines below the summary at lines[at]. When
// it names only the exception type, the message is the teardown report on the lines
// after it.
func reasonBelow(lines []outLine, at int) (string, bool) {
	for j := at + 1; j < min(at+4, len(lines)); j++ {
		m := reasonLineRE().FindStringSubmatch(lines[j].text)
		if m == nil {
			continue
		}
		if msg := stripExceptionType(m[1]); !isBareType(msg) {
			return msg, true
		}
		end := j + 1
		for end < len(lines) && !endsReport(lines[end].text) {
			end++
		}
		if msg := teardownReport(lines[j+1 : end]); msg != "" {
			return msg, true
		}
	}
	return "", false
}

// endsReport reports whether a line follows a failed operation's report.
func endsReport(text string) bool {
	return strings.HasPrefix(text, "Cluster(s) failed") || strings.HasPrefix(text, "Summary:") ||
		operationFailedRE().MatchString(text) || strings.HasSuffix(text, "...done.")
}

// maxLoggedErrorDistance bounds how far above a summary the logged error is looked for.
const maxLoggedErrorDistance = 400

// loggedError explains a failure by the last block of error-level logger lines above
// lines[before] ("E 03-22 18:40:18 cloud_vm_ray_backend.py:2049] ..." lines from one
// source): the exception it shows, or the teardown report it holds.
func loggedError(lines []outLine, before int) (string, bool) {
	end := before - 1
	for end >= 0 && before-end <= maxLoggedErrorDistance && lines[end].level != 'E' {
		end--
	}
	if end < 0 || lines[end].level != 'E' {
		return "", false
	}
	start := end
	for start > 0 && lines[start-1].level == 'E' && lines[start-1].source == lines[end].source {
		start--
	}
	block := lines[start : end+1]
	if !hasLine(block, stderrMarker) {
		if msg, ok := exceptionMessage(block); ok {
			return msg, true
		}
	}
	msg := teardownReport(block)
	return msg, msg != ""
}

// The section markers of a teardown report ("Failed to terminate x. ...", then the
// output of the command that failed).
const (
	stdoutMarker = "**** STDOUT ****"
	stderrMarker = "**** STDERR ****"
)

// purgeHintRE is the advice sky appends to "Failed to terminate x.".
var purgeHintRE = lazyRegexp(`\s*If you want to ignore this error.*$`)

// errorWordRE marks the line of a command's stderr that states the error.
var errorWordRE = lazyRegexp(`(?i)error|denied|not found|forbidden|exceeded|invalid`)

// teardownReport makes one sentence of a teardown report: its first line ("Failed to
// terminate x.", a lock held by another operation) with the error of the failed command's
// stderr.
func teardownReport(report []outLine) string {
	var head, detail, fallback string
	inStderr, inStdout := false, false
	for _, line := range report {
		switch text := line.text; {
		case text == stdoutMarker:
			inStdout, inStderr = true, false
		case text == stderrMarker:
			inStdout, inStderr = false, true
		case inStderr:
			if fallback == "" && !isNoiseLine(text) {
				fallback = text
			}
			if detail == "" && errorWordRE().MatchString(text) {
				detail = text
			}
		case !inStdout && head == "":
			head = stripExceptionType(purgeHintRE().ReplaceAllString(text, ""))
		}
	}
	detail = firstNonEmpty(detail, fallback)
	switch {
	case head == "":
		return detail
	case detail == "":
		return head
	}
	return head + " " + detail
}

func hasLine(lines []outLine, text string) bool {
	for _, line := range lines {
		if line.text == text {
			return true
		}
	}
	return false
}

func skippedOperation(lines []outLine) (string, bool) {
	for i, line := range lines {
		if operationSkippedRE().MatchString(line.text) {
			if i+1 < len(lines) {
				return lines[i+1].text, true
			}
			return line.text, true
		}
	}
	return "", false
}

func unsupportedFeature(lines []outLine) (string, bool) {
	for i, line := range lines {
		if !unsupportedFeatureRE().MatchString(line.text) {
			continue
		}
		for _, row := range lines[i+1:] {
			cells := multiSpaceRE().Split(row.text, -1)
			if len(cells) >= 2 && cells[0] != "Feature" {
				return cells[len(cells)-1], true
			}
		}
		return line.text, true
	}
	return "", false
}

func missingCluster(lines []outLine) (string, bool) {
	for _, line := range lines {
		if strings.HasPrefix(line.text, "Cluster(s) not found") {
			return "Cluster(s) not found.", true
		}
	}
	return "", false
}

func failedJob(lines []outLine) (string, bool) {
	return lastMatch(lines, jobFailedRE())
}

func usageError(lines []outLine) (string, bool) {
	return lastMatch(lines, clickErrorRE())
}

// lastMatch returns group 1 of the last line re matches.
func lastMatch(lines []outLine, re *regexp.Regexp) (string, bool) {
	for i := len(lines) - 1; i >= 0; i-- {
		if m := re.FindStringSubmatch(lines[i].text); m != nil {
			return m[1], true
		}
	}
	return "", false
}

// lastMeaningfulLine is the last line that is not traceback scaffolding, usage help or a
// hint.
func lastMeaningfulLine(lines []outLine) string {
	for i := len(lines) - 1; i >= 0; i-- {
		if !isNoiseLine(lines[i].text) {
			return lines[i].text
		}
	}
	return ""
}

var noisePrefixes = []string{
	tracebackHeader, `File "`, "===", duringHandling, directCause, "Usage:", "Try '",
	"Using SkyPilot API server", "├──", "└──", "│",
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
