package sqlitestore

import (
	"database/sql"
	"errors"
	"fmt"
)

// migrations build the schema: migration i (from 0) brings a database from version i to
// version i+1, and schema_version holds the version a database is at. A migration is
// never edited once released; a change of schema is a new one at the end.
//
// The SQL is plain enough for a Postgres adapter to share the schema: TEXT and BIGINT
// columns, no SQLite-only types or clauses. The one exception is events.id, declared
// INTEGER PRIMARY KEY so that SQLite makes it the table's rowid (no second index); a
// Postgres schema declares it BIGINT PRIMARY KEY.
//
// A record is one JSON column (core.Cluster as encoding/json writes it) rather than a
// column per field: the store never filters or sorts on a record's fields, only on its
// name, a field added to core.Cluster needs no migration, and the earlier file store's
// record imports as it is. Events are columns, since they are selected by cluster,
// operation and ID: (cluster, id) serves a cluster's stream and its pruning, and
// (cluster, operation_id, id) the events of one operation, which a new subscriber is
// given. No foreign key ties events.cluster to clusters.name: an event may name a cluster
// with no saved record.
var migrations = [][]string{
	{
		`CREATE TABLE clusters (
			name TEXT PRIMARY KEY,
			record TEXT NOT NULL
		)`,
		// ts is the event's time in nanoseconds since 1970 (UTC), NULL for the zero time;
		// status is '' except on status events; output_offset is Event.Offset.
		`CREATE TABLE events (
			id INTEGER PRIMARY KEY,
			cluster TEXT NOT NULL,
			type TEXT NOT NULL,
			ts BIGINT,
			message TEXT NOT NULL,
			status TEXT NOT NULL,
			operation_id BIGINT NOT NULL,
			output_offset BIGINT NOT NULL
		)`,
		`CREATE INDEX events_cluster_id ON events (cluster, id)`,
		`CREATE INDEX events_cluster_operation_id ON events (cluster, operation_id, id)`,
		// Keys: metaEventIDFloor, metaLegacyImport.
		`CREATE TABLE store_meta (
			key TEXT PRIMARY KEY,
			value TEXT NOT NULL
		)`,
	},
}

// migrate brings the database to the newest schema in one transaction. A database of a
// newer schema than this code knows is refused, unchanged.
func migrate(db *sql.DB, path string) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return err
	}
	var version int
	err = tx.QueryRow(`SELECT version FROM schema_version`).Scan(&version)
	if errors.Is(err, sql.ErrNoRows) {
		_, err = tx.Exec(`INSERT INTO schema_version (version) VALUES (0)`)
	}
	if err != nil {
		return err
	}
	if version > len(migrations) {
		return fmt.Errorf("database %s has schema version %d, newer than this skygate knows (%d): it was written by a later skygate",
			path, version, len(migrations))
	}
	if version == len(migrations) {
		return nil
	}
	for _, migration := range migrations[version:] {
		for _, stmt := range migration {
			if _, err := tx.Exec(stmt); err != nil {
				return fmt.Errorf("migrate database %s to schema version %d: %w", path, version+1, err)
			}
		}
		version++
	}
	if _, err := tx.Exec(`UPDATE schema_version SET version = ?`, version); err != nil {
		return err
	}
	return tx.Commit()
}
