//go:build unix

package sqlitestore

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// lockName is the lock file in the state dir; the earlier file store used the same one,
// so an earlier skygate still running on the dir is refused too.
const lockName = "lock"

// A Store holds two locks on the lock file for its life:
//
//   - A record lock (fcntl F_SETLK over the whole file). It belongs to the process: a
//     child never has it (fork does not pass record locks on), and it goes the moment
//     the process ends, however it ends. When it is taken, no other skygate runs.
//   - An flock, which is what the earlier file store took, so that it and this store
//     refuse each other. An flock belongs to the open file, which a child shares from
//     fork until it runs its program (the descriptor is close-on-exec). A child that
//     skygate forked just before it was killed still holds the flock for that moment,
//     after skygate is gone.
//
// So once the record lock is taken, a held flock is either an earlier skygate or such a
// child, which lets go of it within moments: Open waits for it for up to flockWait.
//
// Record locks belong to the process, not to a descriptor, and closing any descriptor of
// the file drops them: nothing in the process opens the lock file of a dir it holds (a
// second Open of that dir is refused before it opens anything, see held).

// flockWait bounds how long Open waits for the flock of a dir whose record lock it has
// taken; flockPoll is how often it tries.
var (
	flockWait = 2 * time.Second
	flockPoll = 5 * time.Millisecond
)

// held are the state dirs that Stores of this process hold (or are opening), by device
// and inode.
var held = struct {
	sync.Mutex
	dirs map[dirID]bool
}{dirs: map[dirID]bool{}}

type dirID struct{ dev, ino uint64 }

// dirLock is a Store's hold on its state dir.
type dirLock struct {
	f  *os.File
	id dirID
}

// lockDir takes the locks on dir for the store's life. A second Open of dir in this
// process is refused like one from another process.
func lockDir(dir string) (*dirLock, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("state dir %s: %w", dir, err)
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, fmt.Errorf("state dir %s: no device and inode", dir)
	}
	id := dirID{dev: uint64(st.Dev), ino: uint64(st.Ino)}
	held.Lock()
	if held.dirs[id] {
		held.Unlock()
		return nil, inUse(dir)
	}
	held.dirs[id] = true
	held.Unlock()
	f, err := lockFile(dir)
	if err != nil {
		forget(id)
		return nil, err
	}
	return &dirLock{f: f, id: id}, nil
}

// release drops the locks: the file is closed before another Open of the dir in this
// process may open it.
func (l *dirLock) release() error {
	err := l.f.Close()
	forget(l.id)
	return err
}

func forget(id dirID) {
	held.Lock()
	delete(held.dirs, id)
	held.Unlock()
}

func inUse(dir string) error {
	return fmt.Errorf("another skygate is using state dir %s", dir)
}

// lockFile opens dir's lock file and takes its record lock, then its flock.
func lockFile(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state dir %s is not writable: %w", dir, err)
	}
	fd := f.Fd()
	whole := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: io.SeekStart}
	if err := syscall.FcntlFlock(fd, syscall.F_SETLK, &whole); err != nil {
		f.Close()
		if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) {
			return nil, inUse(dir)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	deadline := time.Now().Add(flockWait)
	for {
		err := syscall.Flock(int(fd), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			// Held that long, it is an earlier skygate's.
			f.Close()
			return nil, inUse(dir)
		}
		time.Sleep(flockPoll)
	}
}
