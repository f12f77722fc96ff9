package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

const (
	fanOutSubscribers = 1000
	maxDeliveryP99    = 50 * time.Millisecond
	maxDeliveryMax    = 200 * time.Millisecond
)

// subscriber is one event stream following a launch: the delivery latency of each tick
// line, and which lines it got.
type subscriber struct {
	clusterIs []byte // what every progress event must hold: its cluster's name; nil on /cluster/events
	latencies []time.Duration
	printed   []time.Time // when each line of latencies was printed
	got       []bool
	distinct  int
	err       error
	// With readStamps, reads is, for each line, the time from its print to the event's
	// timestamp, when skygate read it: the part of the latency before the fan-out. One
	// subscriber of each cluster notes it (it is the same for all).
	readStamps bool
	reads      []time.Duration
}

// followers are subscribers following their streams until their launches end.
type followers struct {
	subs []subscriber
	wg   sync.WaitGroup
}

// follow starts following each stream, the i-th expecting lines tick lines in events of
// cluster(i), until its launch ends or the deadline passes.
func follow(streams []*eventStream, lines int, cluster func(i int) string, deadline time.Time) *followers {
	f := &followers{subs: make([]subscriber, len(streams))}
	stamped := map[string]bool{}
	for i, stream := range streams {
		sub := &f.subs[i]
		name := cluster(i)
		if name != "" {
			sub.clusterIs = []byte(`"cluster":"` + name + `"`)
		}
		if !stamped[name] {
			stamped[name], sub.readStamps = true, true
		}
		sub.latencies = make([]time.Duration, 0, lines)
		sub.printed = make([]time.Time, 0, lines)
		sub.got = make([]bool, lines)
		_ = stream.conn.SetReadDeadline(deadline)
		f.wg.Go(func() { sub.follow(stream) })
	}
	return f
}

// flowCost is how long events flowed and the CPU both sides used meanwhile, which shows
// whether the machine they share was saturated.
type flowCost struct {
	elapsed, skygateCPU, harnessCPU time.Duration
}

// measureFlow calls start, which makes the events flow, and waits until every follower
// is done.
func (f *followers) measureFlow(sg *skygate, start func() error) (flowCost, error) {
	sgCPUBefore, err := sg.cpuTime()
	if err != nil {
		return flowCost{}, err
	}
	harnessCPUBefore, flowStart := harnessCPUTime(), time.Now()
	if err := start(); err != nil {
		return flowCost{}, err
	}
	f.wg.Wait()
	cost := flowCost{elapsed: time.Since(flowStart), harnessCPU: harnessCPUTime() - harnessCPUBefore}
	sgCPU, err := sg.cpuTime()
	cost.skygateCPU = sgCPU - sgCPUBefore
	return cost, err
}

// deliveries sums up what the followers got.
type deliveries struct {
	latencies []time.Duration // of every tick line to every subscriber, sorted
	reads     []time.Duration // from each line's print to skygate's reading it, sorted
	complete  int             // subscribers that got every line
	firstErr  error           // why the first incomplete subscriber stopped
}

func (f *followers) deliveries() deliveries { return f.deliveriesPrintedAfter(time.Time{}) }

// deliveriesPrintedAfter sums up the deliveries of the lines printed after from.
func (f *followers) deliveriesPrintedAfter(from time.Time) deliveries {
	var d deliveries
	for i := range f.subs {
		sub := &f.subs[i]
		for j, latency := range sub.latencies {
			if sub.printed[j].After(from) {
				d.latencies = append(d.latencies, latency)
				// reads holds a line's read only on the one subscriber of a cluster that
				// notes it, in the order of latencies.
				if j < len(sub.reads) {
					d.reads = append(d.reads, sub.reads[j])
				}
			}
		}
		if sub.distinct == len(sub.got) {
			d.complete++
		} else if d.firstErr == nil {
			d.firstErr = sub.err
		}
	}
	slices.Sort(d.latencies)
	slices.Sort(d.reads)
	return d
}

func (d deliveries) percentile(p float64) time.Duration { return percentile(d.latencies, p) }

// percentile is the sample of sorted below which a fraction p of them fall.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(p*float64(len(sorted)-1))]
}

// p99Figure is the delivery p99 with its details, against the time sky printed each line.
func (d deliveries) p99Figure(name string, cost flowCost) figure {
	p99 := d.percentile(0.99)
	return figure{
		Name: name, Value: ms(p99), Unit: "ms",
		Measured: fmt.Sprintf("%s (p50 %s, max %s, %s deliveries in %.1f s; print to skygate's read p50 %s, p99 %s; CPU skygate %.1f s, harness %.1f s)",
			fmtMS(p99), fmtMS(d.percentile(0.5)), fmtMS(d.percentile(1)), thousands(int64(len(d.latencies))), cost.elapsed.Seconds(),
			fmtMS(percentile(d.reads, 0.5)), fmtMS(percentile(d.reads, 0.99)), cost.skygateCPU.Seconds(), cost.harnessCPU.Seconds()),
		Target: "< " + fmtMS(maxDeliveryP99), Baseline: deliveryBaseline, Pass: len(d.latencies) > 0 && p99 < maxDeliveryP99,
	}
}

// completeFigure counts the subscribers that got every line.
func (d deliveries) completeFigure(name string, subscribers int, lines string) figure {
	measured := fmt.Sprintf("%s/%s (%s)", thousands(int64(d.complete)), thousands(int64(subscribers)), lines)
	if d.firstErr != nil {
		measured += fmt.Sprintf("; first incomplete: %v", d.firstErr)
	}
	return figure{
		Name: name, Value: float64(d.complete), Unit: "subscribers",
		Measured: measured, Target: fmt.Sprintf("%s/%s", thousands(int64(subscribers)), thousands(int64(subscribers))), Baseline: "-",
		Pass: d.complete == subscribers,
	}
}

const deliveryBaseline = "time sky printed the line"

func measureFanOut(sg *skygate, r *report) error {
	streams, err := openEventStreams(fanOutSubscribers, sg.defaultEvents)
	defer closeEventStreams(streams)
	if err != nil {
		return fmt.Errorf("%d of %d subscribers connected: %w", len(streams), fanOutSubscribers, err)
	}
	// A launch prints its lines in defaultLines×defaultTick; the rest is slack for a
	// loaded machine. A stream that is still open then has missed its end.
	deadline := time.Now().Add(defaultLines*defaultTick + 15*time.Second)
	followers := follow(streams, defaultLines, func(int) string { return "" }, deadline)
	cost, err := followers.measureFlow(sg, func() error {
		_, err := expect(http.MethodPost, sg.url+"/cluster/launch", http.StatusAccepted)
		return err
	})
	if err != nil {
		return err
	}
	d := followers.deliveries()
	r.add(d.p99Figure("event delivery p99", cost))
	worst := d.percentile(1)
	r.add(figure{
		Name: "event delivery max", Value: ms(worst), Unit: "ms",
		Measured: fmtMS(worst), Target: "< " + fmtMS(maxDeliveryMax), Baseline: deliveryBaseline,
		Pass: len(d.latencies) > 0 && worst < maxDeliveryMax,
	})
	r.add(d.completeFigure("subscribers with every line", fanOutSubscribers, fmt.Sprintf("%d lines each", defaultLines)))

	if err := sg.waitStatus("running", 15*time.Second); err != nil {
		return err
	}
	if _, err := expect(http.MethodPost, sg.url+"/cluster/destroy", http.StatusAccepted); err != nil {
		return err
	}
	return sg.waitStatus("no_server", 15*time.Second)
}

// follow reads the stream until the launch completes (or fails), the stream ends or the
// read deadline passes, noting each tick line.
func (s *subscriber) follow(stream *eventStream) {
	reader := bufio.NewReader(stream.body)
	for {
		line, err := reader.ReadSlice('\n')
		if err != nil {
			s.err = fmt.Errorf("stream ended after %d lines: %w", s.distinct, err)
			return
		}
		data, ok := bytes.CutPrefix(line, []byte("data: "))
		if !ok {
			continue
		}
		// The clock is read before anything else is done with the line.
		now := time.Now()
		switch {
		case bytes.Contains(data, []byte(`"type":"progress"`)):
			if s.clusterIs != nil && !bytes.Contains(data, s.clusterIs) {
				s.err = fmt.Errorf("a progress event without %s: %s", s.clusterIs, bytes.TrimSpace(data))
				return
			}
			s.noteTick(data, now)
		case bytes.Contains(data, []byte(`"type":"complete"`)), bytes.Contains(data, []byte(`"type":"error"`)):
			if s.distinct < len(s.got) {
				s.err = fmt.Errorf("operation ended after %d lines: %s", s.distinct, bytes.TrimSpace(data))
			}
			return
		}
	}
}

// noteTick records a `tick <seq> <unixnano>` progress message. It looks for the message
// in the JSON text rather than decoding it: thousands of subscribers share the machine
// with skygate, and a decoder per event would weigh on the latency being measured.
func (s *subscriber) noteTick(data []byte, now time.Time) {
	_, rest, ok := bytes.Cut(data, []byte(`"message":"tick `))
	if !ok {
		return
	}
	message, _, _ := bytes.Cut(rest, []byte(`"`))
	seqText, nanosText, _ := bytes.Cut(message, []byte(" "))
	seq, err1 := strconv.Atoi(string(seqText))
	nanos, err2 := strconv.ParseInt(string(nanosText), 10, 64)
	if err1 != nil || err2 != nil || seq < 0 || seq >= len(s.got) {
		s.err = fmt.Errorf("unreadable tick %q", message)
		return
	}
	printed := time.Unix(0, nanos)
	s.latencies = append(s.latencies, now.Sub(printed))
	s.printed = append(s.printed, printed)
	if s.readStamps {
		s.noteRead(data, printed)
	}
	if !s.got[seq] {
		s.got[seq] = true
		s.distinct++
	}
}

// noteRead records the time from a line's print to the timestamp of its event.
func (s *subscriber) noteRead(data []byte, printed time.Time) {
	_, rest, ok := bytes.Cut(data, []byte(`"timestamp":"`))
	stamp, _, _ := bytes.Cut(rest, []byte(`"`))
	read, err := time.Parse(time.RFC3339Nano, string(stamp))
	if !ok || err != nil {
		s.err = fmt.Errorf("a progress event without a readable timestamp: %s", bytes.TrimSpace(data))
		return
	}
	s.reads = append(s.reads, read.Sub(printed))
}
