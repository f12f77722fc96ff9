package skyexec

import (
	"os"
	"strconv"
	"syscall"
)

// niceSession gives process pid, the leader of a session of its own, and so what it
// starts, the nice value nice (unless it has a higher one). With autogroups the kernel's
// scheduler shares the CPU between sessions first, and every supervisor has a session of
// its own: its autogroup gets the value too. It must not be called on a process of
// skygate's own session, whose autogroup is skygate's.
func niceSession(pid, nice int) {
	if nice <= 0 {
		return
	}
	_ = os.WriteFile("/proc/"+strconv.Itoa(pid)+"/autogroup", []byte(strconv.Itoa(nice)), 0)
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
