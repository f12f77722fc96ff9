package records_test

import (
	"reflect"
	"sync"
	"testing"

	"github.com/skygate/skygate/adapters/internal/records"
	"github.com/skygate/skygate/core"
)

func names(cs []core.Cluster) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func TestSet(t *testing.T) {
	s := records.New()
	if got := s.Get("a"); got != core.NoCluster("a") || len(s.Sorted()) != 0 {
		t.Fatalf("empty set: Get = %+v, Sorted = %v", got, s.Sorted())
	}
	for _, name := range []string{"b", "Z", "a"} {
		s.Put(core.Cluster{Name: name, Status: core.StatusRunning})
	}
	if got := s.Get("b"); got != (core.Cluster{Name: "b", Status: core.StatusRunning}) {
		t.Fatalf("Get(b) = %+v", got)
	}
	if got := names(s.Sorted()); !reflect.DeepEqual(got, []string{"Z", "a", "b"}) {
		t.Fatalf("Sorted names = %v", got)
	}
}

// A snapshot is shared until the next change, and a change never alters a snapshot
// already handed out.
func TestSortedSnapshot(t *testing.T) {
	s := records.New()
	s.Put(core.Cluster{Name: "a", Status: core.StatusRunning})
	s.Put(core.Cluster{Name: "c", Status: core.StatusRunning})
	first := s.Sorted()
	if again := s.Sorted(); &again[0] != &first[0] {
		t.Fatal("Sorted made a new slice without a change in between")
	}
	s.Put(core.Cluster{Name: "b", Status: core.StatusStopped})
	s.Put(core.Cluster{Name: "a", Status: core.StatusError})
	if got := names(first); !reflect.DeepEqual(got, []string{"a", "c"}) || first[0].Status != core.StatusRunning {
		t.Fatalf("a snapshot handed out changed: %+v", first)
	}
	second := s.Sorted()
	if got := names(second); !reflect.DeepEqual(got, []string{"a", "b", "c"}) || second[0].Status != core.StatusError {
		t.Fatalf("Sorted after changes = %+v", second)
	}
}

// Readers may build the snapshot concurrently (go test -race).
func TestSortedConcurrentReaders(t *testing.T) {
	s := records.New()
	for _, name := range []string{"d", "c", "b", "a"} {
		s.Put(core.Cluster{Name: name})
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if got := names(s.Sorted()); !reflect.DeepEqual(got, []string{"a", "b", "c", "d"}) {
				t.Errorf("Sorted = %v", got)
			}
		})
	}
	wg.Wait()
}
