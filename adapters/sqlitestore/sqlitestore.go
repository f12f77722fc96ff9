// Package sqlitestore is the embedded ports.Store: every cluster's record and the event
// log in one SQLite database, skygate.db in the state dir, through database/sql and
// modernc.org/sqlite (pure Go, so the binary stays static).
//
// Durability: the database runs in WAL mode with synchronous=NORMAL. Once Update or
// Append returns, its transaction is in the WAL file, so it survives a crash of the
// process. A crash of the machine (power loss, kernel panic) can lose the transactions
// committed since the WAL was last synced, which happens at checkpoints, but never leaves
// the database inconsistent: the record and the events of one Update are kept or lost
// together.
//
// Memory: the records are kept in memory (Load and Clusters do no IO); the event history
// is not, and Events reads it from the database.
package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/skygate/skygate/adapters/internal/records"
	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

// DefaultHistoryLimit is the number of events kept of each cluster when
// Options.HistoryLimit is zero.
const DefaultHistoryLimit = 1000

// DBName is the database file in the state dir.
const DBName = "skygate.db"

// ErrClosed is returned by every method of a closed Store but Close.
var ErrClosed = errors.New("sqlitestore: store is closed")

// Keys of store_meta.
const (
	// metaEventIDFloor is a lower bound of the last event ID issued, for IDs issued
	// before the oldest event kept (the earlier file store's). Pruning never removes a
	// cluster's newest event, so otherwise the highest kept ID is the last issued.
	metaEventIDFloor = "event_id_floor"
	// metaLegacyImport records when the earlier file store's state was imported.
	metaLegacyImport = "legacy_import"
)

// Options tunes a Store.
type Options struct {
	// HistoryLimit is how many of each cluster's newest events are kept at least; a
	// cluster is pruned back to it once it has a quarter more, so Events returns up to
	// HistoryLimit + HistoryLimit/4 of them.
	HistoryLimit int
	// LegacyCluster names the cluster of an earlier file store's state dir whose record
	// names none (the service's default cluster); "skygate" when empty.
	LegacyCluster string
}

// Store is the SQLite ports.Store. It is safe for concurrent use.
type Store struct {
	dir, path    string
	limit, slack int
	lock         *dirLock
	db           *sql.DB
	insertEvent  *sql.Stmt

	// writeMu serializes the writers (Update, Append) and Close; IDs are issued and kept
	// is used under it.
	writeMu sync.Mutex
	// kept counts the events kept of each cluster written to since Open.
	kept   map[string]int
	lastID atomic.Uint64

	mu      sync.RWMutex // guards closed and records
	closed  bool
	records *records.Set

	// written is signalled after each commit; checkpoints copies the WAL into the
	// database in the background until stopCheckpoints closes, then closes its done.
	written         chan struct{}
	stopCheckpoints chan struct{}
	checkpointsDone chan struct{}
}

var _ ports.Store = (*Store)(nil)

// Open opens the store in dir, creating dir (mode 0700) and the database (0600) when they
// are missing, and imports the state of the earlier file store found there. It fails when
// another Store, in this process or another, has dir open, when dir is not writable, and
// when the database is corrupt, which is then left as it is. When no other Store has dir
// open but the lock file's flock is held, it waits up to 2 s for it (see lock.go).
func Open(dir string, opts Options) (*Store, error) {
	if opts.HistoryLimit <= 0 {
		opts.HistoryLimit = DefaultHistoryLimit
	}
	if opts.LegacyCluster == "" {
		opts.LegacyCluster = "skygate"
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create state dir %s: %w", dir, err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &Store{
		dir:     dir,
		path:    filepath.Join(dir, DBName),
		limit:   opts.HistoryLimit,
		slack:   max(opts.HistoryLimit/4, 1),
		lock:    lock,
		kept:    map[string]int{},
		records: records.New(),
	}
	if err := s.open(opts.LegacyCluster); err != nil {
		return nil, errors.Join(s.corrupt(err), s.release())
	}
	s.written, s.stopCheckpoints, s.checkpointsDone = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	s.written <- struct{}{} // what open wrote
	go s.checkpoints()
	return s, nil
}

// checkpointEvery bounds how often the background checkpoint runs while writes go on.
const checkpointEvery = 200 * time.Millisecond

// checkpoints copies the WAL's committed pages into the database after writes, at most
// every checkpointEvery. SQLite would otherwise do it inside the commit that fills the
// WAL past 1,000 pages: that commit took 20 to 45 ms instead of 0.1 ms, and every writer,
// and every progress line behind them, waited for it. A passive checkpoint here runs
// beside the writers and waits for none of them.
func (s *Store) checkpoints() {
	defer close(s.checkpointsDone)
	pause := time.NewTimer(0)
	defer pause.Stop()
	for {
		select {
		case <-s.stopCheckpoints:
			return
		case <-s.written:
		}
		_, _ = s.db.Exec(`PRAGMA wal_checkpoint(PASSIVE)`) // a failure is retried after the next write
		pause.Reset(checkpointEvery)
		select {
		case <-s.stopCheckpoints:
			return
		case <-pause.C:
		}
	}
}

// open opens the database, migrates it, imports the earlier store's state and loads the
// records and the last event ID.
func (s *Store) open(legacyCluster string) error {
	// Created here so that it has mode 0600; SQLite gives its WAL files the same mode.
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("state dir %s is not writable: %w", s.dir, err)
	}
	f.Close()
	abs, err := filepath.Abs(s.path)
	if err != nil {
		return err
	}
	dsn := url.URL{Scheme: "file", Path: abs, RawQuery: url.Values{
		// No checkpoint inside a commit (see checkpoints).
		"_pragma": {"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)", "wal_autocheckpoint(0)"},
		// The writers are serialized by writeMu, so a transaction may as well take the
		// write lock at its start.
		"_txlock": {"immediate"},
	}.Encode()}
	if s.db, err = sql.Open("sqlite", dsn.String()); err != nil {
		return err
	}
	// Readers share a few connections (each has its own page cache); in WAL mode they
	// do not wait on the writer.
	s.db.SetMaxOpenConns(4)
	s.db.SetMaxIdleConns(4)
	if err := s.db.Ping(); err != nil {
		return err
	}
	if err := migrate(s.db, s.path); err != nil {
		return err
	}
	if s.insertEvent, err = s.db.Prepare(`INSERT INTO events (id, cluster, type, ts, message, status, operation_id, output_offset)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`); err != nil {
		return err
	}
	if err := s.importLegacy(legacyCluster); err != nil {
		return err
	}
	if err := s.loadRecords(); err != nil {
		return err
	}
	return s.loadLastID()
}

// corrupt explains an error that says the database file is damaged.
func (s *Store) corrupt(err error) error {
	var sqlErr *sqlite.Error
	if errors.As(err, &sqlErr) {
		switch sqlErr.Code() & 0xff {
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return fmt.Errorf("database %s is corrupt (left as it is; restore it or move it away): %w", s.path, err)
		}
	}
	return err
}

func (s *Store) loadRecords() error {
	rows, err := s.db.Query(`SELECT name, record FROM clusters`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var name, data string
		if err := rows.Scan(&name, &data); err != nil {
			return err
		}
		var c core.Cluster
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			return fmt.Errorf("database %s is corrupt (left as it is): the record of cluster %q: %w", s.path, name, err)
		}
		s.records.Put(c)
	}
	return rows.Err()
}

func (s *Store) loadLastID() error {
	var last int64
	if err := s.db.QueryRow(`SELECT COALESCE(MAX(id), 0) FROM events`).Scan(&last); err != nil {
		return err
	}
	floor, err := s.meta(metaEventIDFloor)
	if err != nil {
		return err
	}
	if floor != "" {
		n, err := strconv.ParseInt(floor, 10, 64)
		if err != nil {
			return fmt.Errorf("database %s is corrupt (left as it is): %s %q: %w", s.path, metaEventIDFloor, floor, err)
		}
		last = max(last, n)
	}
	s.lastID.Store(uint64(last))
	return nil
}

// meta returns the value of key in store_meta, "" when it is not set.
func (s *Store) meta(key string) (string, error) {
	var value string
	err := s.db.QueryRow(`SELECT value FROM store_meta WHERE key = ?`, key).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return value, err
}

// Clusters returns every saved record, sorted by name.
func (s *Store) Clusters(ctx context.Context) ([]core.Cluster, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	return s.records.Sorted(), nil
}

// Existing counts the records of clusters that exist.
func (s *Store) Existing(ctx context.Context) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, ErrClosed
	}
	return s.records.Existing(), nil
}

// Load returns the saved record of name, core.NoCluster(name) when none was saved.
func (s *Store) Load(ctx context.Context, name string) (core.Cluster, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return core.Cluster{}, ErrClosed
	}
	return s.records.Get(name), nil
}

// Update calls fn with the record of name and, when fn succeeds, saves its record and
// numbered events in one transaction.
func (s *Store) Update(ctx context.Context, name string, fn func(core.Cluster) (core.Cluster, []core.Event, error)) (core.Cluster, []core.Event, error) {
	if err := ctx.Err(); err != nil {
		return core.Cluster{}, nil, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	current, err := s.Load(ctx, name)
	if err != nil {
		return core.Cluster{}, nil, err
	}
	record, events, err := fn(current)
	if err != nil {
		return core.Cluster{}, nil, err
	}
	if record.Name != name {
		return core.Cluster{}, nil, fmt.Errorf("sqlitestore: update of cluster %q returned a record named %q", name, record.Name)
	}
	numbered := s.number(events, name)
	if err := s.commit(numbered, func(tx *sql.Tx) error { return saveRecord(tx, record) }); err != nil {
		return core.Cluster{}, nil, fmt.Errorf("save cluster %s in %s: %w", name, s.path, err)
	}
	s.mu.Lock()
	s.records.Put(record)
	s.mu.Unlock()
	return record, numbered, nil
}

func saveRecord(tx *sql.Tx, record core.Cluster) error {
	data, err := json.Marshal(record)
	if err != nil {
		return err
	}
	_, err = tx.Exec(`INSERT INTO clusters (name, record) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET record = excluded.record`, record.Name, string(data))
	return err
}

// Append numbers events and saves them in one transaction.
func (s *Store) Append(ctx context.Context, events ...core.Event) ([]core.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, e := range events {
		if e.Cluster == "" {
			return nil, errors.New("sqlitestore: append of an event that names no cluster")
		}
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.isClosed() {
		return nil, ErrClosed
	}
	if len(events) == 0 {
		return nil, nil
	}
	numbered := s.number(events, "")
	if err := s.commit(numbered, nil); err != nil {
		return nil, fmt.Errorf("save events in %s: %w", s.path, err)
	}
	return numbered, nil
}

// number returns copies of events with the IDs that follow the last one issued, and with
// cluster as their Cluster unless it is ""; s.writeMu must be held.
func (s *Store) number(events []core.Event, cluster string) []core.Event {
	numbered := slices.Clone(events)
	last := s.lastID.Load()
	for i := range numbered {
		numbered[i].ID = last + uint64(i) + 1
		if cluster != "" {
			numbered[i].Cluster = cluster
		}
	}
	return numbered
}

// commit runs one transaction: first (when not nil), the insert of events, and the pruning
// of the clusters they belong to. Once it commits, the events' IDs count as issued.
// s.writeMu must be held. The transaction does not follow the caller's context: a
// cancellation during the commit would leave the caller unsure whether it happened.
func (s *Store) commit(events []core.Event, first func(*sql.Tx) error) error {
	tx, err := s.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if first != nil {
		if err := first(tx); err != nil {
			return err
		}
	}
	kept, err := s.insert(tx, events)
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	select {
	case s.written <- struct{}{}:
	default: // a checkpoint is due already
	}
	maps.Copy(s.kept, kept)
	if n := len(events); n > 0 {
		s.lastID.Store(max(s.lastID.Load(), events[n-1].ID))
	}
	return nil
}

// insert inserts events and prunes each cluster they belong to that has grown past its
// limit and slack. It returns how many events each of those clusters keeps then.
func (s *Store) insert(tx *sql.Tx, events []core.Event) (map[string]int, error) {
	if len(events) == 0 {
		return nil, nil
	}
	stmt := tx.Stmt(s.insertEvent)
	added := map[string]int{}
	for _, e := range events {
		ts, err := nanos(e.Timestamp)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", e.ID, err)
		}
		if _, err := stmt.Exec(int64(e.ID), e.Cluster, string(e.Type), ts, e.Message, string(e.Status),
			int64(e.OperationID), e.Offset); err != nil {
			return nil, err
		}
		added[e.Cluster]++
	}
	kept := make(map[string]int, len(added))
	for cluster, n := range added {
		count, known := s.kept[cluster]
		if known {
			count += n
		} else if err := tx.QueryRow(`SELECT COUNT(*) FROM events WHERE cluster = ?`, cluster).Scan(&count); err != nil {
			return nil, err
		}
		if count > s.limit+s.slack {
			// Everything older than the cluster's limit-th newest event.
			if _, err := tx.Exec(`DELETE FROM events WHERE cluster = ? AND id <
				(SELECT id FROM events WHERE cluster = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`,
				cluster, cluster, s.limit-1); err != nil {
				return nil, err
			}
			count = s.limit
		}
		kept[cluster] = count
	}
	return kept, nil
}

// nanos is the ts column of t: nanoseconds since 1970, nil for the zero time.
func nanos(t time.Time) (any, error) {
	if t.IsZero() {
		return nil, nil
	}
	if y := t.Year(); y < 1678 || y > 2261 {
		return nil, fmt.Errorf("timestamp %v is out of range", t)
	}
	return t.UnixNano(), nil
}

// The queries of Events, by filter: every cluster's, one cluster's, one operation's.
const (
	eventColumns         = `SELECT id, cluster, type, ts, message, status, operation_id, output_offset FROM events `
	eventsAfter          = eventColumns + `WHERE id > ? ORDER BY id LIMIT ?`
	clusterEventsAfter   = eventColumns + `WHERE cluster = ? AND id > ? ORDER BY id LIMIT ?`
	operationEventsAfter = eventColumns + `WHERE cluster = ? AND id > ? AND operation_id = ? ORDER BY id LIMIT ?`
)

// Events returns the kept events that match filter, oldest first, from the database.
func (s *Store) Events(ctx context.Context, filter ports.EventFilter) ([]core.Event, error) {
	after := int64(min(filter.After, 1<<63-1))
	limit := int64(-1) // no limit, to SQLite
	if filter.Limit > 0 {
		limit = int64(filter.Limit)
	}
	var rows *sql.Rows
	var err error
	switch {
	case filter.OperationID != 0 && filter.Cluster == "":
		return nil, errors.New("sqlitestore: an event filter on an operation needs its cluster")
	case s.isClosed():
		return nil, ErrClosed
	case filter.OperationID != 0:
		rows, err = s.db.QueryContext(ctx, operationEventsAfter, filter.Cluster, after, int64(filter.OperationID), limit)
	case filter.Cluster != "":
		rows, err = s.db.QueryContext(ctx, clusterEventsAfter, filter.Cluster, after, limit)
	default:
		rows, err = s.db.QueryContext(ctx, eventsAfter, after, limit)
	}
	if err != nil {
		return nil, s.readError(err)
	}
	defer rows.Close()
	events := []core.Event{}
	for rows.Next() {
		var e core.Event
		var id, opID int64
		var ts sql.NullInt64
		var typ, status string
		if err := rows.Scan(&id, &e.Cluster, &typ, &ts, &e.Message, &status, &opID, &e.Offset); err != nil {
			return nil, err
		}
		e.ID, e.OperationID = uint64(id), uint64(opID)
		e.Type, e.Status = core.EventType(typ), core.ClusterStatus(status)
		if ts.Valid {
			e.Timestamp = time.Unix(0, ts.Int64).UTC()
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, s.readError(err)
	}
	return events, nil
}

// readError is err, or ErrClosed when the store was closed while reading.
func (s *Store) readError(err error) error {
	if s.isClosed() {
		return ErrClosed
	}
	return fmt.Errorf("read events from %s: %w", s.path, err)
}

// LastEventID is the highest event ID issued so far.
func (s *Store) LastEventID(ctx context.Context) (uint64, error) {
	if s.isClosed() {
		return 0, ErrClosed
	}
	return s.lastID.Load(), nil
}

// Close waits for a write under way, then closes the database and releases the state
// dir. Later calls but Close fail with ErrClosed.
func (s *Store) Close() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stopCheckpoints)
	<-s.checkpointsDone
	return s.release()
}

// release closes what Open opened, the lock last.
func (s *Store) release() error {
	var errs []error
	if s.insertEvent != nil {
		errs = append(errs, s.insertEvent.Close())
	}
	if s.db != nil {
		errs = append(errs, s.db.Close())
	}
	return errors.Join(append(errs, s.lock.release())...)
}

func (s *Store) isClosed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closed
}
