package core

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// knownClouds are SkyPilot's compute cloud registry names (task_yaml.md §3), plus the
// alias k8s. Storage-only names (cloudflare, coreweave, vastdata) cannot run a cluster.
var knownClouds = []string{
	"aws", "azure", "cudo", "do", "fluidstack", "gcp", "hyperbolic", "ibm", "k8s", "kubernetes",
	"lambda", "mithril", "nebius", "oci", "paperspace", "primeintellect", "runpod", "scp",
	"seeweb", "shadeform", "slurm", "ssh", "vast", "verda", "vsphere", "yotta",
}

// KnownClouds returns the cloud names a launch may ask for.
func KnownClouds() []string { return slices.Clone(knownClouds) }

var (
	identifierRE = lazyRegexp(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	envNameRE    = lazyRegexp(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
	portRE       = lazyRegexp(`^[0-9]{1,5}(-[0-9]{1,5})?$`)
)

// ValidateLaunch checks a launch request and returns it normalised (k8s → kubernetes).
// Its errors are KindInvalid keyed by the request field ("body.cloud", ...).
func ValidateLaunch(req LaunchRequest) (LaunchRequest, error) {
	if req.Cloud != "" {
		if !slices.Contains(knownClouds, req.Cloud) {
			return req, Errorf(KindInvalid, "body.cloud", "unknown cloud %q: use one of %s", truncate(req.Cloud, 64), strings.Join(knownClouds, ", "))
		}
		if req.Cloud == "k8s" {
			req.Cloud = "kubernetes"
		}
	}
	if req.Region != "" && !identifierRE().MatchString(req.Region) {
		return req, Errorf(KindInvalid, "body.region", "region must match %s", identifierRE())
	}
	if req.InstanceType != "" && !identifierRE().MatchString(req.InstanceType) {
		return req, Errorf(KindInvalid, "body.instance_type", "instance_type must match %s", identifierRE())
	}
	return req, nil
}

// SkyPilotConfig is everything the task YAML is made from: the operator's task template
// (read from --config) with the request's fields laid over its defaults.
type SkyPilotConfig struct {
	Name            string            `yaml:"name" json:"name,omitempty"`
	Cloud           string            `yaml:"cloud" json:"cloud,omitempty"`
	Region          string            `yaml:"region" json:"region,omitempty"`
	InstanceType    string            `yaml:"instance_type" json:"instance_type,omitempty"`
	DiskSize        int               `yaml:"disk_size" json:"disk_size,omitempty"`
	ImageID         string            `yaml:"image_id" json:"image_id,omitempty"`
	Ports           []string          `yaml:"ports" json:"ports,omitempty"`
	AutostopMinutes int               `yaml:"autostop_minutes" json:"autostop_minutes,omitempty"`
	Envs            map[string]string `yaml:"envs" json:"envs,omitempty"`
	Setup           string            `yaml:"setup" json:"setup,omitempty"`
	Run             string            `yaml:"run" json:"run,omitempty"`
}

// WithRequest lays the request's fields over the template's defaults.
func (c SkyPilotConfig) WithRequest(req LaunchRequest) SkyPilotConfig {
	if req.Cloud != "" {
		if req.Cloud != c.Cloud {
			// The template's region, instance type and image belong to its own cloud.
			c.Region, c.InstanceType, c.ImageID = "", "", ""
		}
		c.Cloud = req.Cloud
	}
	if req.Region != "" {
		c.Region = req.Region
	}
	if req.InstanceType != "" {
		c.InstanceType = req.InstanceType
	}
	return c
}

// Defaults returns the template's cloud, region and instance type as a launch request.
func (c SkyPilotConfig) Defaults() LaunchRequest {
	return LaunchRequest{Cloud: c.Cloud, Region: c.Region, InstanceType: c.InstanceType}
}

// Validate checks the whole configuration: the launch fields as ValidateLaunch does, and
// the template's own fields. Errors are KindInvalid keyed by the field.
func (c SkyPilotConfig) Validate() error {
	if _, err := ValidateLaunch(c.Defaults()); err != nil {
		return err
	}
	if c.Name != "" && !identifierRE().MatchString(c.Name) {
		return Errorf(KindInvalid, "name", "name must match %s", identifierRE())
	}
	if c.DiskSize < 0 || c.DiskSize > 65536 {
		return Errorf(KindInvalid, "disk_size", "disk_size must be between 1 and 65536 GB")
	}
	if c.AutostopMinutes < 0 {
		return Errorf(KindInvalid, "autostop_minutes", "autostop_minutes must not be negative")
	}
	if c.ImageID != "" && (len(c.ImageID) > 512 || strings.ContainsAny(c.ImageID, "\r\n")) {
		return Errorf(KindInvalid, "image_id", "image_id must be one line of at most 512 bytes")
	}
	for _, p := range c.Ports {
		if !portRE().MatchString(p) {
			return Errorf(KindInvalid, "ports", "port %q must be a number or a range like 8000-8010", truncate(p, 32))
		}
	}
	for k := range c.Envs {
		if !envNameRE().MatchString(k) {
			return Errorf(KindInvalid, "envs", "env name %q is not a valid variable name", truncate(k, 64))
		}
	}
	return nil
}

// GenerateYAML emits the SkyPilot task YAML for config. Every string is written as a
// double-quoted scalar (a JSON string literal is one), so no value can add or change keys.
// For sky >= 0.10 the placement is `resources.infra: cloud/region`; for older or unknown
// versions the `cloud`/`region` keys every version understands.
func GenerateYAML(config SkyPilotConfig, skyVersion Version) (string, error) {
	if err := config.Validate(); err != nil {
		return "", err
	}
	if config.Cloud == "k8s" {
		config.Cloud = "kubernetes"
	}
	var b strings.Builder
	if config.Name != "" {
		b.WriteString("name: " + quote(config.Name) + "\n")
	}
	resources := resourceLines(config, skyVersion)
	if len(resources) > 0 {
		b.WriteString("resources:\n")
		for _, l := range resources {
			b.WriteString("  " + l + "\n")
		}
	}
	if len(config.Envs) > 0 {
		b.WriteString("envs:\n")
		keys := make([]string, 0, len(config.Envs))
		for k := range config.Envs {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			b.WriteString("  " + quote(k) + ": " + quote(config.Envs[k]) + "\n")
		}
	}
	if config.Setup != "" {
		b.WriteString("setup: " + quote(config.Setup) + "\n")
	}
	if config.Run != "" {
		b.WriteString("run: " + quote(config.Run) + "\n")
	}
	return b.String(), nil
}

func resourceLines(c SkyPilotConfig, v Version) []string {
	var lines []string
	if v.HasInfra() {
		if infra := infraString(c.Cloud, c.Region); infra != "" {
			lines = append(lines, "infra: "+quote(infra))
		}
	} else {
		if c.Cloud != "" {
			lines = append(lines, "cloud: "+quote(c.Cloud))
		}
		if c.Region != "" {
			lines = append(lines, "region: "+quote(c.Region))
		}
	}
	if c.InstanceType != "" {
		lines = append(lines, "instance_type: "+quote(c.InstanceType))
	}
	if c.DiskSize > 0 {
		lines = append(lines, "disk_size: "+strconv.Itoa(c.DiskSize))
	}
	if c.ImageID != "" {
		lines = append(lines, "image_id: "+quote(c.ImageID))
	}
	if len(c.Ports) > 0 {
		lines = append(lines, "ports:")
		for _, p := range c.Ports {
			lines = append(lines, "  - "+quote(p))
		}
	}
	// resources.autostop exists from 0.10 on; older versions only take it on the command line.
	if c.AutostopMinutes > 0 && v.HasInfra() {
		lines = append(lines, "autostop: "+strconv.Itoa(c.AutostopMinutes))
	}
	return lines
}

// infraString is the `infra` value: "cloud/region", "cloud", or "*/region" (any cloud).
func infraString(cloud, region string) string {
	switch {
	case cloud != "" && region != "":
		return cloud + "/" + region
	case cloud != "":
		return cloud
	case region != "":
		return "*/" + region
	}
	return ""
}

// quote writes s as a YAML double-quoted scalar that is also a JSON string literal: quote
// and backslash escaped, every character outside YAML's printable set written as \uXXXX,
// and each invalid UTF-8 byte as \uFFFD.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case yamlPrintable(r) && r != utf8.RuneError:
			b.WriteRune(r)
		default:
			fmt.Fprintf(&b, "\\u%04X", r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// yamlPrintable is YAML 1.2's c-printable less the line breaks and tab, which are escaped
// so that every scalar stays on one line.
func yamlPrintable(r rune) bool {
	return (r >= 0x20 && r <= 0x7E) || (r >= 0xA0 && r <= 0xD7FF) ||
		(r >= 0xE000 && r <= 0xFFFD && r != 0xFEFF) || (r >= 0x10000 && r <= 0x10FFFF)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return CapLine(s[:n]) + "…"
}
