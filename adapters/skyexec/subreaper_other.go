//go:build !linux

package skyexec

// becomeSubreaper does nothing where there are no subreapers: orphans go to init.
func becomeSubreaper() error { return nil }
