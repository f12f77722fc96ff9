package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// envelope is skygate's answer to every JSON request.
type envelope struct {
	Status string          `json:"status"`
	Result json.RawMessage `json:"result"`
	Errors json.RawMessage `json:"errors"`
	Meta   json.RawMessage `json:"meta"`
}

// decodeEnvelope parses body as an envelope, requiring each of its four members.
func decodeEnvelope(body []byte) (envelope, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		return envelope{}, fmt.Errorf("not JSON: %w: %.200q", err, body)
	}
	for _, key := range []string{"status", "result", "errors", "meta"} {
		if _, ok := members[key]; !ok {
			return envelope{}, fmt.Errorf("not an envelope (no %q): %.200q", key, body)
		}
	}
	var env envelope
	err := json.Unmarshal(body, &env)
	return env, err
}

// apiClient makes the harness's own requests to a service: set-up, polling, checks.
var apiClient = &http.Client{Timeout: 30 * time.Second}

// call makes one request and returns the status code, the raw body and its envelope.
func call(method, url string) (int, []byte, envelope, error) {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return 0, nil, envelope{}, err
	}
	if method == http.MethodPost {
		req.Body = io.NopCloser(strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := apiClient.Do(req)
	if err != nil {
		return 0, nil, envelope{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, envelope{}, err
	}
	env, err := decodeEnvelope(body)
	if err != nil {
		return resp.StatusCode, body, env, fmt.Errorf("%s %s: %w", method, url, err)
	}
	return resp.StatusCode, body, env, nil
}

// expect makes a request that must answer want.
func expect(method, url string, want int) (envelope, error) {
	code, body, env, err := call(method, url)
	if err != nil {
		return env, err
	}
	if code != want {
		return env, fmt.Errorf("%s %s: got %d, want %d: %.300s", method, url, code, want, body)
	}
	return env, nil
}

// clusterStatus reads the cluster status as skygate knows it, without running sky.
func (sg *skygate) clusterStatus() (string, error) {
	env, err := expect(http.MethodGet, sg.url+"/cluster/status", http.StatusOK)
	if err != nil {
		return "", err
	}
	var result struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(env.Result, &result); err != nil || result.Status == "" {
		return "", fmt.Errorf("status result without a status: %s", env.Result)
	}
	return result.Status, nil
}

// waitStatus polls the status until it is want.
func (sg *skygate) waitStatus(want string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		got, err := sg.clusterStatus()
		if err != nil {
			return err
		}
		if got == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster status still %q after %v, want %q: %s", got, timeout, want, sg.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitCheckWarm waits until GET /cluster/check answers from the result of the start-up
// `sky check`, and requires it to have found enabled clouds (else launches answer 424).
func (sg *skygate) waitCheckWarm() error {
	env, err := expect(http.MethodGet, sg.url+"/cluster/check", http.StatusOK)
	if err != nil {
		return err
	}
	var result struct {
		EnabledClouds []string `json:"enabled_clouds"`
	}
	if err := json.Unmarshal(env.Result, &result); err != nil || len(result.EnabledClouds) == 0 {
		return fmt.Errorf("sky check of the fake sky found no enabled cloud: %s", env.Result)
	}
	return nil
}

// eventStream is one subscriber's connection to an events route, opened on a raw
// connection so that thousands of them cost the harness a socket each and no more.
type eventStream struct {
	conn net.Conn
	body io.ReadCloser // the event stream, de-chunked
}

// defaultEvents is the URL of the default cluster's event stream, for every subscriber.
func (sg *skygate) defaultEvents(int) string { return sg.url + "/cluster/events" }

// openEventStream connects to the event stream at url and waits for the response
// headers, which skygate sends at once.
func openEventStream(url string, timeout time.Duration) (*eventStream, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	conn, err := net.DialTimeout("tcp", req.URL.Host, timeout)
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("reading the event stream headers: %w", err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		conn.Close()
		return nil, fmt.Errorf("GET %s: %s, Content-Type %q", req.URL.Path, resp.Status, resp.Header.Get("Content-Type"))
	}
	_ = conn.SetDeadline(time.Time{})
	return &eventStream{conn: conn, body: resp.Body}, nil
}

func (s *eventStream) Close() error { return s.conn.Close() }

// openEventStreams opens n streams, the i-th at url(i), with a bounded number of
// concurrent dials; it returns those that opened, in order, and the first error.
func openEventStreams(n int, url func(i int) string) ([]*eventStream, error) {
	const dialers = 64
	streams := make([]*eventStream, n)
	errs := make([]error, n)
	next := make(chan int)
	done := make(chan struct{})
	for range dialers {
		go func() {
			for i := range next {
				streams[i], errs[i] = openEventStream(url(i), 10*time.Second)
			}
			done <- struct{}{}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	for range dialers {
		<-done
	}
	opened := streams[:0]
	var firstErr error
	for i, s := range streams {
		if s != nil {
			opened = append(opened, s)
		} else if firstErr == nil {
			firstErr = errs[i]
		}
	}
	return opened, firstErr
}

func closeEventStreams(streams []*eventStream) {
	for _, s := range streams {
		s.Close()
	}
}
