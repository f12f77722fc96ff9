package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// Status load: both servers are driven by the same generator, in alternating rounds so
// that drift in the machine's state (other processes, CPU frequency) affects both.
const (
	loadWarmup         = 500 * time.Millisecond
	loadRoundsEach     = 2
	roundFull          = 3 * time.Second
	roundQuick         = time.Second
	envelopeEveryNth   = 512 // each worker checks the envelope of every 512th answer
	minThroughputRatio = 0.85
	maxP99Ratio        = 1.3
)

// loadConnections are the keep-alive connection counts the status load is measured at.
var loadConnections = []int{32, 64}

// loadResult is what one server did over its measured rounds.
type loadResult struct {
	requests int64
	elapsed  time.Duration
	latency  histogram
}

func (r *loadResult) perSecond() float64 { return float64(r.requests) / r.elapsed.Seconds() }

func (r *loadResult) add(o *loadResult) {
	r.requests += o.requests
	r.elapsed += o.elapsed
	r.latency.merge(&o.latency)
}

func measureStatus(h *harness, sg *skygate, r *report) error {
	if err := sg.waitCheckWarm(); err != nil {
		return err
	}
	for _, conns := range loadConnections {
		if err := measureStatusAt(h, sg, r, conns); err != nil {
			return err
		}
	}
	return nil
}

// measureStatusAt measures GET /cluster/status against the bare server with conns
// keep-alive connections.
func measureStatusAt(h *harness, sg *skygate, r *report, loadWorkers int) error {
	c, err := compareLoad(h, sg, "/cluster/status", loadWorkers)
	if err != nil {
		return err
	}
	sgRate, bareRate := c.skygate.perSecond(), c.bare.perSecond()
	ratio := sgRate / bareRate
	r.add(figure{
		Name: fmt.Sprintf("status throughput ratio, %d connections", loadWorkers), Value: ratio, Unit: "ratio",
		Measured: fmt.Sprintf("%.2f (skygate %s req/s)", ratio, thousands(int64(sgRate))),
		Target:   fmt.Sprintf(">= %.2f", minThroughputRatio),
		Baseline: fmt.Sprintf("bare net/http %s req/s", thousands(int64(bareRate))),
		Pass:     ratio >= minThroughputRatio,
	})
	sgP99, bareP99 := c.skygate.latency.percentile(0.99), c.bare.latency.percentile(0.99)
	p99Ratio := float64(sgP99) / float64(bareP99)
	r.add(figure{
		Name: fmt.Sprintf("status p99 latency ratio, %d connections", loadWorkers), Value: p99Ratio, Unit: "ratio",
		Measured: fmt.Sprintf("%.2f (skygate p99 %s)", p99Ratio, fmtMS(sgP99)),
		Target:   fmt.Sprintf("<= %.1f", maxP99Ratio),
		Baseline: "bare net/http p99 " + fmtMS(bareP99),
		Pass:     p99Ratio <= maxP99Ratio,
	})
	r.add(c.skyRunsFigure(fmt.Sprintf("sky runs during status load, %d connections", loadWorkers)))
	return nil
}

// loadComparison is what skygate and the bare server did under the same load, and how
// many sky processes skygate ran meanwhile.
type loadComparison struct {
	skygate, bare loadResult
	skyRuns       int
}

// compareLoad drives GET path on skygate and on a bare server that answers skygate's
// answer to it, with loadWorkers keep-alive connections, in alternating rounds.
func compareLoad(h *harness, sg *skygate, path string, loadWorkers int) (*loadComparison, error) {
	code, body, env, err := call(http.MethodGet, sg.url+path)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK || env.Status != "success" {
		return nil, fmt.Errorf("GET %s: %d %.300s", path, code, body)
	}
	bare, bareURL, err := h.startBareServer(body)
	if err != nil {
		return nil, err
	}
	defer h.stop(bare)

	callsBefore, err := sg.sky.callCount()
	if err != nil {
		return nil, err
	}
	transport := &http.Transport{
		MaxIdleConns: 2 * loadWorkers, MaxIdleConnsPerHost: loadWorkers, MaxConnsPerHost: loadWorkers,
		DisableCompression: true,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	round := roundFull
	if h.opts.quick {
		round = roundQuick
	}
	var c loadComparison
	for range loadRoundsEach {
		for _, target := range []struct {
			url   string
			total *loadResult
		}{{bareURL, &c.bare}, {sg.url, &c.skygate}} {
			url := target.url + path
			if _, err := generateLoad(client, url, loadWarmup, loadWorkers); err != nil {
				return nil, err
			}
			res, err := generateLoad(client, url, round, loadWorkers)
			if err != nil {
				return nil, err
			}
			target.total.add(res)
		}
	}
	callsAfter, err := sg.sky.callCount()
	if err != nil {
		return nil, err
	}
	c.skyRuns = callsAfter - callsBefore
	return &c, nil
}

// skyRunsFigure requires that skygate ran no sky process while it was loaded.
func (c *loadComparison) skyRunsFigure(name string) figure {
	return figure{
		Name: name, Value: float64(c.skyRuns), Unit: "processes",
		Measured: fmt.Sprintf("%d (of %s requests)", c.skyRuns, thousands(c.skygate.requests)),
		Target:   "0", Baseline: "-", Pass: c.skyRuns == 0,
	}
}

// generateLoad sends GET url from loadWorkers goroutines, each on its own keep-alive
// connection, for duration d. Any answer other than a 200 fails the run: the figures of
// a server that answers errors mean nothing.
func generateLoad(client *http.Client, url string, d time.Duration, loadWorkers int) (*loadResult, error) {
	type worker struct {
		requests int64
		latency  histogram
		err      error
	}
	workers := make([]worker, loadWorkers)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for i := range workers {
		w := &workers[i]
		wg.Go(func() {
			req, err := http.NewRequest(http.MethodGet, url, nil)
			if err != nil {
				w.err = err
				return
			}
			var sample bytes.Buffer
			for now := time.Now(); now.Before(deadline); {
				check := w.requests%envelopeEveryNth == 0
				resp, err := client.Do(req)
				if err != nil {
					w.err = err
					return
				}
				if check {
					sample.Reset()
					_, err = sample.ReadFrom(resp.Body)
				} else {
					_, err = io.Copy(io.Discard, resp.Body)
				}
				resp.Body.Close()
				end := time.Now()
				if err != nil {
					w.err = fmt.Errorf("reading the answer: %w", err)
					return
				}
				if resp.StatusCode != http.StatusOK {
					w.err = fmt.Errorf("GET %s answered %s", url, resp.Status)
					return
				}
				if check {
					if env, err := decodeEnvelope(sample.Bytes()); err != nil || env.Status != "success" {
						w.err = fmt.Errorf("GET %s: not a success envelope: %v %.200q", url, err, sample.Bytes())
						return
					}
				}
				w.latency.record(end.Sub(now))
				w.requests++
				now = end
			}
		})
	}
	wg.Wait()
	res := &loadResult{elapsed: time.Since(start)}
	for i := range workers {
		if err := workers[i].err; err != nil {
			return nil, err
		}
		res.requests += workers[i].requests
		res.latency.merge(&workers[i].latency)
	}
	return res, nil
}
