package skyexec

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// niceSession gives process pid, the leader of a session of its own, and so what it
// starts, the nice value nice (unless it has a higher one), and its session's autogroup
// the value session. With autogroups the kernel's scheduler shares the CPU between
// sessions first, and every supervisor has a session of its own. It must not be called
// on a process of skygate's own session, whose autogroup is skygate's.
func niceSession(pid, session, nice int) {
	if session > 0 {
		_ = os.WriteFile("/proc/"+strconv.Itoa(pid)+"/autogroup", []byte(strconv.Itoa(session)), 0)
	}
	niceThreads(pid, nice)
}

// niceThreads gives each thread of process pid the nice value nice (unless it has a
// higher one); the threads and processes they start later inherit it. Failures are
// ignored: a process that is gone, or a /proc that cannot be read or written, leaves the
// priorities as they were, and the run goes on.
func niceThreads(pid, nice int) {
	if nice <= 0 {
		return
	}
	tasks, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil {
		return
	}
	for _, t := range tasks {
		if tid, err := strconv.Atoi(t.Name()); err == nil {
			_ = syscall.Setpriority(syscall.PRIO_PROCESS, tid, nice)
		}
	}
}

// niceOwnSession gives this process's autogroup (its session's) the nice value nice,
// unless it has it already. Without CAP_SYS_ADMIN the kernel takes one change of an
// autogroup's nice value every 100 ms, system-wide, and refuses the others with EAGAIN:
// of many runs started at once, most supervisors find Start's change refused, so each
// retries a while.
func niceOwnSession(nice int) {
	if nice <= 0 {
		return
	}
	const path = "/proc/self/autogroup"
	if data, err := os.ReadFile(path); err != nil || strings.HasSuffix(strings.TrimSpace(string(data)), " nice "+strconv.Itoa(nice)) {
		return // no autogroups, or the value is there
	}
	_ = retryWhileBusy(func() error {
		return os.WriteFile(path, []byte(strconv.Itoa(nice)), 0)
	}, time.Sleep, autogroupRetries)
}
