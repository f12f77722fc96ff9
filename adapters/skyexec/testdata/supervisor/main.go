// Command supervisor is skygate's hidden supervise subcommand alone, for the skyexec
// tests: `supervisor supervise OPDIR`.
package main

import (
	"fmt"
	"os"

	"github.com/skygate/skygate/adapters/skyexec"
)

func main() {
	if len(os.Args) < 2 || os.Args[1] != "supervise" {
		fmt.Fprintln(os.Stderr, "usage: supervisor supervise OPDIR")
		os.Exit(2)
	}
	os.Exit(skyexec.Supervise(os.Args[2:]))
}
