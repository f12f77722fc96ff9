package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"time"
)

const (
	readyStartsFull  = 5
	readyStartsQuick = 3
	maxTimeToReady   = 200 * time.Millisecond
	readyPoll        = time.Millisecond
)

// readyClient opens a new connection for every poll: before skygate listens there is no
// connection to keep, and a refused dial returns at once.
var readyClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}

// measureReady starts fresh skygate processes whose sky takes 2 s per call, and times
// each from exec to the first 200 from GET /healthz. Start-up runs `sky --version` and
// `sky check` in the background, so a start that waited on them would show it.
func measureReady(h *harness, r *report) error {
	starts := readyStartsFull
	if h.opts.quick {
		starts = readyStartsQuick
	}
	times := make([]time.Duration, 0, starts)
	for i := range starts {
		d, err := timeToReady(h, fmt.Sprintf("ready%d", i))
		if err != nil {
			return err
		}
		times = append(times, d)
	}
	slices.Sort(times)
	worst := times[len(times)-1]
	r.add(figure{
		Name: "time to ready", Value: ms(worst), Unit: "ms",
		Measured: fmt.Sprintf("%s (slowest of %d starts; median %s)", fmtMS(worst), starts, fmtMS(times[len(times)/2])),
		Target:   "< " + fmtMS(maxTimeToReady), Baseline: fmt.Sprintf("each sky call takes %v", slowCallDelay),
		Pass: worst < maxTimeToReady,
	})
	return nil
}

func timeToReady(h *harness, name string) (time.Duration, error) {
	addr, err := freeLoopbackAddr()
	if err != nil {
		return 0, err
	}
	sg, err := h.launchSkygate(name, skygateSettings{addr: addr, skyEnv: []string{skySlowEnv + "=1"}})
	if err != nil {
		return 0, err
	}
	defer h.stop(sg.child)
	return sg.pollUntil("http://"+addr+"/healthz", answered200)
}

func answered200(code int, _ []byte) error {
	if code != http.StatusOK {
		return fmt.Errorf("answered %d", code)
	}
	return nil
}

// pollUntil polls GET url, from before skygate listens, until accept takes the answer,
// and returns the time from sg's exec to that answer.
func (sg *skygate) pollUntil(url string, accept func(code int, body []byte) error) (time.Duration, error) {
	for {
		resp, err := readyClient.Get(url)
		if err == nil {
			var body []byte
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil {
				if err = accept(resp.StatusCode, body); err == nil {
					return time.Since(sg.started), nil
				}
			}
		}
		select {
		case <-sg.exited:
			return 0, fmt.Errorf("skygate exited before answering GET %s: %s", url, sg.stderr)
		default:
		}
		if time.Since(sg.started) > 10*time.Second {
			return 0, fmt.Errorf("GET %s did not answer as awaited within 10 s (last: %v): %s", url, err, sg.stderr)
		}
		time.Sleep(readyPoll)
	}
}

// freeLoopbackAddr finds a port nothing listens on, to know where to poll before
// skygate prints its address.
func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
