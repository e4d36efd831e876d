// Command provision creates Anthropic user profiles in bulk from a user
// export, exactly once per row, and reports what became of every row.
package main

import (
	"os"
	"runtime/debug"
)

func main() {
	if os.Getenv("GOGC") == "" {
		// The live heap is small and flat (the state is on disk), so fewer
		// collections cost little memory and save CPU on every row.
		debug.SetGCPercent(400)
	}
	os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}
