package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

const installDocsURL = "https://docs.skypilot.co/en/latest/getting-started/installation.html"

// check implements `sky check [-o json] [CLOUD...]` in the style of the
// emulated version:
//   - ≤0.7: "Checking AWS..." overwritten with \r and padded, plain text,
//     "🎉 Enabled clouds 🎉" with ✔ marks;
//   - 0.8/0.9: capabilities per cloud, ANSI forced on, "Enabled clouds";
//   - 0.10+: "infra" wording, summary before the footer;
//   - 0.12: -o json prints {workspace: {cloud: [capabilities]}} only.
func (s *session) check(inv *invocation) int {
	clouds, code, failed := s.cloudsToCheck(inv.args)
	if failed {
		return code
	}
	if err := s.announceAPIServer(); err != nil {
		return internalError(err)
	}
	enabled := map[string]bool{}
	for _, k := range s.enabledClouds() {
		enabled[k] = true
	}
	v := s.cfg.version
	switch {
	case strings.EqualFold(inv.value("output"), "json"):
		return s.checkJSON(clouds, enabled)
	case !v.hasAPIServer():
		s.checkLocalEra(clouds, enabled)
	default:
		s.checkCapabilityEra(clouds, enabled)
	}
	return 0
}

// cloudsToCheck resolves the optional cloud arguments (sorted by display
// name, like the real check), rejecting unknown names as upstream does.
func (s *session) cloudsToCheck(args []string) ([]cloudInfo, int, bool) {
	var selected []cloudInfo
	if len(args) == 0 {
		selected = append(selected, checkedClouds...)
	}
	for _, a := range args {
		c, ok := lookupCloud(canonicalCloud(a))
		if !ok {
			var all []string
			for _, k := range checkedClouds {
				all = append(all, k.key)
			}
			sort.Strings(all)
			return nil, raise("ValueError", fmt.Sprintf("Cloud %s is not a valid cloud among %s",
				pyRepr(a), pyList(all))), true
		}
		selected = append(selected, c)
	}
	sort.SliceStable(selected, func(i, j int) bool { return selected[i].display < selected[j].display })
	return selected, 0, false
}

// checkLocalEra prints the pre-API-server format. The CLI echoes locally,
// so click strips colours on a pipe, but the \r overwrite and padding stay.
func (s *session) checkLocalEra(clouds []cloudInfo, enabled map[string]bool) {
	outln("Checking credentials to enable clouds for SkyPilot.")
	var enabledNames []string
	for _, c := range clouds {
		name := c.display
		if c.key == "cloudflare" {
			name = "Cloudflare, for R2 object store"
		}
		state := "disabled"
		if enabled[c.key] {
			state = "enabled"
		}
		fmt.Printf("  Checking %s...\r  %s: %s%s\n", name, name, state, strings.Repeat(" ", 30))
		if enabled[c.key] {
			enabledNames = append(enabledNames, name)
		} else {
			outln("    Reason: " + c.reason)
		}
	}
	var computeEnabled []string
	for _, n := range enabledNames {
		if !strings.HasPrefix(n, "Cloudflare") {
			computeEnabled = append(computeEnabled, n)
		}
	}
	if len(computeEnabled) == 0 {
		outln("No cloud is enabled. SkyPilot will not be able to run any task. Run `sky check` for more info.")
		return
	}
	outln("\nTo enable a cloud, follow the hints above and rerun: sky check\n" +
		"If any problems remain, refer to detailed docs at: " + installDocsURL)
	sort.Strings(computeEnabled)
	outln("\n🎉 Enabled clouds 🎉")
	for _, n := range computeEnabled {
		outln("  ✔ " + n)
	}
}

// checkCapabilityEra prints the API-server formats (0.8+). The check runs
// on the server with click.echo(color=True), so ANSI codes are always on;
// the client then adds the server URL line.
func (s *session) checkCapabilityEra(clouds []cloudInfo, enabled map[string]bool) {
	infraEra := s.cfg.version.hasInfra()
	if infraEra {
		outln("Checking credentials to enable infra for SkyPilot.")
	} else {
		outln("Checking credentials to enable clouds for SkyPilot.")
	}
	var summary []string
	for _, c := range clouds {
		caps := strings.Join(c.capabilities, ", ")
		if !enabled[c.key] {
			line := ansiDim + "  " + c.display + ": disabled " + ansiReset
			if infraEra {
				line += ansiReset
			}
			outln(line)
			outln(fmt.Sprintf("    Reason [%s]: %s", caps, c.reason))
			continue
		}
		line := ansiGreen + ansiNormal + "  " + c.display + ": enabled [" + caps + "]" + ansiReset
		entry := ansiGreen + c.display + " [" + caps + "]" + ansiReset
		if infraEra {
			if c.key == "kubernetes" {
				line += "\n    Allowed contexts:\n    " + indentLastSymbol + c.defaultRegion + ": enabled."
				entry += "\n    Allowed contexts:\n    " + indentLastSymbol + c.defaultRegion
			}
			line += ansiReset
		}
		outln(line)
		summary = append(summary, entry)
	}
	footer := ansiDim + "\nTo enable a cloud, follow the hints above and rerun: " + ansiReset +
		ansiBright + "sky check" + ansiReset + "\n" +
		ansiDim + "If any problems remain, refer to detailed docs at: " + installDocsURL + ansiReset
	if infraEra {
		body := "\n  No infra to check/enabled."
		if len(summary) > 0 {
			body = "\n  " + strings.Join(summary, "\n  ")
		}
		outln("\n" + ansiGreen + "🎉 Enabled infra 🎉" + ansiReset + body)
		outln(footer)
	} else {
		var compute []string
		for _, e := range summary {
			if !strings.Contains(e, "Cloudflare") {
				compute = append(compute, e)
			}
		}
		if len(compute) == 0 {
			outln(ansiRed + ansiBright + "No cloud is enabled. SkyPilot will not be able to run any task. Run `sky check` for more info." + ansiReset)
		} else {
			outln(footer)
			outln("\n" + ansiGreen + "🎉 Enabled clouds 🎉" + ansiReset + "\n  " + strings.Join(summary, "\n  "))
		}
	}
	outln("\nUsing SkyPilot API server: " + apiServerURL)
}

// checkJSON prints the v0.12 `sky check -o json` result: the return value of
// sky.check.check(), a dict workspace -> enabled cloud -> capabilities, in
// the order the clouds were checked (registry order). Streamed text is
// suppressed.
func (s *session) checkJSON(clouds []cloudInfo, enabled map[string]bool) int {
	ordered := append([]cloudInfo(nil), clouds...)
	sort.SliceStable(ordered, func(i, j int) bool {
		return registryIndex(ordered[i].key) < registryIndex(ordered[j].key)
	})
	var entries []string
	for _, c := range ordered {
		if !enabled[c.key] {
			continue
		}
		caps := make([]string, len(c.capabilities))
		for i, cp := range c.capabilities {
			caps[i] = "      " + jsonString(cp)
		}
		entries = append(entries, "    "+jsonString(c.display)+": [\n"+strings.Join(caps, ",\n")+"\n    ]")
	}
	body := "{}"
	if len(entries) > 0 {
		body = "{\n" + strings.Join(entries, ",\n") + "\n  }"
	}
	outln("{\n  \"default\": " + body + "\n}")
	return 0
}

func registryIndex(key string) int {
	for i, c := range checkedClouds {
		if c.key == key {
			return i
		}
	}
	return len(checkedClouds)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// pyList renders a Python list of strings: ['aws', 'gcp'].
func pyList(items []string) string {
	quoted := make([]string, len(items))
	for i, it := range items {
		quoted[i] = pyRepr(it)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}
