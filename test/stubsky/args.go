package main

import (
	"fmt"
	"os"
	"strings"
)

// This file parses command lines the way click does for the few options the
// stub supports, and prints click's usage errors (stderr, exit 2) for
// everything else.

const topUsage = "Usage: sky [OPTIONS] COMMAND [ARGS]..."

// option is one click option. names lists its spellings, long first, the
// way click reports them ("'--output' / '-o'").
type option struct {
	key     string
	names   []string
	value   bool     // takes a value
	choices []string // allowed values, if restricted
}

type commandSpec struct {
	name    string
	usage   string
	options []option
}

// commandSpecs returns the supported commands with the options of the
// emulated version; `-o/--output` only exists from v0.12.
func commandSpecs(v version) map[string]commandSpec {
	help := option{key: "help", names: []string{"--help", "-h"}}
	yes := option{key: "yes", names: []string{"--yes", "-y"}}
	output := option{key: "output", names: []string{"--output", "-o"}, value: true,
		choices: []string{"table", "json"}}

	status := []option{help,
		{key: "refresh", names: []string{"--refresh", "-r"}},
		{key: "ip", names: []string{"--ip"}},
	}
	check := []option{help}
	if v.hasJSONOutput() {
		status = append(status, output)
		check = append(check, output)
	}
	checkArgs := "[CLOUDS]..."
	if v.hasInfra() {
		checkArgs = "[INFRA_LIST]..."
	}
	clusterCommand := func(name string) commandSpec {
		return commandSpec{name: name,
			usage:   fmt.Sprintf("Usage: sky %s [OPTIONS] [CLUSTERS]...", name),
			options: []option{help, yes}}
	}
	return map[string]commandSpec{
		"status": {name: "status", usage: "Usage: sky status [OPTIONS] [CLUSTERS]...", options: status},
		"check":  {name: "check", usage: "Usage: sky check [OPTIONS] " + checkArgs, options: check},
		"launch": {name: "launch", usage: "Usage: sky launch [OPTIONS] [ENTRYPOINT]...",
			options: []option{help, yes,
				{key: "cluster", names: []string{"--cluster", "-c"}, value: true},
				{key: "detach_run", names: []string{"--detach-run", "-d"}},
				// Autostop flags are accepted, as the real CLI does; the stub does not
				// model autostop itself.
				{key: "idle_minutes_to_autostop", names: []string{"--idle-minutes-to-autostop", "-i"}, value: true},
				{key: "down", names: []string{"--down"}},
			}},
		"start": clusterCommand("start"),
		"stop":  clusterCommand("stop"),
		"down":  clusterCommand("down"),
	}
}

// invocation is a parsed command line.
type invocation struct {
	spec   commandSpec
	flags  map[string]bool
	values map[string]string
	args   []string
}

func (inv *invocation) flag(key string) bool    { return inv.flags[key] }
func (inv *invocation) value(key string) string { return inv.values[key] }

// parseCommandLine parses args for spec. On a usage error it has already
// printed the error; failed is then true and code is the exit code.
func parseCommandLine(spec commandSpec, args []string) (inv *invocation, code int, failed bool) {
	inv = &invocation{spec: spec, flags: map[string]bool{}, values: map[string]string{}}
	fail := func(msg string) (*invocation, int, bool) {
		return nil, usageError(spec.usage, "sky "+spec.name, msg), true
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			inv.args = append(inv.args, args[i+1:]...)
			return inv, 0, false
		case strings.HasPrefix(a, "--"):
			name, attached, hasAttached := strings.Cut(a, "=")
			opt, ok := spec.lookup(name)
			if !ok {
				return fail(fmt.Sprintf("No such option: %s", name))
			}
			if !opt.value {
				if hasAttached {
					return fail(fmt.Sprintf("Option '%s' does not take a value.", name))
				}
				inv.flags[opt.key] = true
				continue
			}
			val := attached
			if !hasAttached {
				if i+1 >= len(args) {
					return fail(fmt.Sprintf("Option '%s' requires an argument.", name))
				}
				i++
				val = args[i]
			}
			if msg := opt.checkChoice(val); msg != "" {
				return fail(msg)
			}
			inv.values[opt.key] = val
		case strings.HasPrefix(a, "-") && len(a) > 1:
			// Short options may be combined (-yd) or carry a value (-cfoo).
			for j := 1; j < len(a); j++ {
				name := "-" + a[j:j+1]
				opt, ok := spec.lookup(name)
				if !ok {
					return fail(fmt.Sprintf("No such option: %s", name))
				}
				if !opt.value {
					inv.flags[opt.key] = true
					continue
				}
				val := a[j+1:]
				if val == "" {
					if i+1 >= len(args) {
						return fail(fmt.Sprintf("Option '%s' requires an argument.", name))
					}
					i++
					val = args[i]
				}
				if msg := opt.checkChoice(val); msg != "" {
					return fail(msg)
				}
				inv.values[opt.key] = val
				break
			}
		default:
			inv.args = append(inv.args, a)
		}
	}
	return inv, 0, false
}

func (spec commandSpec) lookup(name string) (option, bool) {
	for _, o := range spec.options {
		if contains(o.names, name) {
			return o, true
		}
	}
	return option{}, false
}

// checkChoice returns click's "Invalid value" message, or "" if val is fine.
func (o option) checkChoice(val string) string {
	if o.choices == nil {
		return ""
	}
	for _, c := range o.choices {
		if strings.EqualFold(c, val) {
			return ""
		}
	}
	quotedNames := make([]string, len(o.names))
	for i, n := range o.names {
		quotedNames[i] = "'" + n + "'"
	}
	quotedChoices := make([]string, len(o.choices))
	for i, c := range o.choices {
		quotedChoices[i] = "'" + c + "'"
	}
	return fmt.Sprintf("Invalid value for %s: '%s' is not one of %s.",
		strings.Join(quotedNames, " / "), val, strings.Join(quotedChoices, ", "))
}

// usageError prints a click UsageError and returns its exit code (2).
func usageError(usage, helpCommand, msg string) int {
	fmt.Fprintf(os.Stderr, "%s\nTry '%s -h' for help.\n\nError: %s\n", usage, helpCommand, msg)
	return 2
}

// optionName trims an attached "=value" the way click reports unknown options.
func optionName(arg string) string {
	name, _, _ := strings.Cut(arg, "=")
	if !strings.HasPrefix(name, "--") && len(name) > 2 {
		return name[:2]
	}
	return name
}

// pyRepr quotes s like Python's repr() of a str, as used in many messages.
func pyRepr(s string) string {
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		return `"` + s + `"`
	}
	return "'" + strings.ReplaceAll(s, "'", `\'`) + "'"
}
