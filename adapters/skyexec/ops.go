package skyexec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/skygate/skygate/ports"
)

// A supervised run lives in its own directory, OpsDir/<operation key>:
//
//	spec.json  what to run: sky's argv, the timeout and kill grace (written by Start)
//	output     sky's stdout and stderr as raw bytes, in the order they were read, each
//	           stream's lines kept whole (written by the supervisor)
//	pid        the supervisor's identity, pid and start time, written before sky may start
//	sky.pid    sky's identity, written once sky has started
//	exit       how sky ended, with the message that explains a failure; it appears
//	           (atomically) only once sky and its process group are gone and the output
//	           is complete
//
// The identities and the exit record are JSON.
const (
	specFile        = "spec.json"
	outputFile      = "output"
	identityFile    = "pid"
	skyIdentityFile = "sky.pid"
	exitFile        = "exit"
)

// processID names a process by pid and start time: a pid alone may have been reused by
// an unrelated process since.
type processID struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`
}

// runSpec is what a supervisor runs.
type runSpec struct {
	Key         string        `json:"key"`
	Argv        []string      `json:"argv"` // argv[0] is sky's resolved path
	Timeout     time.Duration `json:"timeout"`
	KillGrace   time.Duration `json:"kill_grace"`
	MaxLogBytes int64         `json:"max_log_bytes"`
	Nice        int           `json:"nice,omitempty"`         // see Config.Nice
	SessionNice int           `json:"session_nice,omitempty"` // see Config.Runs
	Created     time.Time     `json:"created"`
}

// identity names a run's supervisor and the sky it started (SkyPID 0 before that).
type identity struct {
	PID, SkyPID     int
	Start, SkyStart uint64
}

func (id identity) supervisorLive() bool { return processLive(id.PID, id.Start) }
func (id identity) skyLive() bool        { return id.SkyPID > 0 && processLive(id.SkyPID, id.SkyStart) }

// exitRecord is how a supervised sky run ended.
type exitRecord struct {
	// ExitCode is sky's exit status; -1 when a signal ended it, or when it never started.
	ExitCode  int  `json:"exit_code"`
	Signal    int  `json:"signal,omitempty"`
	TimedOut  bool `json:"timed_out,omitempty"`
	Cancelled bool `json:"cancelled,omitempty"`
	// StartError says why sky could not be started; NotFound when it did not exist.
	StartError string    `json:"start_error,omitempty"`
	NotFound   bool      `json:"not_found,omitempty"`
	Message    string    `json:"message,omitempty"`
	Ended      time.Time `json:"ended"`
}

func (e exitRecord) outcome() ports.RunOutcome {
	failed := e.ExitCode != 0 || e.Signal != 0 || e.TimedOut || e.Cancelled || e.StartError != ""
	return ports.RunOutcome{Failed: failed, Message: e.Message}
}

// validKey bounds what an operation key may be, since it names a directory: 1 to 128
// letters, digits, '.', '_' and '-', the first a letter or a digit. A scan rather than a
// regular expression, whose compilation every supervisor would pay for at its start.
func validKey(key ports.OperationKey) bool {
	if len(key) == 0 || len(key) > 128 || !isASCIIAlnum(key[0]) {
		return false
	}
	for i := 1; i < len(key); i++ {
		if c := key[i]; !isASCIIAlnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func isASCIIAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// readJSON reads a JSON file into v; ok is false when the file does not exist.
func readJSON(path string, v any) (ok bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	return true, nil
}

// readExit reads a run's exit record; ok is false while there is none.
func readExit(dir string) (exitRecord, bool, error) {
	var rec exitRecord
	ok, err := readJSON(filepath.Join(dir, exitFile), &rec)
	return rec, ok, err
}

// readIdentity reads a run's identities; ok is false when the supervisor never recorded
// itself.
func readIdentity(dir string) (identity, bool) {
	var sup, sky processID
	if ok, err := readJSON(filepath.Join(dir, identityFile), &sup); !ok || err != nil || sup.PID <= 0 {
		return identity{}, false
	}
	id := identity{PID: sup.PID, Start: sup.Start}
	if ok, err := readJSON(filepath.Join(dir, skyIdentityFile), &sky); ok && err == nil {
		id.SkyPID, id.SkyStart = sky.PID, sky.Start
	}
	return id, true
}

// writeJSONAtomic writes v to path so that a reader sees either no file or all of it:
// a temporary file in the same directory, synced, then renamed over path.
func writeJSONAtomic(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// processStart returns the start time of process pid (field 22 of /proc/<pid>/stat,
// in clock ticks since boot); ok is false when no such process runs (a zombie has
// ended, so it does not count).
func processStart(pid int) (start uint64, ok bool) {
	if pid <= 0 {
		return 0, false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) is in parentheses and may hold spaces or parentheses
	// itself: the fields that follow start after the last ')'.
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, false
	}
	fields := bytes.Fields(stat[end+1:])
	// fields[0] is field 3 (the state), so field 22 is fields[19].
	if len(fields) < 20 || len(fields[0]) != 1 || fields[0][0] == 'Z' || fields[0][0] == 'X' {
		return 0, false
	}
	start, err = strconv.ParseUint(string(fields[19]), 10, 64)
	return start, err == nil
}

// processLive reports whether the process pid that started at start still runs.
func processLive(pid int, start uint64) bool {
	now, ok := processStart(pid)
	return ok && now == start
}
