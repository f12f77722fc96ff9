package sqlitestore

import "time"

// SetFlockWait sets how long Open waits for a held flock until the test ends.
func SetFlockWait(tb interface{ Cleanup(func()) }, d time.Duration) {
	old := flockWait
	flockWait = d
	tb.Cleanup(func() { flockWait = old })
}
