//go:build pprof

package main

import (
	"net/http"
	_ "net/http/pprof" // the profiling handlers on http.DefaultServeMux
	"os"
	"runtime"
	"time"
)

// A binary built with -tags pprof serves Go's profiles on SKYGATE_PPROF_ADDR (a loopback
// address such as 127.0.0.1:6060), apart from the API. The default build has none of it.
func init() {
	if addr := os.Getenv("SKYGATE_PPROF_ADDR"); addr != "" {
		runtime.SetMutexProfileFraction(10)
		runtime.SetBlockProfileRate(int(time.Millisecond))
		go func() { _ = http.ListenAndServe(addr, nil) }()
	}
}
