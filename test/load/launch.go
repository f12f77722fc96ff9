package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

const (
	concurrentLaunches = 100
	maxAcceptedLatency = 10 * time.Millisecond
	// launchPhaseLines keeps the winning launch short: only its count matters here.
	launchPhaseLines = 20
)

// launchAnswer is one of the concurrent launch requests.
type launchAnswer struct {
	code    int
	latency time.Duration
	err     error
}

// measureConcurrentLaunch fires concurrent launches at a fresh skygate, released
// together, each on a connection opened beforehand: exactly one may win.
func measureConcurrentLaunch(h *harness, r *report) error {
	sg, err := h.startSkygate("launch", fmt.Sprintf("%s=%d", skyLinesEnv, launchPhaseLines))
	if err != nil {
		return err
	}
	defer h.stop(sg.child)
	if err := sg.waitCheckWarm(); err != nil {
		return err
	}
	request, err := launchRequestBytes(sg.url)
	if err != nil {
		return err
	}
	conns := make([]net.Conn, concurrentLaunches)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	for i := range conns {
		if conns[i], err = net.DialTimeout("tcp", strings.TrimPrefix(sg.url, "http://"), 5*time.Second); err != nil {
			return err
		}
	}

	answers := make([]launchAnswer, len(conns))
	release := make(chan struct{})
	var ready, done sync.WaitGroup
	for i, conn := range conns {
		ready.Add(1)
		done.Go(func() {
			ready.Done()
			<-release
			answers[i] = sendLaunch(conn, request)
		})
	}
	ready.Wait()
	close(release)
	done.Wait()

	counts := map[int]int{}
	var latencies []time.Duration
	var accepted time.Duration
	for _, a := range answers {
		if a.err != nil {
			return a.err
		}
		counts[a.code]++
		latencies = append(latencies, a.latency)
		if a.code == http.StatusAccepted {
			accepted = a.latency
		}
	}
	// The winner's sky launch runs to the end before the processes are counted, so that
	// a second launch started late would be counted too.
	if counts[http.StatusAccepted] > 0 {
		if err := sg.waitStatus("running", 15*time.Second); err != nil {
			return err
		}
	}
	launches, err := sg.sky.launchCount()
	if err != nil {
		return err
	}
	lone, err := loneLaunchLatency(sg, request)
	if err != nil {
		return err
	}
	slices.Sort(latencies)
	p99 := latencies[int(0.99*float64(len(latencies)-1))]

	others := len(answers) - counts[http.StatusAccepted] - counts[http.StatusConflict]
	measured := fmt.Sprintf("%d×202, %d×409, %d sky launch", counts[http.StatusAccepted], counts[http.StatusConflict], launches)
	if others > 0 {
		measured += fmt.Sprintf(", %d other answers %v", others, counts)
	}
	r.add(figure{
		Name: fmt.Sprintf("%d concurrent launches", concurrentLaunches), Value: float64(counts[http.StatusAccepted]), Unit: "accepted",
		Measured: measured,
		Target:   fmt.Sprintf("1×202, %d×409, 1 sky launch", concurrentLaunches-1), Baseline: "-",
		Pass: counts[http.StatusAccepted] == 1 && counts[http.StatusConflict] == concurrentLaunches-1 && launches == 1,
	})
	acceptedText := "no 202"
	if counts[http.StatusAccepted] > 0 {
		acceptedText = fmtMS(accepted)
	}
	r.add(figure{
		Name: "launch 202 latency", Value: ms(accepted), Unit: "ms",
		Measured: fmt.Sprintf("%s (p99 of all %d answers %s)", acceptedText, len(answers), fmtMS(p99)),
		Target:   "< " + fmtMS(maxAcceptedLatency), Baseline: "a launch alone " + fmtMS(lone),
		Pass: counts[http.StatusAccepted] == 1 && accepted < maxAcceptedLatency,
	})
	return nil
}

// loneLaunchLatency destroys the cluster and times one launch with nothing else in
// flight: the floor the concurrent 202 is compared with.
func loneLaunchLatency(sg *skygate, request []byte) (time.Duration, error) {
	status, err := sg.clusterStatus()
	if err != nil {
		return 0, err
	}
	if status != "no_server" {
		if _, err := expect(http.MethodPost, sg.url+"/cluster/destroy", http.StatusAccepted); err != nil {
			return 0, err
		}
		if err := sg.waitStatus("no_server", 15*time.Second); err != nil {
			return 0, err
		}
	}
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(sg.url, "http://"), 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	answer := sendLaunch(conn, request)
	if answer.err != nil {
		return 0, answer.err
	}
	if answer.code != http.StatusAccepted {
		return 0, fmt.Errorf("a launch alone answered %d, want 202", answer.code)
	}
	return answer.latency, sg.waitStatus("running", 15*time.Second)
}

// launchRequestBytes is POST /cluster/launch with an empty JSON body, as written on the
// wire, so that releasing a request costs one write.
func launchRequestBytes(url string) ([]byte, error) {
	req, err := http.NewRequest(http.MethodPost, url+"/cluster/launch", strings.NewReader("{}"))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	var wire bytes.Buffer
	if err := req.Write(&wire); err != nil {
		return nil, err
	}
	return wire.Bytes(), nil
}

// sendLaunch writes the request and reads the whole answer, which must be an envelope.
func sendLaunch(conn net.Conn, request []byte) launchAnswer {
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	reader := bufio.NewReader(conn)
	start := time.Now()
	if _, err := conn.Write(request); err != nil {
		return launchAnswer{err: err}
	}
	resp, err := http.ReadResponse(reader, nil)
	if err != nil {
		return launchAnswer{err: fmt.Errorf("reading a launch answer: %w", err)}
	}
	body, err := io.ReadAll(resp.Body)
	latency := time.Since(start)
	if err != nil {
		return launchAnswer{err: fmt.Errorf("reading a launch answer: %w", err)}
	}
	if _, err := decodeEnvelope(body); err != nil {
		return launchAnswer{err: fmt.Errorf("launch answered %s: %w", resp.Status, err)}
	}
	return launchAnswer{code: resp.StatusCode, latency: latency}
}
