package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// task is the part of a task YAML the stub acts on.
type task struct {
	name         string
	hasRun       bool
	runEchoes    []string // arguments of `echo` lines in run, shown as job output
	cloud        string   // resources.cloud (canonical), "" if absent
	region       string
	instanceType string
	infra        string // resources.infra, verbatim
}

// readTask extracts the fields with a line-based reader: top-level `name:`
// and `run:`, and `cloud:`, `region:`, `infra:`, `instance_type:` under
// `resources:`. Values may be plain, single-quoted or double-quoted
// (JSON-style, unquoted with strconv.Unquote).
func readTask(path string) (*task, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t := &task{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \t\r")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		indented := line[0] == ' ' || line[0] == '\t'
		if !indented {
			key, val, _ := strings.Cut(line, ":")
			section = strings.TrimSpace(key)
			val = scalar(val)
			switch section {
			case "name":
				t.name = val
			case "run":
				t.hasRun = val != ""
				if strings.HasPrefix(val, "|") || strings.HasPrefix(val, ">") {
					val = ""
				}
				t.addRunLine(val)
			}
			continue
		}
		switch section {
		case "run":
			t.hasRun = true
			t.addRunLine(trimmed)
		case "resources":
			key, val, ok := strings.Cut(trimmed, ":")
			if !ok {
				continue
			}
			val = scalar(val)
			switch strings.TrimSpace(key) {
			case "cloud":
				t.cloud = canonicalCloud(val)
			case "region":
				t.region = val
			case "infra":
				t.infra = val
			case "instance_type":
				t.instanceType = val
			}
		}
	}
	return t, sc.Err()
}

func (t *task) addRunLine(line string) {
	if rest, ok := strings.CutPrefix(line, "echo "); ok {
		t.runEchoes = append(t.runEchoes, scalar(rest))
	}
}

// scalar strips an inline comment and quotes from a YAML scalar.
func scalar(v string) string {
	v = strings.TrimSpace(v)
	switch {
	case strings.HasPrefix(v, `"`):
		if end := strings.LastIndex(v, `"`); end > 0 {
			if s, err := strconv.Unquote(v[:end+1]); err == nil {
				return s
			}
		}
	case strings.HasPrefix(v, "'"):
		if end := strings.LastIndex(v, "'"); end > 0 {
			return strings.ReplaceAll(v[1:end], "''", "'")
		}
	}
	if i := strings.Index(v, " #"); i >= 0 {
		v = strings.TrimSpace(v[:i])
	}
	return v
}
