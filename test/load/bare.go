package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// bareBodyEnv names the file of bytes the bare server answers with; setting it makes
// this binary the bare server.
const bareBodyEnv = "HARNESS_BARE_BODY"

// runBareServer serves the baseline of the load figures: a plain net/http handler that
// writes the same bytes skygate answered the loaded request with (GET /cluster/status,
// GET /clusters), in a process of its own like skygate, so that both are measured the
// same way.
func runBareServer(bodyPath string) int {
	body, err := os.ReadFile(bodyPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bare:", err)
		return 1
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bare:", err)
		return 1
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	server := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("bare listening on http://%s\n", listener.Addr())
	err = server.Serve(listener)
	fmt.Fprintln(os.Stderr, "bare:", err)
	return 1
}

// startBareServer starts the bare server answering body and returns its URL.
func (h *harness) startBareServer(body []byte) (*child, string, error) {
	path := h.dir + "/bare-body.json"
	if err := os.WriteFile(path, body, 0o644); err != nil {
		return nil, "", err
	}
	c, err := h.start("bare server", h.self, nil, []string{bareBodyEnv + "=" + path})
	if err != nil {
		return nil, "", err
	}
	addr, err := c.waitListening(10 * time.Second)
	if err != nil {
		return nil, "", err
	}
	return c, "http://" + addr, nil
}
