package skyexec

import (
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watchedPoll is how often a follower whose run directory is watched looks anyway: for
// what no file event announces (a supervisor killed before it wrote its exit record) and
// for a change a watch missed.
const watchedPoll = time.Second

// runWatch wakes the followers of runs when a file in their run directory changes (the
// supervisor appends output, or writes the exit record), through one inotify instance
// for every run, open only while some run is followed. A follower then reads a line as
// soon as sky prints it, instead of up to a poll period later, and an idle run costs no
// reads. When watching is not possible (no inotify, its limits reached), followers poll
// at the Runner's poll period as before.
type runWatch struct {
	mu      sync.Mutex
	watcher *fsnotify.Watcher // nil while no run is watched
	byDir   map[string]map[chan struct{}]struct{}
}

// watch returns a channel that receives a value after a file in dir changes, and the
// function that ends the watch; the channel is nil when dir cannot be watched. Changes
// from the moment watch returns are seen: a follower watches before it first reads.
func (w *runWatch) watch(dir string) (<-chan struct{}, func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.watcher == nil {
		watcher, err := fsnotify.NewWatcher()
		if err != nil {
			return nil, func() {}
		}
		w.watcher, w.byDir = watcher, map[string]map[chan struct{}]struct{}{}
		go w.dispatch(watcher)
	}
	followers := w.byDir[dir]
	if followers == nil {
		if err := w.watcher.Add(dir); err != nil {
			w.closeIfIdle()
			return nil, func() {}
		}
		followers = map[chan struct{}]struct{}{}
		w.byDir[dir] = followers
	}
	ch := make(chan struct{}, 1)
	followers[ch] = struct{}{}
	return ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		delete(followers, ch)
		if len(followers) == 0 && w.byDir[dir] != nil {
			delete(w.byDir, dir)
			_ = w.watcher.Remove(dir) // the directory may be gone already
		}
		w.closeIfIdle()
	}
}

// closeIfIdle closes the watcher when it watches nothing; w.mu must be held.
func (w *runWatch) closeIfIdle() {
	if len(w.byDir) == 0 {
		_ = w.watcher.Close() // ends its dispatch
		w.watcher, w.byDir = nil, nil
	}
}

// dispatch wakes the followers of each directory watcher reports changed, and every
// follower when the kernel's queue overflowed (events were lost), until the watcher
// is closed.
func (w *runWatch) dispatch(watcher *fsnotify.Watcher) {
	for {
		select {
		case ev, ok := <-watcher.Events:
			if !ok {
				return
			}
			w.wake(filepath.Dir(ev.Name))
		case _, ok := <-watcher.Errors:
			if !ok {
				return
			}
			w.wake("")
		}
	}
}

// wake signals the followers of dir, or of every directory when dir is "".
func (w *runWatch) wake(dir string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if dir != "" {
		notify(w.byDir[dir])
		return
	}
	for _, followers := range w.byDir {
		notify(followers)
	}
}

func notify(followers map[chan struct{}]struct{}) {
	for ch := range followers {
		select {
		case ch <- struct{}{}:
		default: // already signalled, not yet read
		}
	}
}
