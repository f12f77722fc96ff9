// Package metrics exposes skygate's Prometheus metrics through prometheus/client_golang:
// HTTP requests by route and code with durations, sky runs by command and outcome with
// durations, clusters by status, open event streams, events published, slow streams
// dropped, and the age of the cached sky check.
package metrics

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

// Sources are the values read at each scrape; nil fields are left out.
type Sources struct {
	// Clusters returns every record (for clusters by status).
	Clusters func(ctx context.Context) ([]core.Cluster, error)
	// OpenStreams is the number of event streams open now.
	OpenStreams func() int
	// EventsPublished and StreamsDropped count since start.
	EventsPublished func() uint64
	StreamsDropped  func() uint64
	// CheckAge is the age of the cached sky check, false when there is none.
	CheckAge func() (time.Duration, bool)
}

// Metrics holds the registry and the instruments.
type Metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	reqDuration *prometheus.HistogramVec
	skyRuns     *prometheus.CounterVec
	skyDuration *prometheus.HistogramVec
	byRequest   sync.Map // requestLabels → *requestInstruments
}

// New registers every metric, reading src at each scrape.
func New(src Sources) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skygate_http_requests_total", Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		reqDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "skygate_http_request_duration_seconds", Help: "HTTP request durations by route pattern and method (event streams: until their headers).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"route", "method"}),
		skyRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skygate_sky_runs_total", Help: "sky runs by command and outcome (ok, failed: sky reported a failure, error: sky could not be run or answered nothing usable, cancelled).",
		}, []string{"command", "outcome"}),
		skyDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "skygate_sky_run_duration_seconds", Help: "sky run durations by command (mutating runs: as long as skygate followed them).",
			Buckets: []float64{.1, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600},
		}, []string{"command"}),
	}
	m.reg.MustRegister(m.requests, m.reqDuration, m.skyRuns, m.skyDuration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if src.Clusters != nil {
		m.reg.MustRegister(&clusterCollector{list: src.Clusters})
	}
	if src.OpenStreams != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "skygate_event_streams_open", Help: "Event streams open now.",
		}, func() float64 { return float64(src.OpenStreams()) }))
	}
	if src.EventsPublished != nil {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "skygate_events_published_total", Help: "Events published to the event streams.",
		}, func() float64 { return float64(src.EventsPublished()) }))
	}
	if src.StreamsDropped != nil {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "skygate_event_streams_dropped_total", Help: "Event streams dropped for falling behind (they can resume with Last-Event-ID).",
		}, func() float64 { return float64(src.StreamsDropped()) }))
	}
	if src.CheckAge != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "skygate_sky_check_age_seconds", Help: "Age of the cached sky check result (-1 before the first).",
		}, func() float64 {
			if age, ok := src.CheckAge(); ok {
				return age.Seconds()
			}
			return -1
		}))
	}
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveRequest counts and times one answered request by chi's route pattern (never
// the raw path, so a client cannot grow the label set); requests no route matched count
// as "unmatched". The HTTP adapter calls it once per request.
func (m *Metrics) ObserveRequest(r *http.Request, code int, elapsed time.Duration) {
	route := "unmatched"
	if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
		route = rc.RoutePattern()
	}
	method := r.Method
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodOptions:
	default:
		method = "other"
	}
	key := requestLabels{route: route, method: method, code: code}
	inst, ok := m.byRequest.Load(key)
	if !ok {
		inst, _ = m.byRequest.LoadOrStore(key, &requestInstruments{
			count:    m.requests.WithLabelValues(route, method, strconv.Itoa(code)),
			duration: m.reqDuration.WithLabelValues(route, method),
		})
	}
	i := inst.(*requestInstruments)
	i.count.Inc()
	i.duration.Observe(elapsed.Seconds())
}

// requestLabels are the labels of one request's metrics. Their set is bounded: route
// patterns, five methods and the status codes the API writes.
type requestLabels struct {
	route, method string
	code          int
}

// requestInstruments are the metrics of one requestLabels, looked up once: finding a
// labelled child hashes its labels, which is not free on the status route.
type requestInstruments struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// clusterCollector reports clusters by status at each scrape.
type clusterCollector struct {
	list func(ctx context.Context) ([]core.Cluster, error)
}

var clustersDesc = prometheus.NewDesc("skygate_clusters", "Managed clusters by status.", []string{"status"}, nil)

func (c *clusterCollector) Describe(ch chan<- *prometheus.Desc) { ch <- clustersDesc }

func (c *clusterCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	recs, err := c.list(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(clustersDesc, err)
		return
	}
	counts := map[core.ClusterStatus]int{}
	for _, r := range recs {
		if r.Exists() {
			counts[r.Status]++
		}
	}
	for _, s := range core.AllStatuses() {
		if s != core.StatusNoServer {
			ch <- prometheus.MustNewConstMetric(clustersDesc, prometheus.GaugeValue, float64(counts[s]), string(s))
		}
	}
}

// Runner wraps a ports.Runner, counting and timing its sky runs.
func (m *Metrics) Runner(r ports.Runner) ports.Runner { return &runner{next: r, m: m} }

type runner struct {
	next ports.Runner
	m    *Metrics
}

func (r *runner) observe(command string, start time.Time, failed bool, err error) {
	outcome := "ok"
	switch {
	case errors.Is(err, context.Canceled):
		outcome = "cancelled"
	case err != nil:
		outcome = "error"
	case failed:
		outcome = "failed"
	}
	r.m.skyRuns.WithLabelValues(command, outcome).Inc()
	r.m.skyDuration.WithLabelValues(command).Observe(time.Since(start).Seconds())
}

// skyCommand is the sky subcommand an action runs.
func skyCommand(a core.Action) string {
	if a == core.ActionDestroy {
		return "down"
	}
	return string(a)
}

func (r *runner) Start(ctx context.Context, op ports.Operation, onLine ports.LineFunc) (ports.RunOutcome, error) {
	start := time.Now()
	out, err := r.next.Start(ctx, op, onLine)
	r.observe(skyCommand(op.Action), start, out.Failed, err)
	return out, err
}

func (r *runner) Attach(ctx context.Context, key ports.OperationKey, offset int64, onLine ports.LineFunc) (ports.RunOutcome, error) {
	return r.next.Attach(ctx, key, offset, onLine)
}

func (r *runner) Cancel(ctx context.Context, key ports.OperationKey) error {
	return r.next.Cancel(ctx, key)
}

func (r *runner) Forget(keep int) error { return r.next.Forget(keep) }

func (r *runner) Status(ctx context.Context, names []string, refresh bool) (map[string]core.SkyCluster, error) {
	start := time.Now()
	out, err := r.next.Status(ctx, names, refresh)
	r.observe("status", start, false, err)
	return out, err
}

func (r *runner) IP(ctx context.Context, name string) (string, error) {
	start := time.Now()
	ip, err := r.next.IP(ctx, name)
	r.observe("ip", start, false, err)
	return ip, err
}

func (r *runner) Check(ctx context.Context) (core.CheckResult, error) {
	start := time.Now()
	res, err := r.next.Check(ctx)
	r.observe("check", start, false, err)
	return res, err
}

func (r *runner) Version(ctx context.Context) (core.Version, error) {
	start := time.Now()
	v, err := r.next.Version(ctx)
	r.observe("version", start, false, err)
	return v, err
}
