package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/skygate/skygate/adapters/sqlitestore"
	"github.com/skygate/skygate/core"
)

// The fleet phases run one skygate over a state dir of fleetClusters running clusters
// with their kept events: its start, its idle memory, GET /clusters under load and, in
// fleetfanout.go, the events of many launches reaching many subscribers.
const (
	fleetClusters    = 1000
	fleetEventsFull  = sqlitestore.DefaultHistoryLimit // kept events per cluster: all the store keeps
	fleetEventsQuick = 100
	fleetEventsPerOp = 100 // events of one operation; each cluster's belong to operations in turn
	// fleetEventsPerAppend is how many of each cluster's events one Append takes: a
	// transaction of 10,000 events, interleaved as a busy fleet writes them.
	fleetEventsPerAppend = 10
	fleetListConnections = 32
	maxFleetStart        = time.Second
	maxFleetIdleRSSKiB   = 40 * 1024
	maxFleetListP99      = 10 * time.Millisecond
	// fleetDefaultCluster is skygate's default cluster, which the fleet does not hold:
	// GET /clusters lists it beside the fleet, at no_server.
	fleetDefaultCluster = "skygate"
	fleetCloud          = "aws"
	fleetRegion         = "us-east-1" // what the fake sky's table says of every cluster
)

// fleetSettings are skygate's flags over the fleet: room for it and the clusters the
// fan-out launches, all their runs at once, all the fan-out's streams, and no background
// refresh while it is measured.
var fleetSettings = []string{"--max-clusters", "2000", "--max-sky-procs", "100", "--max-streams", "20000",
	"--refresh-interval", "1h", "--cluster-name", fleetDefaultCluster}

// fleet is a prepared directory for skygate: the state dir ("state") and the fake sky
// ("sky"), which reports every cluster of the state dir as UP.
type fleet struct {
	dir    string
	events int // kept events per cluster
	ips    map[string]string
}

func fleetClusterName(i int) string { return fmt.Sprintf("fleet-%04d", i) }

// buildFleet writes the fleet through the store, as skygate would have: the records,
// then the events in large transactions.
func buildFleet(h *harness, r *report) (*fleet, error) {
	f := &fleet{events: fleetEventsFull, ips: make(map[string]string, fleetClusters)}
	if h.opts.quick {
		f.events = fleetEventsQuick
	}
	var err error
	if f.dir, err = os.MkdirTemp(h.dir, "fleet-"); err != nil {
		return nil, err
	}
	sky, err := newFakeSkyFiles(filepath.Join(f.dir, "sky"))
	if err != nil {
		return nil, err
	}
	start := time.Now()
	store, err := sqlitestore.Open(filepath.Join(f.dir, "state"), sqlitestore.Options{LegacyCluster: fleetDefaultCluster})
	if err != nil {
		return nil, err
	}
	if err := f.write(store, sky, time.Now().Add(-24*time.Hour)); err != nil {
		store.Close()
		return nil, err
	}
	if err := store.Close(); err != nil {
		return nil, err
	}
	took := time.Since(start)
	total := int64(fleetClusters * f.events)
	r.add(figure{
		Name: "fleet state build", Value: took.Seconds(), Unit: "s",
		Measured: fmt.Sprintf("%.1f s (%s events/s)", took.Seconds(), thousands(int64(float64(total)/took.Seconds()))),
		Baseline: fmt.Sprintf("%s clusters, %s kept events, %s a transaction, through sqlitestore",
			thousands(fleetClusters), thousands(total), thousands(fleetClusters*fleetEventsPerAppend)),
	})
	return f, nil
}

// write saves every cluster's record, tells the fake sky it is UP, and appends the
// events, a few of each cluster's in each transaction.
func (f *fleet) write(store *sqlitestore.Store, sky fakeSkyFiles, base time.Time) error {
	ctx := context.Background()
	ops := uint64((f.events + fleetEventsPerOp - 1) / fleetEventsPerOp)
	for i := range fleetClusters {
		name := fleetClusterName(i)
		f.ips[name] = fmt.Sprintf("10.0.%d.%d", i/250, i%250+1)
		record := core.Cluster{
			Name: name, Status: core.StatusRunning, Desired: core.DesiredUp, Cloud: fleetCloud, Region: fleetRegion,
			InstanceType: "m5.xlarge", IP: f.ips[name], LaunchedAt: base, OperationID: ops,
			Launch: core.LaunchRequest{Cloud: fleetCloud, Region: fleetRegion, InstanceType: "m5.xlarge"}, UpdatedAt: base,
		}
		_, _, err := store.Update(ctx, name, func(core.Cluster) (core.Cluster, []core.Event, error) { return record, nil, nil })
		if err != nil {
			return err
		}
		if err := sky.setStatus(name, "UP"); err != nil {
			return err
		}
	}
	batch := make([]core.Event, 0, fleetClusters*fleetEventsPerAppend)
	for step := 0; step < f.events; step += fleetEventsPerAppend {
		batch = batch[:0]
		for j := step; j < min(step+fleetEventsPerAppend, f.events); j++ {
			for i := range fleetClusters {
				at := base.Add(time.Duration(j*fleetClusters+i) * time.Millisecond)
				e := core.ProgressEvent(at, uint64(j/fleetEventsPerOp+1),
					fmt.Sprintf("(task, pid=%d) Epoch %d: loss 0.0123, accuracy 0.9876, eta 00:12:34", 1000+i, j))
				e.Cluster, e.Offset = fleetClusterName(i), int64(j+1)*80
				batch = append(batch, e)
			}
		}
		if _, err := store.Append(ctx, batch...); err != nil {
			return err
		}
	}
	return nil
}

// listedCluster is one record of a GET /clusters answer.
type listedCluster struct {
	Name    string  `json:"name"`
	Default bool    `json:"default"`
	Status  string  `json:"status"`
	Cloud   *string `json:"cloud"`
	Region  *string `json:"region"`
	IP      *string `json:"ip"`
}

// decodeClusterList reads a GET /clusters answer, which must be a 200.
func decodeClusterList(code int, body []byte) ([]listedCluster, error) {
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET /clusters answered %d: %.300s", code, body)
	}
	env, err := decodeEnvelope(body)
	if err != nil {
		return nil, err
	}
	var records []listedCluster
	if err := json.Unmarshal(env.Result, &records); err != nil {
		return nil, fmt.Errorf("GET /clusters: %w", err)
	}
	return records, nil
}

// listed accepts a GET /clusters answer that lists the whole fleet as it was written,
// and the default cluster.
func (f *fleet) listed(code int, body []byte) error {
	records, err := decodeClusterList(code, body)
	if err != nil {
		return err
	}
	if len(records) != fleetClusters+1 {
		return fmt.Errorf("GET /clusters listed %d clusters, want %d", len(records), fleetClusters+1)
	}
	for _, rec := range records {
		switch {
		case rec.Name == fleetDefaultCluster:
			if !rec.Default || rec.Status != string(core.StatusNoServer) {
				return fmt.Errorf("GET /clusters: the default cluster is %s (default %v)", rec.Status, rec.Default)
			}
		case rec.Default || rec.Status != string(core.StatusRunning) || rec.IP == nil || *rec.IP != f.ips[rec.Name] ||
			rec.Cloud == nil || *rec.Cloud != fleetCloud || rec.Region == nil || *rec.Region != fleetRegion:
			return fmt.Errorf("GET /clusters: %s is %s (default %v), not running as written", rec.Name, rec.Status, rec.Default)
		}
	}
	return nil
}

// startFleet starts skygate over the fleet and times it from exec to its first 200 of
// GET /healthz and to its first whole GET /clusters, then reads its idle memory once
// the start-up sky runs are done. It returns skygate still running, for the next phases.
func startFleet(h *harness, f *fleet, r *report, skyEnv []string) (*skygate, error) {
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	sg, err := h.launchSkygate("fleet", skygateSettings{addr: addr, dir: f.dir, args: fleetSettings, skyEnv: skyEnv})
	if err != nil {
		return nil, err
	}
	sg.url = "http://" + addr
	healthy, err := sg.pollUntil(sg.url+"/healthz", answered200)
	if err != nil {
		return sg, err
	}
	listed, err := sg.pollUntil(sg.url+"/clusters", f.listed)
	if err != nil {
		return sg, err
	}
	baseline := fmt.Sprintf("%s clusters, %s kept events", thousands(fleetClusters), thousands(int64(fleetClusters*f.events)))
	r.add(figure{
		Name: "fleet time to ready", Value: ms(healthy), Unit: "ms",
		Measured: fmtMS(healthy) + " (first /healthz 200)", Target: "< " + fmtMS(maxFleetStart), Baseline: baseline,
		Pass: healthy < maxFleetStart,
	})
	r.add(figure{
		Name: "fleet time to full list", Value: ms(listed), Unit: "ms",
		Measured: fmtMS(listed) + fmt.Sprintf(" (first GET /clusters with all %s)", thousands(fleetClusters+1)),
		Target:   "< " + fmtMS(maxFleetStart), Baseline: baseline, Pass: listed < maxFleetStart,
	})

	// Start-up runs `sky --version` and `sky check`, and reconciles the fleet with one
	// `sky status`; memory is read once they are done and the fleet still stands.
	if err := sg.waitCheckWarm(); err != nil {
		return sg, err
	}
	if err := sg.waitSkyRun("status --refresh", 10*time.Second); err != nil {
		return sg, err
	}
	time.Sleep(settle)
	code, body, _, err := call(http.MethodGet, sg.url+"/clusters")
	if err == nil {
		err = f.listed(code, body)
	}
	if err != nil {
		return sg, fmt.Errorf("after the start-up sky status: %w", err)
	}
	idle, err := sg.residentKiB()
	if err != nil {
		return sg, err
	}
	r.add(figure{
		Name: "fleet idle resident memory", Value: float64(idle) / 1024, Unit: "MiB",
		Measured: fmtMiB(idle), Target: "< " + fmtMiB(maxFleetIdleRSSKiB),
		Baseline: baseline + "; after start, sky check, sky status and a GET /clusters",
		Pass:     idle < maxFleetIdleRSSKiB,
	})
	return sg, nil
}

// waitSkyRun waits until a sky process whose arguments start with prefix has run.
func (sg *skygate) waitSkyRun(prefix string, timeout time.Duration) error {
	for deadline := time.Now().Add(timeout); ; time.Sleep(20 * time.Millisecond) {
		ran, err := sg.sky.hasRun(prefix)
		if err != nil || ran {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no sky %s... within %v: %s", prefix, timeout, sg.stderr)
		}
	}
}

// measureFleetList drives GET /clusters of the whole fleet against the bare server
// serving the same answer.
func measureFleetList(h *harness, sg *skygate, r *report) error {
	c, err := compareLoad(h, sg, "/clusters", fleetListConnections)
	if err != nil {
		return err
	}
	sgP99, bareP99 := c.skygate.latency.percentile(0.99), c.bare.latency.percentile(0.99)
	sgRate, bareRate := c.skygate.perSecond(), c.bare.perSecond()
	r.add(figure{
		Name: fmt.Sprintf("fleet list p99, %d connections", fleetListConnections), Value: ms(sgP99), Unit: "ms",
		Measured: fmt.Sprintf("%s (skygate %s req/s)", fmtMS(sgP99), thousands(int64(sgRate))),
		Target:   "< " + fmtMS(maxFleetListP99),
		Baseline: fmt.Sprintf("bare net/http p99 %s, %s req/s", fmtMS(bareP99), thousands(int64(bareRate))),
		Pass:     sgP99 < maxFleetListP99,
	})
	r.add(figure{
		Name: fmt.Sprintf("fleet list throughput ratio, %d connections", fleetListConnections), Value: sgRate / bareRate, Unit: "ratio",
		Measured: fmt.Sprintf("%.2f (answers of %s clusters)", sgRate/bareRate, thousands(fleetClusters+1)),
		Baseline: fmt.Sprintf("bare net/http %s req/s", thousands(int64(bareRate))),
	})
	r.add(c.skyRunsFigure(fmt.Sprintf("sky runs during fleet list load, %d connections", fleetListConnections)))
	return nil
}

// measureFleet runs the fleet phases, on one skygate over the fleet's state dir.
func measureFleet(h *harness, r *report) error {
	f, err := buildFleet(h, r)
	if err != nil {
		return fmt.Errorf("fleet state: %w", err)
	}
	defer os.RemoveAll(f.dir)
	lines := fleetFanOutLines(h.opts.quick)
	sg, err := startFleet(h, f, r, fleetFanOutSkyEnv(lines))
	if sg != nil {
		defer h.stop(sg.child)
	}
	if err != nil {
		return fmt.Errorf("fleet start: %w", err)
	}
	if err := measureFleetList(h, sg, r); err != nil {
		return fmt.Errorf("fleet list: %w", err)
	}
	if err := measureFleetFanOut(sg, r, lines); err != nil {
		return fmt.Errorf("fleet fan-out: %w", err)
	}
	return nil
}
