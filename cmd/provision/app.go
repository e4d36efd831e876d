package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/provision/provision/internal/emulator"
	"github.com/provision/provision/internal/job"
	"github.com/provision/provision/internal/reader"
	"github.com/provision/provision/internal/state"
)

// Exit codes, documented in the help text and the README.
const (
	exitOK       = 0 // every row created or already provisioned (validate: every row valid)
	exitRows     = 1 // finished; some rows invalid, failed or pending
	exitUsage    = 2 // usage or configuration error; nothing sent
	exitStopped  = 3 // stopped early (signal, refused credentials, error budget); re-run to resume
	exitLocked   = 4 // another run holds the state's lock
	forcedExitIn = 3 * time.Second
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usageText = `provision creates Anthropic user profiles in bulk from a user export (CSV or JSONL),
exactly once per row, and writes a report of what became of every row.

Usage:
  provision run FILE        create a profile for every row not yet provisioned (FILE "-" = stdin)
  provision validate FILE   dry run: read and validate every row, call nothing, write the same report
  provision adopt           list the whole org and record every profile in the state's ledger
  provision report          render the report of the last run from the state
  provision emulator        a local User Profiles API server for demos and tests
  provision version

Examples:
  export ANTHROPIC_API_KEY=...            # or --api-key-file /run/secrets/anthropic
  provision validate users.csv
  provision run users.csv --report out/report.csv --rate 50
  provision run users.jsonl --map external_id=user_id --map metadata.plan=tier
  provision report --report last.jsonl

Run "provision COMMAND -h" for a command's flags.

Exit codes:
  0  every row created or already provisioned (validate: every row valid)
  1  finished; some rows invalid, failed or pending (see the report)
  2  usage or configuration error; nothing was sent
  3  stopped early (signal, refused credentials, error budget); re-run the same command to resume
  4  another run holds the state's lock
`

// usageError is a problem with the command line or configuration: nothing
// was sent.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// env reads the environment; tests pass their own.
type env func(string) string

// Main runs one command and returns its exit code. First SIGINT/SIGTERM
// stops dispatching and drains; a second abandons requests on the wire
// (their rows stay pending for the next run) and, if the run still has not
// ended shortly after, exits at once.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv env) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	stop, stopNow := context.WithCancelCause(context.Background())
	send, sendNow := context.WithCancel(context.Background())
	defer stopNow(nil)
	defer sendNow()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		sig, ok := <-sigs
		if !ok {
			return
		}
		stopNow(fmt.Errorf("received %s", sig))
		if _, ok := <-sigs; !ok {
			return
		}
		sendNow()
		time.Sleep(forcedExitIn)
		os.Exit(exitStopped)
	}()

	cmd, rest := args[0], args[1:]
	var err error
	code := exitOK
	switch cmd {
	case "run", "validate":
		code, err = runCommand(stop, send, cmd, rest, stdin, stdout, stderr, getenv)
	case "adopt":
		code, err = adoptCommand(stop, rest, stdout, stderr, getenv)
	case "report":
		err = reportCommand(rest, stdout, stderr)
	case "emulator":
		err = emulator.Main(stop, rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprintf(stdout, "provision %s\n", version)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usageText)
	default:
		fmt.Fprintf(stderr, "provision: unknown command %q\n\n%s", cmd, usageText)
		return exitUsage
	}
	if err == nil {
		return code
	}
	if mapped := exitCode(err, stderr); code == exitOK || mapped != exitStopped {
		return mapped
	}
	return code // the command's own code, said together with its error

}

// exitCode is the one place that maps errors to exit codes.
func exitCode(err error, stderr io.Writer) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	fmt.Fprintf(stderr, "provision: %v\n", err)
	var ue *usageError
	var re *reader.UsageError
	var ee *emulator.UsageError
	var le *state.LockedError
	var te *state.TargetError
	var me *job.MappingError
	switch {
	case errors.As(err, &le):
		return exitLocked
	case errors.As(err, &ue), errors.As(err, &re), errors.As(err, &ee), errors.As(err, &te), errors.As(err, &me):
		return exitUsage
	}
	return exitStopped
}
