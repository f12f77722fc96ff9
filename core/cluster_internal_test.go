package core

import (
	"strings"
	"testing"
)

var clusterNameCases = []string{
	"", "a", "A", "1", "-", "a-", "a_", "a.", "a-b", "a_b", "a.b", "a..b", "a--b", "ab9", "9ab",
	"team-a", "Team.A_1", "a b", "a/b", "é", "aé", "a\n", "a\x00b", "_a", ".a",
	strings.Repeat("a", 63), strings.Repeat("a", 64),
}

func TestValidClusterNameIsSkyPilotsRule(t *testing.T) {
	for _, name := range clusterNameCases {
		if got, want := validClusterName(name), clusterNameRE().MatchString(name); got != want {
			t.Errorf("validClusterName(%q) = %v, the regular expression says %v", name, got, want)
		}
	}
	for name, want := range map[string]bool{"team-a": true, "a": true, "a-": false, "9a": false, strings.Repeat("a", 64): false} {
		if got := ValidateClusterName("path.name", name) == nil; got != want {
			t.Errorf("ValidateClusterName(%q) accepted = %v, want %v", name, got, want)
		}
	}
}

func FuzzValidClusterName(f *testing.F) {
	for _, name := range clusterNameCases {
		f.Add(name)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if got, want := validClusterName(name), clusterNameRE().MatchString(name); got != want {
			t.Fatalf("validClusterName(%q) = %v, the regular expression says %v", name, got, want)
		}
	})
}
