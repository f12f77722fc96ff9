package main

import (
	"encoding/json"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// procRecord is one line of SKYSTUB_PROCLOG: a process started (with its argv) or ended
// (with its exit code, or the signal that ended it). A process killed by SIGKILL has no
// end record.
type procRecord struct {
	Event  string    `json:"event"` // "start" or "end"
	PID    int       `json:"pid"`
	Time   time.Time `json:"time"`
	Argv   []string  `json:"argv,omitempty"`   // start: "sky" and the arguments
	Exit   *int      `json:"exit,omitempty"`   // end: the exit code
	Signal string    `json:"signal,omitempty"` // end: "SIGTERM" when that ended it
}

var (
	procLog     string
	procEndOnce sync.Once
)

// startProcessRecord records this process's start in path (when set), and arranges for
// its end to be recorded, also when SIGTERM ends it: the signal is then raised again with
// its default action, so the process still dies of it.
func startProcessRecord(path string, args []string) {
	if path == "" {
		return
	}
	procLog = path
	appendProcRecord(procRecord{Event: "start", Argv: append([]string{"sky"}, args...)})
	terms := make(chan os.Signal, 1)
	signal.Notify(terms, syscall.SIGTERM)
	go func() {
		<-terms
		procEndOnce.Do(func() { appendProcRecord(procRecord{Event: "end", Signal: "SIGTERM"}) })
		signal.Reset(syscall.SIGTERM)
		_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
	}()
}

// exit records the end of this process and exits with code.
func exit(code int) {
	if procLog != "" {
		procEndOnce.Do(func() { appendProcRecord(procRecord{Event: "end", Exit: &code}) })
	}
	os.Exit(code)
}

// appendProcRecord appends one record with one write, so that concurrent processes
// never mix their lines. Failures are ignored: recording must never change behaviour.
func appendProcRecord(rec procRecord) {
	rec.PID, rec.Time = os.Getpid(), time.Now().UTC()
	line, err := json.Marshal(rec)
	if err != nil {
		return
	}
	f, err := os.OpenFile(procLog, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = f.Write(append(line, '\n'))
}
