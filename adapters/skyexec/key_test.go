package skyexec

import (
	"regexp"
	"strings"
	"testing"

	"github.com/skygate/skygate/ports"
)

// keyPattern is the rule validKey scans for.
var keyPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

func TestValidKey(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want bool
	}{
		{"c1-42", true}, {"skygate-7", true}, {"a", true}, {"9.x_y-z", true},
		{strings.Repeat("k", 128), true}, {strings.Repeat("k", 129), false},
		{"", false}, {"-a", false}, {".a", false}, {"_a", false}, {"a/b", false}, {"../x", false},
		{"a b", false}, {"a\x00", false}, {"é", false}, {"a\n", false},
	} {
		if got := validKey(ports.OperationKey(tc.key)); got != tc.want {
			t.Errorf("validKey(%q) = %v, want %v", tc.key, got, tc.want)
		}
	}
}

func FuzzValidKey(f *testing.F) {
	for _, seed := range []string{"c1-42", "", "-a", "a/b", strings.Repeat("k", 128), strings.Repeat("k", 129), "a\n"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if got, want := validKey(ports.OperationKey(key)), keyPattern.MatchString(key); got != want {
			t.Fatalf("validKey(%q) = %v, the pattern says %v", key, got, want)
		}
	})
}
