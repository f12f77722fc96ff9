package main

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"time"
)

// Message template of the real CLI for --ip with a wrong cluster count.
const ipUsageHint = "\nUsage: `sky status --ip <cluster>`"

// status implements `sky status [--refresh] [--ip] [-o json] [NAME...]`.
func (s *session) status(inv *invocation) int {
	v := s.cfg.version
	names := inv.args
	if inv.flag("ip") {
		if inv.flag("refresh") {
			// Missing space in "notsupported" is in the real message.
			return usageError(inv.spec.usage, "sky status",
				"Using --ip or --endpoint(s) with --refresh is not"+
					"supported for now. To fix, refresh first, then query the IP or endpoint.")
		}
		switch {
		case len(names) == 0:
			return raise("ValueError", "No cluster specified. Please specify an existing cluster to show its IP address."+ipUsageHint)
		case len(names) > 1:
			return raise("ValueError", fmt.Sprintf("%d clusters specified. Please specify a single cluster to show its IP address.", len(names))+ipUsageHint)
		}
	}
	if err := s.announceAPIServer(); err != nil {
		return internalError(err)
	}
	if inv.flag("refresh") {
		// Refreshing queries the clouds and is noticeably slower.
		s.pause(1)
	}
	st, err := store{s.cfg.home}.read()
	if err != nil {
		return internalError(err)
	}
	now := time.Now()
	selected, notFound := selectClusters(st.Clusters, names)

	if strings.EqualFold(inv.value("output"), "json") {
		// JSON mode returns before --ip handling, as upstream does.
		records := make([]statusRecord, 0, len(selected))
		for _, c := range selected {
			records = append(records, newStatusRecord(c))
		}
		if err := writeJSON(records); err != nil {
			return internalError(err)
		}
		return 0
	}

	if inv.flag("ip") {
		if len(selected) == 0 {
			return raise("ValueError", fmt.Sprintf("%s cluster not found. Please specify a single cluster to show its IP address.", pyRepr(names[0]))+ipUsageHint)
		}
		c := selected[0]
		if c.Status != statusUp {
			return raise("RuntimeError", fmt.Sprintf("Cluster %s is not in UP status.", pyRepr(c.Name)))
		}
		outln(c.IP)
		return 0
	}

	if v.hasInfra() {
		outln("Enabled Infra: " + strings.Join(s.enabledInfra(), ", ") + "\n")
	}
	outln("Clusters")
	if !v.hasAPIServer() {
		// ≤0.7: the glob matcher reports each miss, then the (empty) table
		// says there is nothing.
		for _, n := range notFound {
			outln(fmt.Sprintf("Cluster %s not found.", n))
		}
		if len(selected) == 0 {
			outln("No existing clusters.")
		}
	}
	if len(selected) > 0 {
		outln(s.statusTable(selected, now))
	}
	if v.hasAPIServer() {
		switch {
		case len(notFound) > 0:
			quoted := make([]string, len(notFound))
			for i, n := range notFound {
				quoted[i] = pyRepr(n)
			}
			noun := "Cluster"
			if len(quoted) > 1 {
				noun = "Clusters"
			}
			outln(fmt.Sprintf("%s %s not found.", noun, strings.Join(quoted, ", ")))
		case len(names) == 0 && len(selected) == 0:
			outln("No existing clusters.")
		}
	}
	if len(names) == 0 {
		// The jobs and services sections only appear without cluster names.
		outln("\nManaged jobs\nNo in-progress managed jobs.\n\nServices\nNo live services.")
	}
	return 0
}

// selectClusters picks the clusters matching names (exact or glob), newest
// launch first, and lists the non-glob names that matched nothing.
func selectClusters(all []*cluster, names []string) (selected []*cluster, notFound []string) {
	matched := map[string]bool{}
	for _, c := range all {
		if len(names) == 0 {
			selected = append(selected, c)
			continue
		}
		for _, n := range names {
			if ok, _ := path.Match(n, c.Name); ok || n == c.Name {
				selected = append(selected, c)
				matched[n] = true
				break
			}
		}
	}
	for _, n := range names {
		if !matched[n] && !strings.ContainsAny(n, "*?[]") {
			notFound = append(notFound, n)
		}
	}
	sort.SliceStable(selected, func(i, j int) bool {
		return selected[i].LaunchedAt.After(selected[j].LaunchedAt)
	})
	return selected, notFound
}

// enabledInfra is the "Enabled Infra:" list: lower-case compute providers,
// Kubernetes expanded to its context.
func (s *session) enabledInfra() []string {
	var infra []string
	for _, key := range s.enabledClouds() {
		c, _ := lookupCloud(key)
		switch {
		case c.storageOnly:
		case key == "kubernetes":
			infra = append(infra, "k8s/"+c.defaultRegion)
		default:
			infra = append(infra, key)
		}
	}
	sort.Strings(infra)
	return infra
}

// enabledClouds lists the enabled providers of the scenario.
func (s *session) enabledClouds() []string {
	if s.cfg.scenario == scenarioNoCredentials {
		return nil
	}
	return s.cfg.clouds
}

// internalError reports a failure of the stub itself (state file trouble),
// never something the real CLI would print.
func internalError(err error) int {
	errln("stubsky: " + err.Error())
	return 1
}
