package main

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/skygate/skygate/core"
)

// Fleet fan-out: launches of many clusters at once, each followed by many subscribers of
// its own events route.
const (
	fanOutClusters         = 100
	fleetFanOutSubscribers = 10000 // fleetFanOutSubscribers/fanOutClusters a cluster
	fleetFanOutLinesFull   = 50
	fleetFanOutLinesQuick  = 20
	// fleetFanOutTick spaces each launch's lines: 500 lines a second over the fleet,
	// 50,000 deliveries a second, for about 10 s.
	fleetFanOutTick = 1000 * time.Millisecond
)

// fanOutCluster is the cluster the i-th launch of the fan-out, and the i-th subscriber
// and every fanOutClusters-th after it, are about. None is in the fleet.
func fanOutCluster(i int) string { return fmt.Sprintf("%s%03d", fanOutPrefix, i%fanOutClusters) }

const fanOutPrefix = "fan-"

// fleetFanOutLines is how many tick lines each launch prints.
func fleetFanOutLines(quick bool) int {
	if quick {
		return fleetFanOutLinesQuick
	}
	return fleetFanOutLinesFull
}

// fleetFanOutSkyEnv makes every `sky launch` of the fleet's skygate print lines tick lines.
func fleetFanOutSkyEnv(lines int) []string {
	return []string{fmt.Sprintf("%s=%d", skyLinesEnv, lines), skyIntervalEnv + "=" + fleetFanOutTick.String()}
}

// measureFleetFanOut opens the subscribers, launches every cluster they follow at once,
// and measures how each tick line reached the subscribers of its cluster.
func measureFleetFanOut(sg *skygate, r *report, lines int) error {
	streams, err := openEventStreams(fleetFanOutSubscribers, func(i int) string {
		return sg.url + "/clusters/" + fanOutCluster(i) + "/events"
	})
	defer closeEventStreams(streams)
	if err != nil {
		return fmt.Errorf("%d of %d subscribers connected: %w", len(streams), fleetFanOutSubscribers, err)
	}
	// The launches start their runs together and print for lines×fleetFanOutTick; the
	// rest is slack for their start on a loaded machine.
	deadline := time.Now().Add(time.Duration(lines)*fleetFanOutTick + 45*time.Second)
	followers := follow(streams, lines, fanOutCluster, deadline)
	var accepted []time.Duration
	var allAccepted time.Time
	cost, err := followers.measureFlow(sg, func() (err error) {
		accepted, err = sg.launchFanOut()
		allAccepted = time.Now()
		return err
	})
	if err != nil {
		return err
	}
	slowest := percentile(accepted, 1)
	r.add(figure{
		Name: fmt.Sprintf("fleet launches accepted, %d at once", fanOutClusters), Value: ms(slowest), Unit: "ms",
		Measured: fmt.Sprintf("all %d×202 within %s (median %s)", fanOutClusters, fmtMS(slowest), fmtMS(percentile(accepted, 0.5))),
		Baseline: fmt.Sprintf("%s subscribers open", thousands(fleetFanOutSubscribers)),
	})
	d := followers.deliveries()
	r.add(d.p99Figure(fmt.Sprintf("fleet event delivery p99 (%s subscribers, %d launches)",
		thousands(fleetFanOutSubscribers), fanOutClusters), cost))
	// While the 100 launches are being accepted, their supervisors and skys start too (200
	// processes on 2 cores): the lines printed after that show the fan-out alone.
	r.add(followers.deliveriesPrintedAfter(allAccepted).p99Figure("fleet event delivery p99, lines printed once every launch was accepted", cost))
	r.add(d.completeFigure("fleet subscribers with every line", fleetFanOutSubscribers,
		fmt.Sprintf("%d lines of their cluster each", lines)))
	return sg.waitFanOutRunning(15 * time.Second)
}

// launchFanOut launches every fan-out cluster at once and returns how long each took to
// be accepted, sorted.
func (sg *skygate) launchFanOut() ([]time.Duration, error) {
	latencies := make([]time.Duration, fanOutClusters)
	errs := make([]error, fanOutClusters)
	var wg sync.WaitGroup
	for i := range fanOutClusters {
		wg.Go(func() {
			start := time.Now()
			_, errs[i] = expect(http.MethodPost, sg.url+"/clusters/"+fanOutCluster(i)+"/launch", http.StatusAccepted)
			latencies[i] = time.Since(start)
		})
	}
	wg.Wait()
	slices.Sort(latencies)
	return latencies, errors.Join(errs...)
}

// waitFanOutRunning polls GET /clusters until every fan-out cluster is running.
func (sg *skygate) waitFanOutRunning(timeout time.Duration) error {
	for deadline := time.Now().Add(timeout); ; time.Sleep(100 * time.Millisecond) {
		code, body, _, err := call(http.MethodGet, sg.url+"/clusters")
		if err != nil {
			return err
		}
		records, err := decodeClusterList(code, body)
		if err != nil {
			return err
		}
		running := 0
		for _, rec := range records {
			if rec.Status == string(core.StatusRunning) && strings.HasPrefix(rec.Name, fanOutPrefix) {
				running++
			}
		}
		if running == fanOutClusters {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d launched clusters running after %v: %s", running, fanOutClusters, timeout, sg.stderr)
		}
	}
}
