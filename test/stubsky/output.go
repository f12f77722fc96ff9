package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// ANSI codes as colorama/click emit them. Text produced on the real API
// server keeps them even when piped; text the client prints with click.echo
// is stripped on a non-TTY, so the stub omits codes there.
const (
	ansiReset  = "\x1b[0m"
	ansiBright = "\x1b[1m"
	ansiDim    = "\x1b[2m"
	ansiNormal = "\x1b[22m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiLightY = "\x1b[93m"
)

// Tree symbols of ux_utils (dim, as the server prints them).
const (
	indentSymbol     = ansiDim + "├── " + ansiReset
	indentLastSymbol = ansiDim + "└── " + ansiReset
)

const apiServerURL = "http://127.0.0.1:46580"

func outln(s string) { fmt.Fprintln(os.Stdout, s) }
func errln(s string) { fmt.Fprintln(os.Stderr, s) }

// raise prints an exception the way SkyPilot does under
// print_exception_no_traceback (`module.Type: message` on stderr) and
// returns exit code 1.
func raise(exceptionType, message string) int {
	errln(exceptionType + ": " + message)
	return 1
}

// startingMessage, finishingMessage and errorMessage follow ux_utils.
func startingMessage(msg string) string { return ansiReset + "⚙︎ " + msg }

func finishingMessage(msg string) string {
	return ansiReset + ansiGreen + "✓ " + msg + ansiReset + ansiReset
}

func errorMessage(msg string) string {
	return ansiReset + ansiRed + "⨯" + ansiReset + " " + msg
}

// announceAPIServer prints the lines of the real CLI's automatic local API
// server start on the first call after a fresh state (v0.8+).
func (s *session) announceAPIServer() error {
	if !s.cfg.version.hasAPIServer() {
		return nil
	}
	first, err := store{s.cfg.home}.claimAPIServerStart()
	if err != nil || !first {
		return err
	}
	outln(ansiDim + "Failed to connect to SkyPilot API server at " + apiServerURL +
		". Starting a local server." + ansiReset)
	outln(finishingMessage("SkyPilot API server started. "))
	return nil
}

// table renders like prettytable as configured by log_utils.create_table:
// no border, left aligned, no left padding and two spaces of right padding
// on every cell including the last (so lines end in spaces). With framed
// set it adds the optimizer's dashed frame (hrules=FRAME, vrules=NONE),
// where each vertical rule becomes a space.
type table struct {
	header []string
	rows   [][]string
	framed bool
}

var ansiPattern = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// cellWidth ignores ANSI codes, as prettytable does.
func cellWidth(s string) int {
	return utf8.RuneCountInString(ansiPattern.ReplaceAllString(s, ""))
}

func (t *table) String() string {
	widths := make([]int, len(t.header))
	for _, row := range append([][]string{t.header}, t.rows...) {
		for i, cell := range row {
			widths[i] = max(widths[i], cellWidth(cell))
		}
	}
	line := func(cells []string) string {
		var b strings.Builder
		if t.framed {
			b.WriteString(" ")
		}
		for i, cell := range cells {
			b.WriteString(cell)
			b.WriteString(strings.Repeat(" ", widths[i]-cellWidth(cell)+2))
			if t.framed {
				b.WriteString(" ")
			}
		}
		return b.String()
	}
	var lines []string
	rule := ""
	if t.framed {
		rule = strings.Repeat("-", cellWidth(line(t.header)))
		lines = append(lines, rule)
	}
	lines = append(lines, line(t.header))
	if t.framed {
		lines = append(lines, rule)
	}
	for _, row := range t.rows {
		lines = append(lines, line(row))
	}
	if t.framed {
		lines = append(lines, rule)
	}
	return strings.Join(lines, "\n")
}

// timeAgo mirrors log_utils.readable_time_duration: pendulum's
// diff_for_humans with second→sec, minute→min, hour→hr.
func timeAgo(then, now time.Time) string {
	d := now.Sub(then)
	if d < time.Second {
		return "< 1 second"
	}
	secs := int(d.Seconds())
	unit := func(n int, name string) string {
		if n == 1 {
			return fmt.Sprintf("1 %s ago", name)
		}
		return fmt.Sprintf("%d %ss ago", n, name)
	}
	switch {
	case secs < 10:
		return "a few secs ago"
	case secs < 60:
		return unit(secs, "sec")
	case secs < 3600:
		return unit(secs/60, "min")
	case secs < 86400:
		return unit(secs/3600, "hr")
	case secs < 7*86400:
		return unit(secs/86400, "day")
	case secs < 30*86400:
		return unit(secs/(7*86400), "week")
	default:
		return unit(secs/(30*86400), "month")
	}
}

// truncateLongString mirrors common_utils.truncate_long_string: cut at a
// word boundary near maxLength and append "...".
func truncateLongString(s string, maxLength int) string {
	if len(s) <= maxLength {
		return s
	}
	splits := strings.Split(s, " ")
	if len(splits[0]) > maxLength {
		return splits[0][:maxLength] + "..."
	}
	i, total := 0, 0
	for i = range splits {
		total += len(splits[i])
		if total >= maxLength {
			break
		}
	}
	prefix := strings.Join(splits[:i], " ")
	if len(prefix) < maxLength {
		prefix += s[len(prefix):maxLength]
	}
	return prefix + "..."
}

// oldResources is the ≤0.9 RESOURCES cell: 1x AWS(m6i.large) or
// 1x AWS(p4d.24xlarge, {'A100': 8}).
func oldResources(cloud, instanceType string) string {
	inner := instanceType
	if acc := specFor(instanceType).acceleratorRepr(); acc != "" {
		inner += ", " + acc
	}
	return fmt.Sprintf("1x %s(%s)", displayName(cloud), inner)
}

// newResources returns the v0.10+ simplified and full resource strings of
// resources_utils.format_resource: 1x(cpus=2, mem=8, m6i.large, ...).
func newResources(cloud, instanceType string) (simple, full string) {
	spec := specFor(instanceType)
	var elemsSimple, elemsFull []string
	isK8s := cloud == "kubernetes"
	if spec.accName != "" {
		gpu := fmt.Sprintf("gpus=%s:%d", spec.accName, spec.accCount)
		elemsSimple = append(elemsSimple, gpu)
		elemsFull = append(elemsFull, gpu)
	}
	cpuMem := []string{"cpus=" + formatFloat(spec.vcpus), "mem=" + formatFloat(spec.memGB)}
	if spec.accName == "" || isK8s {
		elemsSimple = append(elemsSimple, cpuMem...)
	}
	elemsFull = append(elemsFull, cpuMem...)
	if !isK8s {
		elemsSimple = append(elemsSimple, truncateLongString(instanceType, 15))
		elemsFull = append(elemsFull, instanceType)
	}
	elemsSimple = append(elemsSimple, "...")
	elemsFull = append(elemsFull, "disk=256")
	return "1x(" + strings.Join(elemsSimple, ", ") + ")", "1x(" + strings.Join(elemsFull, ", ") + ")"
}

// infraCell is InfraInfo.formatted_str: "AWS (us-east-1)".
func infraCell(cloud, region string) string {
	if region == "" {
		return displayName(cloud)
	}
	return fmt.Sprintf("%s (%s)", displayName(cloud), region)
}

// statusTable renders the clusters table of the emulated era.
func (s *session) statusTable(clusters []*cluster, now time.Time) string {
	t := &table{}
	if s.cfg.version.hasInfra() {
		t.header = []string{"NAME", "INFRA", "RESOURCES", "STATUS", "AUTOSTOP", "LAUNCHED"}
		for _, c := range clusters {
			simple, _ := newResources(c.Cloud, c.InstanceType)
			t.rows = append(t.rows, []string{c.Name, infraCell(c.Cloud, c.Region), simple,
				c.Status, "-", timeAgo(c.LaunchedAt, now)})
		}
		return t.String()
	}
	t.header = []string{"NAME", "LAUNCHED", "RESOURCES", "STATUS", "AUTOSTOP", "COMMAND"}
	for _, c := range clusters {
		t.rows = append(t.rows, []string{c.Name, timeAgo(c.LaunchedAt, now),
			truncateLongString(oldResources(c.Cloud, c.InstanceType), 70),
			c.Status, "-", truncateLongString(c.LastUse, 25)})
	}
	return t.String()
}

// statusRecord is one element of `sky status -o json` (v0.12): the
// StatusResponse pydantic model dumped with mode='json', excluding
// `handle` and `credentials`, fields in model order. Fields the server
// omits from summary responses (the default without -v) are null.
type statusRecord struct {
	Name               string            `json:"name"`
	LaunchedAt         int64             `json:"launched_at"`
	LastUse            *string           `json:"last_use"`
	Status             string            `json:"status"`
	Autostop           int               `json:"autostop"`
	ToDown             bool              `json:"to_down"`
	Owner              []string          `json:"owner"`
	Metadata           map[string]any    `json:"metadata"`
	ClusterHash        string            `json:"cluster_hash"`
	ClusterEverUp      bool              `json:"cluster_ever_up"`
	StatusUpdatedAt    *int64            `json:"status_updated_at"`
	UserHash           string            `json:"user_hash"`
	UserName           string            `json:"user_name"`
	ConfigHash         *string           `json:"config_hash"`
	Workspace          string            `json:"workspace"`
	LastCreationYAML   *string           `json:"last_creation_yaml"`
	LastCreationCmd    *string           `json:"last_creation_command"`
	IsManaged          bool              `json:"is_managed"`
	LastEvent          *string           `json:"last_event"`
	ResourcesStr       string            `json:"resources_str"`
	ResourcesStrFull   string            `json:"resources_str_full"`
	Nodes              int               `json:"nodes"`
	Cloud              string            `json:"cloud"`
	Region             string            `json:"region"`
	CPUs               string            `json:"cpus"`
	Memory             string            `json:"memory"`
	Accelerators       *string           `json:"accelerators"`
	Labels             map[string]string `json:"labels"`
	ClusterNameOnCloud *string           `json:"cluster_name_on_cloud"`
	NodeNames          *string           `json:"node_names"`
}

func newStatusRecord(c *cluster) statusRecord {
	spec := specFor(c.InstanceType)
	simple, full := newResources(c.Cloud, c.InstanceType)
	var acc *string
	if r := spec.acceleratorRepr(); r != "" {
		acc = &r
	}
	user := localUser()
	return statusRecord{
		Name:             c.Name,
		LaunchedAt:       c.LaunchedAt.Unix(),
		Status:           c.Status,
		Autostop:         -1,
		ClusterHash:      c.ClusterHash,
		ClusterEverUp:    c.EverUp,
		UserHash:         userHash(user),
		UserName:         user,
		Workspace:        "default",
		ResourcesStr:     simple,
		ResourcesStrFull: full,
		Nodes:            1,
		Cloud:            displayName(c.Cloud),
		Region:           c.Region,
		// Resources.cpus/memory are str() of the catalog's floats.
		CPUs:   fmt.Sprintf("%.1f", spec.vcpus),
		Memory: fmt.Sprintf("%.1f", spec.memGB),
		Labels: map[string]string{},
		// Accelerators is str() of the dict, e.g. "{'A100': 8}".
		Accelerators: acc,
	}
}

// writeJSON prints v like Python's json.dumps(v, indent=2).
func writeJSON(v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := os.Stdout.Write(buf.Bytes())
	return err
}

func localUser() string {
	for _, k := range []string{"USER", "LOGNAME"} {
		if u := os.Getenv(k); u != "" {
			return u
		}
	}
	return "root"
}

// userHash is the 8-hex-digit user hash SkyPilot derives per user.
func userHash(user string) string {
	return newStableHex("user "+user, 8)
}

func newStableHex(seed string, n int) string {
	h := uint64(14695981039346656037)
	for i := 0; i < len(seed); i++ {
		h ^= uint64(seed[i])
		h *= 1099511628211
	}
	return fmt.Sprintf("%016x", h)[:n]
}
