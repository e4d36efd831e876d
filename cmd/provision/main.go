// Command provision creates Anthropic user profiles in bulk from a user
// export, exactly once per row, and reports what became of every row.
package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"runtime/pprof"
)

func main() {
	if os.Getenv("GOGC") == "" {
		// The live heap is small and flat (the state is on disk), so fewer
		// collections cost little memory and save CPU on every row.
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// ...and where it is not small (validate's first million
		// identities), this soft limit, not five times the live heap, sets
		// when the collector runs.
		debug.SetMemoryLimit(96 << 20)
	}
	stop := startProfile(os.Getenv("PROVISION_CPUPROFILE"))
	code := Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// startProfile writes a CPU profile of the whole command to path, for
// `go tool pprof`; an empty path profiles nothing.
func startProfile(path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "provision: PROVISION_CPUPROFILE: %v\n", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
