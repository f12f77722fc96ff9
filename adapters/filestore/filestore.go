//go:build unix

// Package filestore is the durable ports.Store. It keeps the cluster record and the event
// history in a state dir:
//
//   - state.json: the record, the last event ID issued by an Update and that Update's
//     events, replaced atomically (temp file, fsync, rename, fsync of the dir);
//   - events.jsonl: the event log, one JSON event per line, appended to and compacted to
//     the newest events when it grows past twice the history limit;
//   - lock: flocked for the store's life, so that a second instance fails at start-up.
package filestore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"

	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

// DefaultHistoryLimit is the number of events kept when Options.HistoryLimit is zero.
const DefaultHistoryLimit = 1000

const (
	stateName = "state.json"
	logName   = "events.jsonl"
	lockName  = "lock"
)

// tempPatterns name the temporary files of atomic replaces; a crash can leave one behind,
// and Open removes them.
var tempPatterns = []string{stateName + ".*.tmp", logName + ".*.tmp"}

// ErrClosed is returned by every method of a closed Store but Close.
var ErrClosed = errors.New("filestore: store is closed")

// Options tunes a Store.
type Options struct {
	// HistoryLimit is how many of the most recent events Events returns and the event
	// log keeps after a compaction.
	HistoryLimit int
}

// Store is the file-backed ports.Store. It is safe for concurrent use.
type Store struct {
	dir   string
	limit int
	lock  *os.File

	mu     sync.Mutex
	closed bool
	// broken is set when a write failed in a way that leaves the files out of step with
	// memory; every later write returns it, and reopening the store recovers.
	broken error
	record core.Cluster
	// history holds the newest events, so Events does no IO, and the last ID issued.
	history *core.History
	log     *os.File // events.jsonl, opened for appending
	// logSize and logLines describe the valid content of the log: a failed append is cut
	// back to logSize.
	logSize  int64
	logLines int
	// compactAt is the line count past which the log is compacted.
	compactAt int
	// unlogged are events saved in state.json by an Update whose append to the log
	// failed; they are appended before anything else, and Open appends them too.
	unlogged []core.Event
	encoded  bytes.Buffer
}

// stateFile is the content of state.json.
type stateFile struct {
	Cluster     core.Cluster `json:"cluster"`
	LastEventID uint64       `json:"last_event_id"`
	// Events are the events of the last Update (and of earlier ones not yet in the log).
	// Keeping them here makes the rename of state.json the single step that commits an
	// Update: a crash before the log append completes is repaired by Open.
	Events []core.Event `json:"events,omitempty"`
}

var _ ports.Store = (*Store)(nil)

// Open opens the store in dir, creating dir (mode 0700) when it is missing. It fails when
// another Store, in this process or another, has dir open, when dir is not writable, and
// when state.json or events.jsonl is corrupt; a corrupt file is left as it is.
func Open(dir string, opts Options) (*Store, error) {
	if opts.HistoryLimit <= 0 {
		opts.HistoryLimit = DefaultHistoryLimit
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create state dir %s: %w", dir, err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &Store{
		dir:       dir,
		limit:     opts.HistoryLimit,
		lock:      lock,
		record:    core.NoCluster(),
		history:   core.NewHistory(opts.HistoryLimit),
		compactAt: 2 * opts.HistoryLimit,
	}
	if err := s.load(); err != nil {
		if s.log != nil {
			s.log.Close()
		}
		lock.Close()
		return nil, err
	}
	return s, nil
}

// lockDir takes the exclusive lock on dir. flock locks belong to the open file, so a
// second Open in the same process is refused like one from another process.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state dir %s is not writable: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another skygate instance holds the state dir at %s", dir)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

// load reads the state dir into memory and repairs what a crash can leave behind: temp
// files, a torn last log line, Update events missing from the log.
func (s *Store) load() error {
	if err := s.checkWritable(); err != nil {
		return err
	}
	state, err := readState(filepath.Join(s.dir, stateName))
	if err != nil {
		return err
	}
	if err := s.openLog(); err != nil {
		return err
	}
	logLastID := s.history.LastID()
	s.record = state.Cluster
	var missing []core.Event
	for _, e := range state.Events {
		if e.ID > logLastID {
			missing = append(missing, e)
		}
	}
	if len(missing) > 0 {
		if err := s.appendLog(missing, true); err != nil {
			return err
		}
		s.history.Keep(missing...)
	}
	s.history.Advance(state.LastEventID)
	s.compactIfDue()
	return nil
}

// checkWritable creates and removes a file in the dir, so that a dir that cannot be
// written fails at start-up rather than at the first Update, and removes the temp files
// of replaces cut short by a crash.
func (s *Store) checkWritable() error {
	probe, err := os.CreateTemp(s.dir, "probe.*.tmp")
	if err != nil {
		return fmt.Errorf("state dir %s is not writable: %w", s.dir, err)
	}
	probe.Close()
	leftovers := []string{probe.Name()}
	for _, pattern := range tempPatterns {
		matches, err := filepath.Glob(filepath.Join(s.dir, pattern))
		if err != nil {
			return err
		}
		leftovers = append(leftovers, matches...)
	}
	for _, path := range leftovers {
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("state dir %s: %w", s.dir, err)
		}
	}
	return nil
}

// readState reads state.json; a missing file is a store that was never updated.
func readState(path string) (stateFile, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return stateFile{Cluster: core.NoCluster()}, nil
	}
	if err != nil {
		return stateFile{}, fmt.Errorf("read state file %s: %w", path, err)
	}
	var state stateFile
	if err := json.Unmarshal(data, &state); err != nil {
		return stateFile{}, fmt.Errorf("state file %s is corrupt (left as it is; repair or remove it): %w", path, err)
	}
	if !state.Cluster.Status.Valid() {
		return stateFile{}, fmt.Errorf("state file %s is corrupt (left as it is; repair or remove it): unknown cluster status %q",
			path, state.Cluster.Status)
	}
	return state, nil
}

// openLog opens events.jsonl for appending and reads it into the history.
func (s *Store) openLog() error {
	path := filepath.Join(s.dir, logName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open event log %s: %w", path, err)
	}
	s.log = f
	data, err := io.ReadAll(f)
	if err != nil {
		return fmt.Errorf("read event log %s: %w", path, err)
	}
	for len(data) > 0 {
		end := bytes.IndexByte(data, '\n')
		if end < 0 {
			// The tail of an append cut short by a crash: it was never acknowledged, and
			// cutting it lets the next append start on a line of its own.
			if err := f.Truncate(s.logSize); err != nil {
				return fmt.Errorf("cut torn last line of event log %s: %w", path, err)
			}
			break
		}
		s.logLines++
		var e core.Event
		if err := json.Unmarshal(data[:end], &e); err != nil {
			return fmt.Errorf("event log %s line %d is corrupt: %w", path, s.logLines, err)
		}
		if last := s.history.LastID(); e.ID <= last {
			return fmt.Errorf("event log %s line %d is corrupt: event ID %d does not follow ID %d", path, s.logLines, e.ID, last)
		}
		s.history.Keep(e)
		s.logSize += int64(end + 1)
		data = data[end+1:]
	}
	return nil
}

// Load returns the saved record, or core.NoCluster() when nothing was ever saved.
func (s *Store) Load(ctx context.Context) (core.Cluster, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return core.Cluster{}, ErrClosed
	}
	return s.record, nil
}

// Update calls fn with the record and, when fn succeeds, saves its record and numbered
// events; the Update is committed by the rename of state.json.
func (s *Store) Update(ctx context.Context, fn func(core.Cluster) (core.Cluster, []core.Event, error)) (core.Cluster, []core.Event, error) {
	if err := ctx.Err(); err != nil {
		return core.Cluster{}, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return core.Cluster{}, nil, err
	}
	record, events, err := fn(s.record)
	if err != nil {
		return core.Cluster{}, nil, err
	}
	numbered := s.history.Number(events)
	pending := append(slices.Clone(s.unlogged), numbered...)
	state := stateFile{Cluster: record, LastEventID: s.history.LastID() + uint64(len(numbered)), Events: pending}
	if err := s.writeState(state); err != nil {
		return core.Cluster{}, nil, err
	}
	s.record = record
	s.history.Keep(numbered...)
	s.unlogged = pending
	// The Update is saved whether or not the log append succeeds: its events are in
	// state.json, and the next write or Open retries the append.
	_ = s.appendUnlogged()
	return record, slices.Clone(numbered), nil
}

// Append numbers events and appends them to the log. They are written with one write
// and not fsynced: they survive a crash of the process, not of the machine.
func (s *Store) Append(ctx context.Context, events ...core.Event) ([]core.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return nil, err
	}
	if len(events) == 0 {
		return nil, nil
	}
	if err := s.appendUnlogged(); err != nil {
		return nil, err
	}
	numbered := s.history.Number(events)
	if err := s.appendLog(numbered, false); err != nil {
		return nil, err
	}
	s.history.Keep(numbered...)
	s.compactIfDue()
	return slices.Clone(numbered), nil
}

// Events returns the kept events with an ID greater than after, from memory.
func (s *Store) Events(ctx context.Context, after uint64) ([]core.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	return s.history.After(after), nil
}

// Close releases the files and the lock on the state dir. Later calls but Close fail with
// ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return errors.Join(s.log.Close(), s.lock.Close())
}

func (s *Store) writable() error {
	if s.closed {
		return ErrClosed
	}
	return s.broken
}

// number returns copies of events numbered after the last ID; it does not issue the IDs.
// writeState replaces state.json. A failure before the rename changes nothing; one after
// it breaks the store, since the file then no longer matches memory.
func (s *Store) writeState(state stateFile) error {
	path := filepath.Join(s.dir, stateName)
	data, err := json.Marshal(state)
	if err != nil {
		return err
	}
	tmp, err := writeTemp(s.dir, stateName, data)
	if err != nil {
		return fmt.Errorf("save state file %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("save state file %s: %w", path, err)
	}
	if err := syncDir(s.dir); err != nil {
		s.broken = fmt.Errorf("save state file %s: %w (reopen the store to recover)", path, err)
		return s.broken
	}
	return nil
}

// appendUnlogged appends the events an Update saved in state.json but could not append.
func (s *Store) appendUnlogged() error {
	if len(s.unlogged) == 0 {
		return nil
	}
	if err := s.appendLog(s.unlogged, true); err != nil {
		return err
	}
	s.unlogged = nil
	s.compactIfDue()
	return nil
}

// appendLog writes events to the log in a single write, and fsyncs it when sync is set.
// On failure it cuts the log back, so the log never keeps part of a failed batch.
func (s *Store) appendLog(events []core.Event, sync bool) error {
	path := s.log.Name()
	s.encoded.Reset()
	enc := json.NewEncoder(&s.encoded)
	enc.SetEscapeHTML(false)
	for _, e := range events {
		if err := enc.Encode(e); err != nil {
			return fmt.Errorf("encode event for %s: %w", path, err)
		}
	}
	n, err := s.log.Write(s.encoded.Bytes())
	if err == nil && sync {
		err = s.log.Sync()
	}
	if err != nil {
		if cutErr := s.log.Truncate(s.logSize); cutErr != nil {
			s.broken = fmt.Errorf("event log %s holds a partial append: %w (reopen the store to recover)", path, cutErr)
		}
		return fmt.Errorf("append to event log %s: %w", path, err)
	}
	s.logSize += int64(n)
	s.logLines += len(events)
	return nil
}

// compactIfDue replaces the log by the kept events once it has grown past compactAt
// lines. Compaction only saves space, so a failure is left for a later attempt.
func (s *Store) compactIfDue() {
	if s.logLines <= s.compactAt || len(s.unlogged) > 0 {
		return
	}
	if err := s.compact(); err != nil {
		s.compactAt = s.logLines + s.limit
		return
	}
	s.compactAt = 2 * s.limit
}

func (s *Store) compact() error {
	kept := s.history.After(0)
	s.encoded.Reset()
	enc := json.NewEncoder(&s.encoded)
	enc.SetEscapeHTML(false)
	for _, e := range kept {
		if err := enc.Encode(e); err != nil {
			return err
		}
	}
	size := int64(s.encoded.Len())
	tmp, err := writeTemp(s.dir, logName, s.encoded.Bytes())
	if err != nil {
		return err
	}
	// Opened before the rename, so that once the rename succeeds there is nothing left
	// that can fail and leave the store appending to the replaced file.
	log, err := os.OpenFile(tmp, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, logName)); err != nil {
		log.Close()
		os.Remove(tmp)
		return err
	}
	s.log.Close()
	s.log = log
	s.logSize, s.logLines = size, len(kept)
	// Without this the compacted file may not survive a machine crash; the old one is
	// gone either way, and the new one holds everything the old one kept.
	return syncDir(s.dir)
}

// writeTemp writes data to a new file (mode 0600) beside name in dir, fsyncs it and returns
// its path.
func writeTemp(dir, name string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, name+".*.tmp")
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if closeErr := d.Close(); err == nil {
		err = closeErr
	}
	return err
}
