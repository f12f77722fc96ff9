package sqlitestore_test

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/skygate/skygate/adapters/sqlitestore"
	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

// The fleet the read benchmarks run on: fleetClusters clusters of fleetEvents kept events
// each, interleaved as a busy fleet writes them; each cluster's events belong to
// fleetOperations operations in turn.
const (
	fleetClusters   = 1000
	fleetEvents     = 1000
	fleetOperations = 10
)

var fleet struct {
	once sync.Once
	dir  string
	err  error
}

func clusterName(i int) string { return fmt.Sprintf("c%04d", i) }

// fleetDir returns a state dir holding the fleet, seeded once per test binary and kept
// closed between benchmarks.
func fleetDir(b *testing.B) string {
	b.Helper()
	fleet.once.Do(func() {
		dir, err := os.MkdirTemp("", "sqlitestore-fleet-")
		if err == nil {
			err = seedFleet(dir)
		}
		fleet.dir, fleet.err = dir, err
	})
	if fleet.err != nil {
		b.Fatalf("seeding the fleet: %v", fleet.err)
	}
	return fleet.dir
}

// seedFleet writes the records through the store, then the events with one INSERT ...
// SELECT, which is far faster than a million Appends.
func seedFleet(dir string) error {
	s, err := sqlitestore.Open(dir, sqlitestore.Options{})
	if err != nil {
		return err
	}
	for i := range fleetClusters {
		c := core.Cluster{Name: clusterName(i), Status: core.StatusRunning, Desired: core.DesiredUp, Cloud: "aws",
			Region: "us-east-1", IP: "203.0.113.7", OperationID: fleetOperations, Launch: core.LaunchRequest{Cloud: "aws"}}
		if _, _, err := s.Update(ctx, c.Name, set(c)); err != nil {
			return err
		}
	}
	if err := s.Close(); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, sqlitestore.DBName)+"?_pragma=synchronous(OFF)")
	if err != nil {
		return err
	}
	defer db.Close()
	perOp := fleetEvents / fleetOperations
	_, err = db.Exec(`WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < ?)
		INSERT INTO events (id, cluster, type, ts, message, status, operation_id, output_offset)
		SELECT i + 1, printf('c%04d', i % ?), 'progress', 1740830400000000000 + i * 1000000,
			'(task, pid=1234) Epoch ' || i || ': loss 0.0123, accuracy 0.9876, eta 00:12:34', '',
			i / ? / ? + 1, i * 80
		FROM seq`, fleetClusters*fleetEvents, fleetClusters, fleetClusters, perOp)
	return err
}

func openFleet(b *testing.B) *sqlitestore.Store {
	b.Helper()
	s := open(b, fleetDir(b), sqlitestore.Options{})
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkOpen1000x1000 opens a state dir of 1,000 clusters and 1,000,000 kept events.
func BenchmarkOpen1000x1000(b *testing.B) {
	dir := fleetDir(b)
	for b.Loop() {
		s := open(b, dir, sqlitestore.Options{})
		b.StopTimer()
		if last, _ := s.LastEventID(ctx); last != fleetClusters*fleetEvents {
			b.Fatalf("LastEventID = %d", last)
		}
		s.Close()
		b.StartTimer()
	}
}

// BenchmarkIdleRSS1000x1000 reports the resident memory of a process that has opened the
// fleet and read one cluster's history (in a child process, so that nothing of the
// benchmark counts).
func BenchmarkIdleRSS1000x1000(b *testing.B) {
	dir := fleetDir(b)
	var kib int
	for b.Loop() {
		out, code := runInChild(b, "rss", dir)
		n, err := strconv.Atoi(strings.TrimPrefix(out, "rss_kib "))
		if code != 0 || err != nil {
			b.Fatalf("child: exit %d, %q", code, out)
		}
		kib = n
	}
	b.ReportMetric(float64(kib)/1024, "MiB-rss")
}

// reportRSS is the child of BenchmarkIdleRSS1000x1000.
func reportRSS(s *sqlitestore.Store) int {
	defer s.Close()
	if _, err := s.Clusters(ctx); err != nil {
		fmt.Print(err)
		return 4
	}
	if _, err := s.Events(ctx, ports.EventFilter{Cluster: clusterName(7)}); err != nil {
		fmt.Print(err)
		return 4
	}
	runtime.GC()
	debug.FreeOSMemory()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		fmt.Print(err)
		return 4
	}
	for line := range strings.Lines(string(status)) {
		if value, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			fmt.Print("rss_kib ", strings.TrimSuffix(strings.TrimSpace(value), " kB"))
			return 0
		}
	}
	fmt.Print("no VmRSS")
	return 4
}

func benchEvents(b *testing.B, filter func(i int) ports.EventFilter, want int) {
	s := openFleet(b)
	i := 0
	for b.Loop() {
		got, err := s.Events(ctx, filter(i))
		if err != nil || len(got) != want {
			b.Fatalf("Events: %d events, %v; want %d", len(got), err, want)
		}
		i++
	}
}

// BenchmarkEventsOperation1000x1000 reads one operation's events (100) of one cluster, as a
// new subscriber of a cluster with an operation in flight is given them.
func BenchmarkEventsOperation1000x1000(b *testing.B) {
	benchEvents(b, func(i int) ports.EventFilter {
		return ports.EventFilter{Cluster: clusterName(i * 7 % fleetClusters), OperationID: uint64(i%fleetOperations + 1)}
	}, fleetEvents/fleetOperations)
}

// BenchmarkEventsResume1000x1000 reads the last 10 events of one cluster after an ID, as a
// stream resumed with Last-Event-ID is given them.
func BenchmarkEventsResume1000x1000(b *testing.B) {
	benchEvents(b, func(i int) ports.EventFilter {
		c := i * 7 % fleetClusters
		after := uint64((fleetEvents-11)*fleetClusters + c + 1) // the 990th event of cluster c
		return ports.EventFilter{Cluster: clusterName(c), After: after}
	}, 10)
}

// BenchmarkEventsCluster1000x1000 reads every kept event (1,000) of one cluster.
func BenchmarkEventsCluster1000x1000(b *testing.B) {
	benchEvents(b, func(i int) ports.EventFilter {
		return ports.EventFilter{Cluster: clusterName(i * 7 % fleetClusters)}
	}, fleetEvents)
}

func benchStore(b *testing.B) *sqlitestore.Store {
	b.Helper()
	return openClosing(b, b.TempDir(), sqlitestore.Options{})
}

// updateFn is a decision as the app makes them: the record changes, with a status and a
// complete event.
func updateFn(c core.Cluster) (core.Cluster, []core.Event, error) {
	c.Status, c.OperationID = core.StatusRunning, c.OperationID+1
	return c, []core.Event{
		core.StatusEvent(c.UpdatedAt, c.OperationID, core.StatusRunning, "cluster is running"),
		core.CompleteEvent(c.UpdatedAt, c.OperationID, "launch complete"),
	}, nil
}

// BenchmarkUpdate saves a record and two events per op, over 100 clusters.
func BenchmarkUpdate(b *testing.B) {
	s := benchStore(b)
	i := 0
	for b.Loop() {
		if _, _, err := s.Update(ctx, clusterName(i%100), updateFn); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkUpdateParallel runs Updates of different clusters from many goroutines; they
// are serialized by the store.
func BenchmarkUpdateParallel(b *testing.B) {
	s := benchStore(b)
	var next sync.Mutex
	n := 0
	b.RunParallel(func(pb *testing.PB) {
		next.Lock()
		name := clusterName(n)
		n++
		next.Unlock()
		for pb.Next() {
			if _, _, err := s.Update(ctx, name, updateFn); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func benchAppend(b *testing.B, batch int) {
	s := benchStore(b)
	events := progress("", batch)
	i := 0
	for b.Loop() {
		for j := range events {
			events[j].Cluster = clusterName(i % 100)
		}
		if _, err := s.Append(ctx, events...); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkAppend saves one progress line per op, over 100 clusters (pruned as they grow).
func BenchmarkAppend(b *testing.B) { benchAppend(b, 1) }

// BenchmarkAppend10 saves ten progress lines per op.
func BenchmarkAppend10(b *testing.B) { benchAppend(b, 10) }

// BenchmarkLoad reads one record (from memory).
func BenchmarkLoad(b *testing.B) {
	s := openFleet(b)
	i := 0
	for b.Loop() {
		if _, err := s.Load(ctx, clusterName(i%fleetClusters)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
