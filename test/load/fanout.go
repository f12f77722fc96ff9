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
	latencies []time.Duration
	got       []bool
	distinct  int
	err       error
}

func measureFanOut(sg *skygate, r *report) error {
	streams, err := openEventStreams(sg.url, fanOutSubscribers)
	defer closeEventStreams(streams)
	if err != nil {
		return fmt.Errorf("%d of %d subscribers connected: %w", len(streams), fanOutSubscribers, err)
	}
	subs := make([]subscriber, len(streams))
	// A launch prints its lines in defaultLines×defaultTick; the rest is slack for a
	// loaded machine. A stream that is still open then has missed its end.
	deadline := time.Now().Add(defaultLines*defaultTick + 15*time.Second)
	var wg sync.WaitGroup
	for i, stream := range streams {
		sub := &subs[i]
		sub.latencies = make([]time.Duration, 0, defaultLines)
		sub.got = make([]bool, defaultLines)
		_ = stream.conn.SetReadDeadline(deadline)
		wg.Go(func() { sub.follow(stream) })
	}
	// The CPU both sides use while the events flow shows whether the machine, which they
	// share, was saturated.
	sgCPUBefore, err := sg.cpuTime()
	if err != nil {
		return err
	}
	harnessCPUBefore, flowStart := harnessCPUTime(), time.Now()
	if _, err := expect(http.MethodPost, sg.url+"/cluster/launch", http.StatusAccepted); err != nil {
		return err
	}
	wg.Wait()
	flow := time.Since(flowStart)
	harnessCPU := harnessCPUTime() - harnessCPUBefore
	sgCPU, err := sg.cpuTime()
	if err != nil {
		return err
	}
	sgCPU -= sgCPUBefore

	var all []time.Duration
	complete := 0
	var firstErr error
	for i := range subs {
		all = append(all, subs[i].latencies...)
		if subs[i].distinct == defaultLines {
			complete++
		} else if firstErr == nil && subs[i].err != nil {
			firstErr = subs[i].err
		}
	}
	slices.Sort(all)
	percentile := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return all[int(p*float64(len(all)-1))]
	}
	p50, p99, worst := percentile(0.5), percentile(0.99), percentile(1)
	baseline := "time sky printed the line"
	r.add(figure{
		Name: "event delivery p99", Value: ms(p99), Unit: "ms",
		Measured: fmt.Sprintf("%s (p50 %s, %s deliveries in %.1f s; CPU skygate %.1f s, harness %.1f s)",
			fmtMS(p99), fmtMS(p50), thousands(int64(len(all))), flow.Seconds(), sgCPU.Seconds(), harnessCPU.Seconds()),
		Target: "< " + fmtMS(maxDeliveryP99), Baseline: baseline, Pass: len(all) > 0 && p99 < maxDeliveryP99,
	})
	r.add(figure{
		Name: "event delivery max", Value: ms(worst), Unit: "ms",
		Measured: fmtMS(worst), Target: "< " + fmtMS(maxDeliveryMax), Baseline: baseline,
		Pass: len(all) > 0 && worst < maxDeliveryMax,
	})
	measured := fmt.Sprintf("%d/%d (%d lines each)", complete, fanOutSubscribers, defaultLines)
	if firstErr != nil {
		measured += fmt.Sprintf("; first incomplete: %v", firstErr)
	}
	r.add(figure{
		Name: "subscribers with every line", Value: float64(complete), Unit: "subscribers",
		Measured: measured, Target: fmt.Sprintf("%d/%d", fanOutSubscribers, fanOutSubscribers), Baseline: "-",
		Pass: complete == fanOutSubscribers,
	})

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
			s.noteTick(data, now)
		case bytes.Contains(data, []byte(`"type":"complete"`)), bytes.Contains(data, []byte(`"type":"error"`)):
			if s.distinct < defaultLines {
				s.err = fmt.Errorf("operation ended after %d lines: %s", s.distinct, bytes.TrimSpace(data))
			}
			return
		}
	}
}

// noteTick records a `tick <seq> <unixnano>` progress message. It looks for the message
// in the JSON text rather than decoding it: 1,000 subscribers share the machine with
// skygate, and a decoder per event would weigh on the latency being measured.
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
	s.latencies = append(s.latencies, now.Sub(time.Unix(0, nanos)))
	if !s.got[seq] {
		s.got[seq] = true
		s.distinct++
	}
}
