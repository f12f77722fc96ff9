package core

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ParseStatus reads the output of `sky status [NAME...]` (every table era, or `-o json`)
// and reports what it says about clusterName. A cluster that sky does not list is
// Found=false with a nil error: `sky status` exits 0 and prints "not found" in that case.
// The error is non-nil only when the output is not status output at all.
func ParseStatus(stdout, clusterName string) (SkyCluster, error) {
	clusters, err := ParseStatusAll(stdout)
	if err != nil {
		return SkyCluster{}, err
	}
	return clusters[clusterName], nil
}

// ParseStatusAll reads the output of `sky status [NAME...]` (every table era, or `-o json`)
// once and returns every cluster it lists, by name, each with Found set. A name sky does
// not list is absent from the map (its zero value is Found=false); when sky lists a name
// twice, the first row counts. The error is non-nil, and the map nil, only when the output
// is not status output at all.
func ParseStatusAll(stdout string) (map[string]SkyCluster, error) {
	lines := outputLines(stdout)
	if records, ok := findStatusJSON(lines); ok {
		return clustersFromJSON(records), nil
	}
	report := readStatusReport(lines)
	if report.table != nil {
		return report.table.clusters(), nil
	}
	if report.notFound || report.sawClusters {
		return map[string]SkyCluster{}, nil
	}
	return nil, fmt.Errorf("unrecognised sky status output: %q", quoteOutput(lines))
}

// ---- Text normalisation shared by the parsers of sky output ----

// logPrefixRE matches the logger prefix of pre-Oct-2024 output and of SKYPILOT_DEBUG runs:
// "I 02-26 14:41:00 optimizer.py:617] " or "D 02-24 21:00:25.123 PID=1234 sdk.py:1422] ".
var logPrefixRE = lazyRegexp(`^[DIWE] \d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?(?: PID=\d+)? [\w./-]+:\d+\] `)

// outputLines splits raw sky output into lines as a terminal would show them: "\r\n" ends
// a line, a lone "\r" redraws it (only the text after the last one stays), escape codes
// and logger prefixes are removed, trailing space is dropped. Leading space is kept, since
// indentation and column offsets carry meaning.
func outputLines(s string) []string {
	raw := strings.Split(s, "\n")
	lines := make([]string, 0, len(raw))
	for _, line := range raw {
		lines = append(lines, cleanOutputLine(line))
	}
	return lines
}

func cleanOutputLine(line string) string {
	line = strings.TrimRight(line, "\r")
	if i := strings.LastIndexByte(line, '\r'); i >= 0 {
		line = line[i+1:]
	}
	line = dropEscapes(line)
	if len(line) > 2 && strings.IndexByte("DIWE", line[0]) >= 0 && line[1] == ' ' {
		line = logPrefixRE().ReplaceAllString(line, "")
	}
	return strings.TrimRightFunc(line, unicode.IsSpace)
}

// dropEscapes strips escape sequences and any stray ESC byte StripANSI leaves behind, and
// makes the text valid UTF-8.
func dropEscapes(s string) string {
	s = strings.ReplaceAll(StripANSI(s), "\x1b", "")
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}

// quoteOutput gives the first non-blank lines of unreadable output, short enough for an
// error message.
func quoteOutput(lines []string) string {
	const maxQuote = 120
	var b strings.Builder
	for _, line := range lines {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(" | ")
		}
		b.WriteString(line)
		if b.Len() >= maxQuote {
			break
		}
	}
	return capBytes(b.String(), maxQuote)
}

// capBytes cuts s to at most n bytes without splitting a UTF-8 sequence.
func capBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// ---- Table form ----

// statusReport is what the table form of `sky status` said.
type statusReport struct {
	sawClusters bool // the "Clusters" section header
	notFound    bool // a "not found" or "No existing clusters." line
	table       *statusTable
}

// notFoundRE matches "Cluster 'a' not found.", "Clusters 'a', 'b' not found." (v0.8+) and
// "Cluster a not found." (≤v0.7).
var notFoundRE = lazyRegexp(`^Clusters? .+ not found\.$`)

// trailingSections are the section headers that follow the cluster table.
var trailingSections = map[string]bool{
	"Managed jobs": true, "Managed spot jobs": true, "Pools": true, "Services": true,
}

func readStatusReport(lines []string) statusReport {
	var report statusReport
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		switch {
		case line == "Clusters":
			report.sawClusters = true
		case line == "No existing clusters." || notFoundRE().MatchString(line):
			report.notFound = true
		case report.table == nil && isStatusHeader(line):
			table, end := readStatusTable(lines, i)
			report.table = table
			i = end
		case trailingSections[line] && (report.sawClusters || report.table != nil):
			return report
		}
	}
	return report
}

// isStatusHeader reports whether line is the header row of the cluster table; the
// early-2022 form has no "Clusters" line above it, so the header is recognised by itself.
func isStatusHeader(line string) bool {
	fields := strings.Fields(line)
	return len(fields) >= 2 && fields[0] == "NAME" && slices.Contains(fields[1:], "STATUS")
}

// statusTable is the cluster table: column names with their start offsets (in runes) in
// the header row, and the rows as printed.
type statusTable struct {
	columns []string
	starts  []int
	rows    []string
}

// readStatusTable reads the header at lines[at] and the rows below it, which end at the
// first blank line. It returns the index of the last line it consumed.
func readStatusTable(lines []string, at int) (*statusTable, int) {
	table := &statusTable{}
	header := []rune(lines[at])
	for i := 0; i < len(header); i++ {
		if header[i] != ' ' && (i == 0 || header[i-1] == ' ') {
			table.starts = append(table.starts, i)
			end := i
			for end < len(header) && header[end] != ' ' {
				end++
			}
			table.columns = append(table.columns, string(header[i:end]))
		}
	}
	end := at
	for end+1 < len(lines) {
		line := lines[end+1]
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || notFoundRE().MatchString(trimmed) || trimmed == "No existing clusters." {
			break
		}
		table.rows = append(table.rows, line)
		end++
	}
	return table, end
}

// clusters reads every row. Cluster names hold no spaces, so a row's first word is its
// NAME; a row whose first cell is not that word is not a cluster row.
func (t *statusTable) clusters() map[string]SkyCluster {
	clusters := make(map[string]SkyCluster, len(t.rows))
	for _, row := range t.rows {
		name := firstWord(row)
		if _, seen := clusters[name]; seen || name == "" {
			continue
		}
		if cells := t.cells(row); len(cells) > 0 && cells[0] == name {
			clusters[name] = clusterFromRow(t, cells)
		}
	}
	return clusters
}

func firstWord(s string) string {
	s = strings.TrimLeft(s, " \t")
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		return s[:i]
	}
	return s
}

// column returns the cell of the named column, "" when the table has no such column.
func (t *statusTable) column(cells []string, name string) string {
	for i, c := range t.columns {
		if c == name && i < len(cells) {
			return cells[i]
		}
	}
	return ""
}

// multiSpaceRE splits a row on the two-space padding prettytable puts between cells.
var multiSpaceRE = lazyRegexp(`\s{2,}`)

// splitOnSpaceRuns is multiSpaceRE.Split(s, -1) without the regexp machinery, which
// dominated the cost of reading a long table row by row.
func splitOnSpaceRuns(s string, capacity int) []string {
	isSpace := func(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\f' || b == '\r' }
	pieces := make([]string, 0, capacity)
	start := 0
	for i := 0; i < len(s); {
		if !isSpace(s[i]) {
			i++
			continue
		}
		end := i
		for end < len(s) && isSpace(s[end]) {
			end++
		}
		if end-i >= 2 {
			pieces = append(pieces, s[start:i])
			start = end
		}
		i = end
	}
	return append(pieces, s[start:])
}

// cells splits a row into one cell per column. Cells hold single spaces ("4 mins ago"),
// so splitting on runs of two or more spaces is exact when it yields one piece per column.
// When it does not (an empty cell, or a cell that overflows into the next column with a
// single space between them), the row is sliced at the header offsets instead, each
// boundary moved right past a word that straddles it.
func (t *statusTable) cells(line string) []string {
	pieces := splitOnSpaceRuns(strings.TrimSpace(line), len(t.columns))
	if len(pieces) == len(t.columns) {
		return pieces
	}
	row := displayColumns(line)
	bounds := t.boundaries(row)
	cells := make([]string, len(t.columns))
	for i := range t.columns {
		from, to := bounds[i], len(row)
		if i+1 < len(bounds) {
			to = bounds[i+1]
		}
		if from < to {
			cells[i] = strings.TrimSpace(strings.ReplaceAll(string(row[from:to]), string(wideFiller), ""))
		}
	}
	return cells
}

// wideFiller takes the second column of a wide character in displayColumns; it is a
// noncharacter, which no output holds.
const wideFiller = '\uFFFF'

// displayColumns is line as a terminal shows it, one rune per column: prettytable pads
// cells by display width (wcwidth), so a wide character (CJK, most emoji) takes two
// columns of the header's offsets, and is followed here by wideFiller.
func displayColumns(line string) []rune {
	row := make([]rune, 0, len(line))
	for _, r := range line {
		row = append(row, r)
		if isWide(r) {
			row = append(row, wideFiller)
		}
	}
	return row
}

// wideRanges are the East Asian Wide and Fullwidth blocks (Unicode's EastAsianWidth W and
// F) and the emoji blocks that terminals draw two columns wide.
var wideRanges = [][2]rune{
	{0x1100, 0x115F}, {0x2E80, 0x303E}, {0x3041, 0x33FF}, {0x3400, 0x4DBF}, {0x4E00, 0x9FFF},
	{0xA000, 0xA4CF}, {0xAC00, 0xD7A3}, {0xF900, 0xFAFF}, {0xFE30, 0xFE4F}, {0xFF00, 0xFF60},
	{0xFFE0, 0xFFE6}, {0x1F300, 0x1F64F}, {0x1F900, 0x1F9FF}, {0x20000, 0x3FFFD},
}

func isWide(r rune) bool {
	for _, w := range wideRanges {
		if r >= w[0] && r <= w[1] {
			return true
		}
	}
	return false
}

// boundaries returns where each column's cell starts in row.
func (t *statusTable) boundaries(row []rune) []int {
	bounds := make([]int, len(t.starts))
	for i, start := range t.starts {
		b := min(start, len(row))
		if i > 0 {
			b = max(b, bounds[i-1])
			for b > 0 && b < len(row) && row[b-1] != ' ' && row[b] != ' ' {
				b++
			}
		}
		bounds[i] = b
	}
	return bounds
}

// clusterFromRow reads a found row.
func clusterFromRow(t *statusTable, cells []string) SkyCluster {
	c := SkyCluster{
		Found:     true,
		Status:    statusWord(t.column(cells, "STATUS")),
		Resources: dashless(t.column(cells, "RESOURCES")),
		HeadIP:    dashless(t.column(cells, "HEAD_IP")),
	}
	if infra := dashless(t.column(cells, "INFRA")); infra != "" {
		c.Cloud, c.Region = splitInfra(infra)
	} else {
		c.Cloud = cloudFromResources(c.Resources)
	}
	if c.Region == "" {
		c.Region = firstNonEmpty(dashless(t.column(cells, "REGION")), infraRegion(c.Cloud, dashless(t.column(cells, "ZONE"))))
	}
	return c
}

// statusWord reads a STATUS cell ("UP", or "ClusterStatus.UP" from some JSON records).
// A found cluster always gets a status; an empty cell reads as UNKNOWN, which maps to
// the error status.
func statusWord(cell string) SkyStatus {
	fields := strings.Fields(cell)
	if len(fields) == 0 {
		return "UNKNOWN"
	}
	word := fields[0]
	if i := strings.LastIndexByte(word, '.'); i >= 0 && i+1 < len(word) {
		word = word[i+1:]
	}
	return SkyStatus(word)
}

func dashless(cell string) string {
	if cell == "-" {
		return ""
	}
	return cell
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// splitInfra reads an INFRA cell, "AWS (us-east-1)", "Kubernetes (my-ctx)" or "AWS", and
// also the input syntax "aws/us-east-1" some JSON records carry.
func splitInfra(infra string) (cloud, region string) {
	if open := strings.IndexByte(infra, '('); open > 0 {
		cloud = CloudRegistryName(infra[:open])
		return cloud, infraRegion(cloud, strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(infra[open+1:]), ")")))
	}
	if slash := strings.IndexByte(infra, '/'); slash > 0 {
		rest := infra[slash+1:]
		if next := strings.IndexByte(rest, '/'); next >= 0 {
			rest = rest[:next]
		}
		return CloudRegistryName(infra[:slash]), strings.TrimSpace(rest)
	}
	return CloudRegistryName(infra), ""
}

// infraRegion is the region in the parentheses of an INFRA cell, which show the zone
// when sky knows one ("GCP (us-central1-a)", "AWS (us-east-1a)"): an AWS or GCP zone
// named the way those clouds name them gives its region. A name sky cut short to fit the
// table ("gke_my-proje...my-cluster": InfraInfo.formatted_str shortens one longer than
// 25 characters in the middle unless -v is given) is no name: "" leaves the record's
// region as it was.
func infraRegion(cloud, place string) string {
	if strings.Contains(place, "...") {
		return ""
	}
	switch cloud {
	case "aws":
		if m := awsZoneRE().FindStringSubmatch(place); m != nil {
			return m[1]
		}
	case "gcp":
		if m := gcpZoneRE().FindStringSubmatch(place); m != nil {
			return m[1]
		}
	}
	return place
}

// An AWS zone is its region and a letter (us-east-1a, us-gov-west-1b); a GCP zone is its
// region, a dash and a letter (us-central1-a, europe-west4-b).
var (
	awsZoneRE = lazyRegexp(`^([a-z]{2}(?:-[a-z]+)+-\d+)[a-z]$`)
	gcpZoneRE = lazyRegexp(`^([a-z]+-[a-z]+\d+)-[a-z]$`)
)

// resourcesCloudRE reads the cloud of a ≤v0.9 RESOURCES cell: "1x GCP(n1-standard-2, ...)".
var resourcesCloudRE = lazyRegexp(`^\d+x ?([A-Za-z][A-Za-z0-9]*)\(`)

func cloudFromResources(resources string) string {
	if m := resourcesCloudRE().FindStringSubmatch(resources); m != nil {
		return CloudRegistryName(m[1])
	}
	return ""
}

// cloudAliases maps display names and aliases that are not simply the lower-case registry
// name. Every other name is lower-cased ("AWS" → "aws", "vSphere" → "vsphere"), which is
// how the registry names of current clouds relate to their display names.
var cloudAliases = map[string]string{
	"k8s":          "kubernetes",
	"digitalocean": "do",
	"lambdalabs":   "lambda",
	"lambda labs":  "lambda",
	"datacrunch":   "verda",
}

// CloudRegistryName turns a cloud's display name as sky prints it ("AWS", "Kubernetes",
// "Cloudflare (for R2 object store)", "Cloudflare, for R2 object store") into its
// lower-case registry name ("aws", "kubernetes", "cloudflare").
func CloudRegistryName(display string) string {
	name := strings.TrimSpace(dropEscapes(display))
	if i := strings.IndexAny(name, "(,"); i >= 0 {
		name = strings.TrimSpace(name[:i])
	}
	name = strings.ToLower(name)
	if alias, ok := cloudAliases[name]; ok {
		return alias
	}
	return name
}

// ---- JSON form (`sky status -o json`, v0.12+) ----

// maxJSONAttempts bounds how many "[" lines are tried as the start of the JSON document;
// only server start-up messages are expected before it.
const maxJSONAttempts = 4

// findStatusJSON finds the JSON array `sky status -o json` prints. Lines streamed from the
// API server (start-up messages) may come before it.
func findStatusJSON(lines []string) ([]map[string]any, bool) {
	attempts := 0
	for i, line := range lines {
		trimmed := strings.TrimSpace(line)
		if !strings.HasPrefix(trimmed, "[") && !strings.HasPrefix(trimmed, "{") {
			continue
		}
		if attempts++; attempts > maxJSONAttempts {
			return nil, false
		}
		var doc any
		if !decodeRest(lines[i:], &doc) {
			continue
		}
		if records, ok := statusRecords(doc); ok {
			return records, true
		}
	}
	return nil, false
}

// decodeRest decodes the JSON document that lines make up, to their end. A document that
// other text follows is not sky's JSON output but a line of its text output that looks
// like JSON (an error's details, an empty list in a warning): it is refused.
func decodeRest(lines []string, doc any) bool {
	text := strings.Join(lines, "\n")
	dec := json.NewDecoder(strings.NewReader(text))
	if dec.Decode(doc) != nil {
		return false
	}
	return strings.TrimSpace(text[dec.InputOffset():]) == ""
}

// statusRecords accepts the array of records SkyPilot prints, and also an object wrapping
// it under "clusters".
func statusRecords(doc any) ([]map[string]any, bool) {
	if obj, ok := doc.(map[string]any); ok {
		doc, ok = obj["clusters"]
		if !ok {
			return nil, false
		}
	}
	list, ok := doc.([]any)
	if !ok {
		return nil, false
	}
	records := make([]map[string]any, 0, len(list))
	for _, item := range list {
		if record, ok := item.(map[string]any); ok {
			records = append(records, record)
		}
	}
	return records, true
}

// clustersFromJSON reads every record that has a name.
func clustersFromJSON(records []map[string]any) map[string]SkyCluster {
	clusters := make(map[string]SkyCluster, len(records))
	for _, r := range records {
		name := jsonString(r, "name")
		if _, seen := clusters[name]; seen || name == "" {
			continue
		}
		c := SkyCluster{
			Found:     true,
			Status:    SkyStatus(strings.ToUpper(string(statusWord(jsonString(r, "status"))))),
			Resources: dashless(firstNonEmpty(jsonString(r, "resources_str"), jsonString(r, "resources"))),
			HeadIP:    dashless(jsonString(r, "head_ip")),
		}
		if cloud := dashless(jsonString(r, "cloud")); cloud != "" {
			c.Cloud = CloudRegistryName(cloud)
		} else if infra := dashless(jsonString(r, "infra")); infra != "" {
			c.Cloud, c.Region = splitInfra(infra)
		}
		c.Region = firstNonEmpty(dashless(jsonString(r, "region")), c.Region, infraRegion(c.Cloud, dashless(jsonString(r, "zone"))))
		clusters[name] = c
	}
	return clusters
}

// jsonString reads a string field; absent, null and non-string values read as "".
func jsonString(record map[string]any, key string) string {
	s, _ := record[key].(string)
	return strings.TrimSpace(dropEscapes(s))
}
