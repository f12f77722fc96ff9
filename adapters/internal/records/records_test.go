package records_test

import (
	"reflect"
	"testing"

	"github.com/skygate/skygate/adapters/internal/records"
	"github.com/skygate/skygate/core"
)

func TestSet(t *testing.T) {
	s := records.Set{}
	if got := s.Get("a"); got != core.NoCluster("a") || len(s.Sorted()) != 0 {
		t.Fatalf("empty set: Get = %+v, Sorted = %v", got, s.Sorted())
	}
	for _, name := range []string{"b", "Z", "a"} {
		s[name] = core.Cluster{Name: name, Status: core.StatusRunning}
	}
	if got := s.Get("b"); got != (core.Cluster{Name: "b", Status: core.StatusRunning}) {
		t.Fatalf("Get(b) = %+v", got)
	}
	var names []string
	for _, c := range s.Sorted() {
		names = append(names, c.Name)
	}
	if !reflect.DeepEqual(names, []string{"Z", "a", "b"}) {
		t.Fatalf("Sorted names = %v", names)
	}
}
