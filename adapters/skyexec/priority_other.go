//go:build !linux

package skyexec

// Outside Linux the priority of sky runs is left as it is.

func niceSession(pid, session, nice int) {}

func niceThreads(pid, nice int) {}

func niceOwnSession(nice int) {}
