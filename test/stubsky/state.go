//go:build unix

package main

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Cluster statuses as shown by `sky status`. Terminated clusters have no
// status: they vanish from the table.
const (
	statusInit    = "INIT"
	statusUp      = "UP"
	statusStopped = "STOPPED"
)

// What the (emulated) API server does with an INIT cluster once its
// provisioning deadline passes, even if the CLI process was killed.
const (
	outcomeUp      = "up"      // provisioning succeeds
	outcomeRemoved = "removed" // provisioning fails; nothing was created
	outcomeStuck   = "stuck"   // abnormal: the cluster stays INIT
	outcomeStopped = "stopped" // a failed restart leaves the cluster STOPPED
)

// cluster is one row of the real CLI's clusters table.
type cluster struct {
	Name         string    `json:"name"`
	Status       string    `json:"status"`
	Cloud        string    `json:"cloud"` // canonical lower-case name
	Region       string    `json:"region"`
	InstanceType string    `json:"instance_type"`
	LaunchedAt   time.Time `json:"launched_at"`
	// ReadyAt is when an in-flight provisioning finishes, i.e. the launch
	// start plus the whole launch duration.
	ReadyAt     time.Time `json:"ready_at"`
	Outcome     string    `json:"outcome"`
	IP          string    `json:"ip"`
	LastUse     string    `json:"last_use"`
	ClusterHash string    `json:"cluster_hash"`
	EverUp      bool      `json:"ever_up"`
	LastJobID   int       `json:"last_job_id"`
}

// converge applies what the API server would have done by now: an INIT
// cluster whose provisioning deadline has passed becomes UP (or is removed
// when provisioning failed). It reports whether the cluster still exists.
func (c *cluster) converge(now time.Time) (exists bool) {
	if c.Status != statusInit || now.Before(c.ReadyAt) {
		return true
	}
	switch c.Outcome {
	case outcomeRemoved:
		return false
	case outcomeUp:
		c.Status = statusUp
		c.EverUp = true
	case outcomeStopped:
		c.Status = statusStopped
	}
	return true
}

type stateFile struct {
	Clusters []*cluster `json:"clusters"`
}

func (st *stateFile) find(name string) *cluster {
	for _, c := range st.Clusters {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (st *stateFile) remove(name string) {
	kept := st.Clusters[:0]
	for _, c := range st.Clusters {
		if c.Name != name {
			kept = append(kept, c)
		}
	}
	st.Clusters = kept
}

func (st *stateFile) upsert(c *cluster) {
	st.remove(c.Name)
	st.Clusters = append(st.Clusters, c)
}

// convergeAll converges every cluster, dropping the ones whose failed
// provisioning removed them.
func (st *stateFile) convergeAll(now time.Time) {
	kept := st.Clusters[:0]
	for _, c := range st.Clusters {
		if c.converge(now) {
			kept = append(kept, c)
		}
	}
	st.Clusters = kept
}

// store guards the state file of one SKYSTUB_HOME.
type store struct{ dir string }

func (s store) statePath() string { return filepath.Join(s.dir, "state.json") }
func (s store) lockPath() string  { return filepath.Join(s.dir, "state.lock") }

// update runs fn on the current state under an exclusive flock and saves
// the result atomically, so concurrent invocations never lose writes. The
// state is converged first, so every command sees what the server would.
func (s store) update(fn func(st *stateFile) error) error {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return err
	}
	lock, err := os.OpenFile(s.lockPath(), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", s.lockPath(), err)
	}
	// Closing the file (deferred above) releases the lock.

	st, err := s.load()
	if err != nil {
		return err
	}
	st.convergeAll(time.Now())
	if err := fn(st); err != nil {
		return err
	}
	return s.save(st)
}

// read returns a converged snapshot of the state (and persists the
// convergence, as a status query on the real server would).
func (s store) read() (*stateFile, error) {
	var snapshot *stateFile
	err := s.update(func(st *stateFile) error {
		snapshot = st
		return nil
	})
	return snapshot, err
}

func (s store) load() (*stateFile, error) {
	data, err := os.ReadFile(s.statePath())
	if errors.Is(err, fs.ErrNotExist) {
		return &stateFile{}, nil
	}
	if err != nil {
		return nil, err
	}
	st := &stateFile{}
	if err := json.Unmarshal(data, st); err != nil {
		return nil, fmt.Errorf("corrupt state file %s: %w", s.statePath(), err)
	}
	return st, nil
}

func (s store) save(st *stateFile) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(s.dir, "state-*.json.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
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
	return os.Rename(tmp.Name(), s.statePath())
}

// claimAPIServerStart reports whether this is the first invocation since
// the state directory was fresh, recording that the local API server is now
// "running". The real CLI announces starting the server exactly then.
func (s store) claimAPIServerStart() (bool, error) {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return false, err
	}
	f, err := os.OpenFile(filepath.Join(s.dir, "api_server.started"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, f.Close()
}

// fakeIP derives a stable public-looking IP from the cluster name.
func fakeIP(name, cloud string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	sum := h.Sum32()
	a, b := (sum>>8)&0xff, sum&0xff
	switch cloud {
	case "gcp":
		return fmt.Sprintf("34.%d.%d.%d", 100+(sum>>16)%100, a, b)
	case "kubernetes":
		return fmt.Sprintf("10.244.%d.%d", a, b)
	default:
		return fmt.Sprintf("3.91.%d.%d", a, b)
	}
}

// fakePID is a stable process id for the job's "(task, pid=N)" prefix.
func fakePID(name string) int {
	h := fnv.New32a()
	h.Write([]byte(name))
	return 1000 + int(h.Sum32()%30000)
}

// newUUID returns a random RFC 4122 version 4 UUID string.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
