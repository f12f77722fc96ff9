package core

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// statusTable500 builds `sky status` output of the v0.10 form with 500 clusters, padded
// the way prettytable pads, with skygate's cluster near the end.
func statusTable500() string {
	header := []string{"NAME", "INFRA", "RESOURCES", "STATUS", "AUTOSTOP", "LAUNCHED"}
	rows := [][]string{header}
	for i := range 500 {
		name := fmt.Sprintf("cluster-%03d", i)
		if i == 490 {
			name = "skygate-1"
		}
		rows = append(rows, []string{name, "AWS (us-east-1)", "1x(cpus=2, mem=8, m6i.large, ...)", "UP", "10m (down)", "4 mins ago"})
	}
	widths := make([]int, len(header))
	for _, row := range rows {
		for i, cell := range row {
			widths[i] = max(widths[i], len(cell))
		}
	}
	var b strings.Builder
	b.WriteString("Enabled Infra: aws, gcp\n\nClusters\n")
	for _, row := range rows {
		for i, cell := range row {
			b.WriteString(cell + strings.Repeat(" ", widths[i]-len(cell)+2))
		}
		b.WriteString("\n")
	}
	b.WriteString("\nManaged jobs\nNo in-progress managed jobs.\n\nServices\nNo live services.\n")
	return b.String()
}

func BenchmarkParseStatus500(b *testing.B) {
	out := statusTable500()
	b.SetBytes(int64(len(out)))
	for b.Loop() {
		c, err := ParseStatus(out, "skygate-1")
		if err != nil || !c.Found {
			b.Fatalf("%+v %v", c, err)
		}
	}
}

func BenchmarkParseCheck(b *testing.B) {
	out := readSample(b, "check/v0.10_full_ansi.txt")
	b.SetBytes(int64(len(out)))
	for b.Loop() {
		if _, err := ParseCheck(out); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkExtractError(b *testing.B) {
	stderr := readSample(b, "errors/issue5600.stderr")
	stdout := strings.Repeat(readSample(b, "errors/autofailover_docs.stdout"), 20)
	for b.Loop() {
		if msg := ExtractError(stderr, stdout); msg == noErrorMessage {
			b.Fatal(msg)
		}
	}
}

func BenchmarkGenerateYAML(b *testing.B) {
	cfg := SkyPilotConfig{
		Name: "skygate", Cloud: "aws", Region: "us-east-1", InstanceType: "m5.xlarge", DiskSize: 256,
		Ports: []string{"8080"}, AutostopMinutes: 30, Envs: map[string]string{"MODEL": "llama", "STAGE": "dev"},
		Setup: "pip install -r requirements.txt", Run: "python serve.py --port 8080",
	}
	v := Version{Major: 0, Minor: 10, Patch: 3, Raw: "0.10.3"}
	for b.Loop() {
		if _, err := GenerateYAML(cfg, v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecide(b *testing.B) {
	rec := Cluster{Name: "skygate", Status: StatusRunning, OperationID: 3}
	now := time.Date(2026, 2, 14, 12, 0, 0, 0, time.UTC)
	for b.Loop() {
		if _, err := Decide(rec, Request{Action: ActionStop}, now); err != nil {
			b.Fatal(err)
		}
	}
}
