// Command peakrss runs a command and reports its peak resident set size:
//
//	peakrss [-o FILE] [-timeout D] -- COMMAND [ARG...]
//
// writes "max_rss_kib N elapsed_seconds S timed_out 0" to FILE (stderr by
// default) and exits with the command's exit code. With -timeout, a command
// still running after D is killed (timed_out 1, exit 124), so that a bench
// reports a hang instead of waiting for it.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	out := flag.String("o", "", "write the measurement here (default stderr)")
	timeout := flag.Duration("timeout", 0, "kill the command after this long (0: never)")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: peakrss [-o FILE] -- COMMAND [ARG...]")
		os.Exit(2)
	}
	cmd := exec.Command(flag.Arg(0), flag.Args()[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "peakrss:", err)
		os.Exit(127)
	}
	var timedOut atomic.Bool
	if *timeout > 0 {
		t := time.AfterFunc(*timeout, func() {
			timedOut.Store(true)
			_ = cmd.Process.Kill()
		})
		defer t.Stop()
	}
	err := cmd.Wait()
	elapsed := time.Since(start)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		fmt.Fprintln(os.Stderr, "peakrss:", err)
		os.Exit(127)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		fmt.Fprintln(os.Stderr, "peakrss: no rusage on this platform")
		os.Exit(127)
	}
	line := fmt.Sprintf("max_rss_kib %d elapsed_seconds %.3f timed_out %d\n", ru.Maxrss, elapsed.Seconds(), btoi(timedOut.Load())) // Linux reports KiB
	if *out == "" {
		fmt.Fprint(os.Stderr, line)
	} else if werr := os.WriteFile(*out, []byte(line), 0o644); werr != nil {
		fmt.Fprintln(os.Stderr, "peakrss:", werr)
		os.Exit(127)
	}
	if timedOut.Load() {
		fmt.Fprintf(os.Stderr, "peakrss: killed after -timeout %v: %s\n", *timeout, flag.Arg(0))
		os.Exit(124)
	}
	os.Exit(cmd.ProcessState.ExitCode())
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
