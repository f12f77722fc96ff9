package sqlitestore

import (
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/skygate/skygate/adapters/filestore"
)

// importLegacy imports the state the earlier file store left in the state dir (its one
// cluster's record and its events, with their IDs, so that a Last-Event-ID given before
// the upgrade still means the same event) in one transaction, then renames its files with
// the suffix .imported: nothing is lost and the import happens once. A crash between the
// commit and the renames is finished by the next Open, which finds the import recorded.
func (s *Store) importLegacy(defaultName string) error {
	state, found, err := filestore.Read(s.dir, defaultName)
	if err != nil || !found {
		return err
	}
	done, err := s.meta(metaLegacyImport)
	if err != nil {
		return err
	}
	if done == "" {
		err := s.commit(state.Events, func(tx *sql.Tx) error {
			var holdsState int
			if err := tx.QueryRow(`SELECT CASE WHEN EXISTS (SELECT 1 FROM clusters) OR EXISTS (SELECT 1 FROM events)
				THEN 1 ELSE 0 END`).Scan(&holdsState); err != nil {
				return err
			}
			if holdsState == 1 {
				return fmt.Errorf("%s already holds clusters or events, so %v of the earlier store cannot be imported into it; move one or the other away",
					s.path, state.Files)
			}
			if state.Cluster != nil {
				if err := saveRecord(tx, *state.Cluster); err != nil {
					return err
				}
			}
			return setMeta(tx, map[string]string{
				metaEventIDFloor: strconv.FormatUint(state.LastEventID, 10),
				metaLegacyImport: time.Now().UTC().Format(time.RFC3339Nano),
			})
		})
		if err != nil {
			return fmt.Errorf("import %v into %s: %w", state.Files, s.path, err)
		}
	}
	for _, path := range state.Files {
		if err := os.Rename(path, path+".imported"); err != nil {
			return fmt.Errorf("imported %s into %s, but: %w", path, s.path, err)
		}
	}
	return nil
}

func setMeta(tx *sql.Tx, values map[string]string) error {
	for key, value := range values {
		if _, err := tx.Exec(`INSERT INTO store_meta (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value); err != nil {
			return err
		}
	}
	return nil
}
