//go:build unix

package sqlitestore_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skygate/skygate/adapters/sqlitestore"
)

// runLockChild runs the child actions that are not about a Store's content; ok is false
// for the others.
func runLockChild(action, dir string) (code int, ok bool) {
	switch {
	case action == "exit":
		return 0, true
	case action == "hold", action == "hold-and-fork":
		if _, err := sqlitestore.Open(dir, sqlitestore.Options{}); err != nil {
			fmt.Println(err)
			return 3, true
		}
		if action == "hold-and-fork" {
			// Starts processes all the time, as skygate starts sky and supervisors,
			// until it is killed.
			for range 4 {
				go func() {
					for {
						cmd := exec.Command(os.Args[0], "-test.run=^$")
						cmd.Env = append(os.Environ(), childEnv+"=exit:")
						_ = cmd.Run()
					}
				}()
			}
		}
		fmt.Println("ready")
		select {}
	case strings.HasPrefix(action, "flock-"):
		// Holds only the flock of the lock file for a while, as a process forked by a
		// skygate holds it until it runs its own program.
		d, err := time.ParseDuration(strings.TrimPrefix(action, "flock-"))
		if err != nil {
			fmt.Println(err)
			return 2, true
		}
		f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
		if err == nil {
			err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		}
		if err != nil {
			fmt.Println(err)
			return 3, true
		}
		fmt.Println("ready")
		time.Sleep(d)
		return 0, true
	}
	return 0, false
}

// startLockChild starts the child action on dir and waits for its "ready".
func startLockChild(t *testing.T, action, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+action+":"+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("child %s: %q", action, line)
	}
	return cmd
}

// TestOpenRightAfterAKilledHolderThatStartsProcesses kills a process that holds the state
// dir while it starts processes, and opens the dir as soon as it is reaped: a process it
// had forked but that had not yet run its own program must not keep the dir locked.
func TestOpenRightAfterAKilledHolderThatStartsProcesses(t *testing.T) {
	dir := t.TempDir()
	for i := range 20 {
		holder := startLockChild(t, "hold-and-fork", dir)
		time.Sleep(time.Duration(i%5) * 5 * time.Millisecond)
		_ = holder.Process.Kill()
		_ = holder.Wait()
		s, err := sqlitestore.Open(dir, sqlitestore.Options{})
		if err != nil {
			t.Fatalf("round %d: Open right after the holder was killed and reaped: %v", i, err)
		}
		s.Close()
	}
}

// TestOpenWaitsForAnFlockLetGoOfSoon: the flock alone held (the record lock free, so no
// skygate runs) by a process that lets go of it shortly after Open starts, as a process
// forked by a killed skygate does, is acquired.
func TestOpenWaitsForAnFlockLetGoOfSoon(t *testing.T) {
	dir := t.TempDir()
	holder := startLockChild(t, "flock-300ms", dir)
	defer holder.Wait()
	start := time.Now()
	s, err := sqlitestore.Open(dir, sqlitestore.Options{})
	if err != nil {
		t.Fatalf("Open while an flock is let go of after 300 ms: %v", err)
	}
	s.Close()
	if waited := time.Since(start); waited < 100*time.Millisecond {
		t.Errorf("Open returned after %v, before the flock was let go of", waited)
	}
}

// openRefused opens a dir that a child running action holds, with Open waiting up to
// flockWait for a held flock, checks that it is refused, and says how long that took.
func openRefused(t *testing.T, action string, flockWait time.Duration) time.Duration {
	t.Helper()
	sqlitestore.SetFlockWait(t, flockWait)
	dir := t.TempDir()
	holder := startLockChild(t, action, dir)
	defer func() {
		_ = holder.Process.Kill()
		_ = holder.Wait()
	}()
	start := time.Now()
	_, err := sqlitestore.Open(dir, sqlitestore.Options{})
	if want := "another skygate is using state dir " + dir; err == nil || err.Error() != want {
		t.Fatalf("Open while a child (%s) holds the dir = %v, want %q", action, err, want)
	}
	return time.Since(start)
}

// TestAnFlockHeldOnIsRefused: the flock held past the wait, as an earlier skygate holds
// it, refuses Open.
func TestAnFlockHeldOnIsRefused(t *testing.T) {
	if waited := openRefused(t, "flock-1m", 200*time.Millisecond); waited < 200*time.Millisecond {
		t.Errorf("refused after %v, before the wait of 200 ms was over", waited)
	}
}

// TestALiveSkygateIsRefusedAtOnce: a live process holding the dir is refused without
// waiting for its flock.
func TestALiveSkygateIsRefusedAtOnce(t *testing.T) {
	if waited := openRefused(t, "hold", time.Minute); waited > 10*time.Second {
		t.Errorf("refused after %v: Open waited on the flock of a live holder", waited)
	}
}
