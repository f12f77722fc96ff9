package core

import (
	"regexp"
	"sync"
)

// lazyRegexp compiles pattern on its first use. Every process of the skygate binary
// (each supervisor of a sky run among them) would otherwise compile all of the parsers'
// patterns before doing anything, about a millisecond of CPU a process.
func lazyRegexp(pattern string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(pattern) })
}
