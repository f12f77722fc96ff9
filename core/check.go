package core

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ParseCheck reads the output of `sky check` (every era since 2023, or `-o json`): which
// clouds are enabled and, for the disabled ones, why. Nothing enabled is a valid result;
// the error is non-nil only when the output is not `sky check` output at all.
func ParseCheck(stdout string) (CheckResult, error) {
	lines := outputLines(stdout)
	if result, ok := findCheckJSON(lines); ok {
		return result, nil
	}
	acc := newCheckAccumulator()
	recognised := false
	for i := 0; i < len(lines); i++ {
		line, trimmed := lines[i], strings.TrimSpace(lines[i])
		switch {
		case checkHeaderRE().MatchString(trimmed) || strings.HasPrefix(trimmed, "No cloud is enabled."):
			recognised = true
		case summaryHeaderRE().MatchString(trimmed):
			recognised = true
			i = acc.readSummary(lines, i+1)
		case acc.readAllowedCloudsNote(trimmed):
			recognised = true
		default:
			if m := cloudLineRE().FindStringSubmatch(line); m != nil && CloudRegistryName(m[1]) != "" {
				recognised = true
				i = acc.readCloud(lines, i, CloudRegistryName(m[1]), m[2] == "enabled")
			}
		}
	}
	if !recognised {
		return CheckResult{}, fmt.Errorf("unrecognised sky check output: %q", quoteOutput(lines))
	}
	return acc.result(), nil
}

// storageOnlyClouds are the providers `sky check` lists that offer storage but cannot run
// a cluster.
var storageOnlyClouds = map[string]bool{"cloudflare": true, "coreweave": true, "vastdata": true}

// ComputeClouds drops the storage-only providers (cloudflare, coreweave, vastdata) from a
// list of enabled clouds, leaving those a cluster can be launched on.
func ComputeClouds(enabled []string) []string {
	compute := make([]string, 0, len(enabled))
	for _, name := range enabled {
		if !storageOnlyClouds[name] {
			compute = append(compute, name)
		}
	}
	return compute
}

var (
	// checkHeaderRE: "Checking credentials to enable clouds for SkyPilot." (≤v0.9) or
	// "... enable infra for SkyPilot." (v0.10+).
	checkHeaderRE = lazyRegexp(`^Checking credentials to enable (?:clouds|infra)\b`)
	// summaryHeaderRE: "🎉 Enabled clouds 🎉" (≤v0.9), "🎉 Enabled infra 🎉" and
	// "🎉 Enabled infra for workspace: 'x' 🎉" (v0.10+).
	summaryHeaderRE = lazyRegexp(`^(?:🎉 ?)?Enabled (?:clouds|infra)(?: for workspace: '[^']*')?(?: ?🎉)?$`)
	// cloudLineRE: "  AWS: enabled", "  AWS: enabled [compute, storage]", "  Azure: disabled ",
	// "  Cloudflare (for R2 object store): enabled". Context tree lines are indented deeper.
	cloudLineRE = lazyRegexp(`^ {1,3}([A-Za-z][^:]*): (enabled|disabled)(?: \[[^\]]*\])?$`)
	// reasonRE: "Reason: ..." (≤v0.7) or "Reason [compute, storage]: ..." (v0.8+).
	reasonRE = lazyRegexp(`^Reason(?: \[[^\]]*\])?:\s*(.*)$`)
	// detailLabelRE starts a block under a cloud line that is not part of a reason.
	detailLabelRE = lazyRegexp(`^(?:Hint(?: \[[^\]]*\])?|Activated account):`)
	// treeGlyphs are drawn in front of Kubernetes/SSH/Slurm contexts.
	treeGlyphs = strings.NewReplacer("├──", " ", "└──", " ", "│", " ")
)

type checkAccumulator struct {
	enabled  map[string]bool
	disabled map[string]string
	// notAllowed holds the clouds the allowed_clouds note names, with its reason; they
	// count as disabled unless a line of their own says otherwise.
	notAllowed map[string]string
}

func newCheckAccumulator() checkAccumulator {
	return checkAccumulator{enabled: map[string]bool{}, disabled: map[string]string{}, notAllowed: map[string]string{}}
}

// allowedCloudsNoteRE: "Note: The following clouds were disabled because they were not
// included in allowed_clouds in ~/.sky/config.yaml: GCP, Azure" (since 2024-05; v0.10+
// may add " or disabled for this workspace 'x'" before the colon). Group 1 is the reason,
// group 2 the list.
var allowedCloudsNoteRE = lazyRegexp(`^Note: The following clouds were disabled because they were (.+?): (.+)$`)

// readAllowedCloudsNote records the clouds of an allowed_clouds note and reports whether
// the line is one.
func (a *checkAccumulator) readAllowedCloudsNote(line string) bool {
	m := allowedCloudsNoteRE().FindStringSubmatch(line)
	if m == nil {
		return false
	}
	first, size := utf8.DecodeRuneInString(m[1])
	reason := CapLine(string(unicode.ToUpper(first)) + m[1][size:])
	for _, display := range strings.Split(m[2], ",") {
		// Registry names have no spaces; this also drops the pieces of the 2024 name
		// "Cloudflare, for R2 object store" after its comma.
		if name := CloudRegistryName(display); name != "" && !strings.ContainsAny(name, " \t") {
			a.notAllowed[name] = reason
		}
	}
	return true
}

// readCloud records the cloud line at lines[at] and, for a disabled cloud, the reasons in
// the indented block below it. It returns the index of the last line of that block.
func (a *checkAccumulator) readCloud(lines []string, at int, cloud string, enabled bool) int {
	end := at
	var reasons []string
	inReason := false
	for end+1 < len(lines) && indentOf(lines[end+1]) >= 4 {
		end++
		text := strings.TrimSpace(treeGlyphs.Replace(lines[end]))
		switch m := reasonRE().FindStringSubmatch(text); {
		case m != nil:
			reasons = append(reasons, m[1])
			inReason = true
		case detailLabelRE().MatchString(text):
			inReason = false
		case inReason:
			reasons[len(reasons)-1] += " " + text
		}
	}
	if enabled {
		a.enabled[cloud] = true
	} else {
		a.disabled[cloud] = joinReasons(reasons)
	}
	return end
}

// joinReasons makes one line of the reasons of a disabled cloud (one per capability when
// they differ).
func joinReasons(reasons []string) string {
	parts := make([]string, 0, len(reasons))
	for _, r := range reasons {
		if r = strings.Join(strings.Fields(r), " "); r != "" && !slices.Contains(parts, r) {
			parts = append(parts, r)
		}
	}
	return CapLine(strings.Join(parts, "; "))
}

func indentOf(line string) int {
	return len(line) - len(strings.TrimLeft(line, " \t"))
}

// readSummary reads the enabled-clouds block starting at lines[from]: one cloud per line,
// all indented alike ("  ✔ AWS", "    ✔ AWS", "  AWS", "  AWS [compute, storage]"), deeper
// lines for context trees, until a blank line or one indented less. It returns the index
// of the last line of the block.
func (a *checkAccumulator) readSummary(lines []string, from int) int {
	i := from
	entryIndent := -1
	for ; i < len(lines); i++ {
		line := lines[i]
		indent := indentOf(line)
		if strings.TrimSpace(line) == "" || indent == 0 || indent < entryIndent {
			break
		}
		if entryIndent < 0 {
			entryIndent = indent
		}
		if indent > entryIndent {
			continue
		}
		if name := summaryCloud(line); name != "" {
			a.enabled[name] = true
		}
	}
	return i - 1
}

// summaryCloud reads one summary entry; "No infra to check/enabled." names no cloud.
func summaryCloud(line string) string {
	entry := strings.TrimSpace(line)
	entry = strings.TrimSpace(strings.TrimPrefix(entry, "✔"))
	if i := strings.IndexByte(entry, '['); i >= 0 {
		entry = strings.TrimSpace(entry[:i])
	}
	if entry == "" || strings.HasPrefix(entry, "No ") || strings.ContainsAny(entry, ":.") {
		return ""
	}
	return CloudRegistryName(entry)
}

func (a *checkAccumulator) result() CheckResult {
	r := CheckResult{Enabled: []string{}, Disabled: map[string]string{}}
	for name := range a.enabled {
		r.Enabled = append(r.Enabled, name)
	}
	slices.Sort(r.Enabled)
	for name, reason := range a.notAllowed {
		if _, listed := a.disabled[name]; !listed && !a.enabled[name] {
			r.Disabled[name] = reason
		}
	}
	for name, reason := range a.disabled {
		if !a.enabled[name] {
			r.Disabled[name] = reason
		}
	}
	return r
}

// ---- JSON form (`sky check -o json`, v0.12+) ----

// findCheckJSON finds the JSON object `sky check -o json` prints: workspace name → enabled
// cloud display name → capabilities, e.g. {"default": {"AWS": ["compute", "storage"]}}.
// Disabled clouds are absent from it, so no reasons are known.
func findCheckJSON(lines []string) (CheckResult, bool) {
	attempts := 0
	for i, line := range lines {
		if !strings.HasPrefix(strings.TrimSpace(line), "{") {
			continue
		}
		if attempts++; attempts > maxJSONAttempts {
			break
		}
		var doc map[string]any
		if !decodeRest(lines[i:], &doc) {
			continue
		}
		acc := newCheckAccumulator()
		for _, workspace := range doc {
			acc.readJSONWorkspace(workspace)
		}
		return acc.result(), true
	}
	return CheckResult{}, false
}

// readJSONWorkspace reads one workspace's clouds: a map from cloud to capabilities, or
// (as the SDK returned it before capabilities were added) a list of enabled cloud names.
// A list of cloud records under any key is read too, so a wrapper object also works.
func (a *checkAccumulator) readJSONWorkspace(workspace any) {
	switch clouds := workspace.(type) {
	case map[string]any:
		for cloud, caps := range clouds {
			name := CloudRegistryName(cloud)
			if list, ok := caps.([]any); ok && len(list) > 0 && name != "" {
				a.enabled[name] = true
			}
		}
	case []any:
		for _, item := range clouds {
			a.readJSONCloud(item)
		}
	}
}

// readJSONCloud reads one entry of a list of clouds: a name, or a record with "cloud",
// "enabled" and "reason" fields.
func (a *checkAccumulator) readJSONCloud(item any) {
	switch cloud := item.(type) {
	case string:
		if name := CloudRegistryName(cloud); name != "" {
			a.enabled[name] = true
		}
	case map[string]any:
		name := CloudRegistryName(jsonString(cloud, "cloud"))
		if name == "" {
			return
		}
		if enabled, _ := cloud["enabled"].(bool); enabled {
			a.enabled[name] = true
		} else {
			a.disabled[name] = joinReasons([]string{jsonString(cloud, "reason")})
		}
	}
}
