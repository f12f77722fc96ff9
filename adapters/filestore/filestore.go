// Package filestore reads the state dir of skygate's earlier, single-cluster file store,
// so that the store that replaced it can import it. It only reads. That store kept:
//
//   - state.json: the one cluster's record, the last event ID issued by an Update and the
//     events of the last Updates, which the log might not hold yet (a crash between the
//     rename of state.json, which committed an Update, and the append to the log);
//   - events.jsonl: the event log, one JSON event per line, oldest first; a crash could
//     leave a torn last line without its newline, never acknowledged.
package filestore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/skygate/skygate/core"
)

// The files of the earlier store, in its state dir.
const (
	StateFile = "state.json"
	LogFile   = "events.jsonl"
)

// State is what an earlier store's state dir holds, in today's values.
type State struct {
	// Files are the paths of the files read (state.json, events.jsonl, those present).
	Files []string
	// Cluster is the record of state.json, nil without one. It names its cluster (the
	// default name when the old record named none) and has the intent the old format did
	// not keep (see desiredOf).
	Cluster *core.Cluster
	// Events are the logged events, with the Update events the log missed, oldest
	// first, each naming the cluster.
	Events []core.Event
	// LastEventID is the highest ID the earlier store issued.
	LastEventID uint64
}

// stateFile is the content of state.json.
type stateFile struct {
	Cluster     core.Cluster `json:"cluster"`
	LastEventID uint64       `json:"last_event_id"`
	Events      []core.Event `json:"events,omitempty"`
}

// Read reads the earlier store's files in dir. found is false when neither is there.
// defaultName names the cluster when the old record names none (it was never launched)
// or there is no record. A corrupt file is an error that names it.
func Read(dir, defaultName string) (state State, found bool, err error) {
	statePath, logPath := filepath.Join(dir, StateFile), filepath.Join(dir, LogFile)
	stateData, stateFound, err := readIfThere(statePath)
	if err != nil {
		return State{}, false, err
	}
	logData, logFound, err := readIfThere(logPath)
	if err != nil {
		return State{}, false, err
	}
	if !stateFound && !logFound {
		return State{}, false, nil
	}
	name := defaultName
	if stateFound {
		state.Files = append(state.Files, statePath)
		var saved stateFile
		if err := json.Unmarshal(stateData, &saved); err != nil {
			return State{}, false, corrupt(statePath, err)
		}
		if !saved.Cluster.Status.Valid() {
			return State{}, false, corrupt(statePath, fmt.Errorf("unknown cluster status %q", saved.Cluster.Status))
		}
		if saved.Cluster.Name != "" {
			name = saved.Cluster.Name
		}
		record := saved.Cluster
		record.Name = name
		record.Desired = desiredOf(record)
		state.Cluster = &record
		state.Events = saved.Events
		state.LastEventID = saved.LastEventID
	}
	if logFound {
		state.Files = append(state.Files, logPath)
		logged, err := parseLog(logPath, logData)
		if err != nil {
			return State{}, false, err
		}
		state.Events = merge(logged, state.Events)
	}
	for i := range state.Events {
		state.Events[i].Cluster = name
		state.LastEventID = max(state.LastEventID, state.Events[i].ID)
	}
	return state, true, nil
}

func readIfThere(path string) ([]byte, bool, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", path, err)
	}
	return data, true, nil
}

func corrupt(path string, err error) error {
	return fmt.Errorf("%s is corrupt (left as it is; repair or remove it): %w", path, err)
}

// parseLog reads the lines of events.jsonl; a last line without its newline is the torn
// tail of an append that was never acknowledged, and is left out.
func parseLog(path string, data []byte) ([]core.Event, error) {
	var events []core.Event
	for line := 1; ; line++ {
		end := bytes.IndexByte(data, '\n')
		if end < 0 {
			return events, nil
		}
		var e core.Event
		if err := json.Unmarshal(data[:end], &e); err != nil {
			return nil, corrupt(path, fmt.Errorf("line %d: %w", line, err))
		}
		if n := len(events); n > 0 && e.ID <= events[n-1].ID {
			return nil, corrupt(path, fmt.Errorf("line %d: event ID %d does not follow ID %d", line, e.ID, events[n-1].ID))
		}
		events = append(events, e)
		data = data[end+1:]
	}
}

// merge appends to the logged events the Update events of state.json that follow them.
func merge(logged, fromState []core.Event) []core.Event {
	var last uint64
	if n := len(logged); n > 0 {
		last = logged[n-1].ID
	}
	for _, e := range fromState {
		if e.ID > last {
			logged = append(logged, e)
			last = e.ID
		}
	}
	return logged
}

// desiredOf is the intent of an old record, which did not keep one: what its operation in
// flight was asked to reach, else what its status at rest says.
func desiredOf(c core.Cluster) core.Desired {
	switch c.Operation {
	case core.ActionLaunch, core.ActionStart:
		return core.DesiredUp
	case core.ActionStop:
		return core.DesiredStopped
	case core.ActionDestroy:
		return core.DesiredAbsent
	}
	switch c.Status {
	case core.StatusRunning, core.StatusProvisioning, core.StatusStarting:
		return core.DesiredUp
	case core.StatusStopped, core.StatusStopping:
		return core.DesiredStopped
	case core.StatusNoServer, core.StatusDestroying:
		return core.DesiredAbsent
	}
	return core.DesiredNone
}
