package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/provision/provision/internal/emulator"
)

// forcedExitIn is how long a run may still take to record what it has
// after a second signal, before the process exits at once.
const forcedExitIn = 3 * time.Second

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// commandNames are the commands Main knows, for "did you mean".
func commandNames() []string {
	return []string{"run", "sync", "plan", "validate", "adopt", "report", "emulator", "version", "help"}
}

func usageText() string {
	return `provision creates Anthropic user profiles in bulk from a user export (CSV or JSONL),
exactly once per row, and writes a report of what became of every row.

Usage:
  provision run FILE        create a profile for every row not yet provisioned (FILE "-" = stdin)
  provision sync FILE       make the org match the export: create, update what changed, and (--absent)
                            suspend or delete the managed profiles the export no longer names
  provision plan FILE       the report a sync (or with --create-only, a run) would write; sends no write
  provision validate FILE   dry run: read and validate every row, call nothing, write the same report
  provision adopt           list the whole org and record every profile in the state's ledger
  provision report          render the report of the last run from the state
  provision emulator        a local User Profiles API server for demos and tests
  provision version

run, sync, plan, validate and adopt accept the same flags (each ignores those it has no use
for), so a crontab line is planned or dry-run by changing its verb.

Examples:
  export ANTHROPIC_API_KEY=...            # or --api-key-file /run/secrets/anthropic
  provision validate users.csv
  provision run users.csv --report out/report.csv --rate 50
  provision run users.jsonl --map external_id=user_id --map metadata.plan=tier
  provision run --config /etc/provision/okta.toml /exports/okta-users.csv
  provision plan --api ga --absent suspend users.csv --report plan.csv
  provision sync --api ga --absent suspend --where 'Status!=DEPROVISIONED' users.csv
  provision report --report last.jsonl

Run "provision COMMAND -h" for a command's flags.

` + exitCodesText()
}

// env reads the environment; tests pass their own.
type env func(string) string

// stopSignal is why a run was asked to stop: the signal received.
type stopSignal struct{ sig os.Signal }

func (s *stopSignal) Error() string { return "received " + s.sig.String() }

// Main runs one command and returns its exit code. A first SIGINT/SIGTERM
// stops dispatching and drains; a second abandons requests on the wire
// (their rows stay pending for the next run) and, if the run still has not
// ended shortly after, exits at once.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv env) int {
	ios := newStreams(stdin, stdout, stderr)
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
		stopNow(&stopSignal{sig})
		if _, ok := <-sigs; !ok {
			return
		}
		fmt.Fprintln(ios.err, "provision: abandoning the requests in flight; their rows stay pending until the next run")
		sendNow()
		time.Sleep(forcedExitIn)
		os.Exit(int(exitStopped))
	}()
	err := dispatch(stop, send, args, ios, stderr, getenv)
	tell(ios.err, err)
	return int(exitCodeFor(err))
}

// dispatch runs the command args name.
func dispatch(stop, send context.Context, args []string, ios streams, stderr io.Writer, getenv env) error {
	if len(args) == 0 {
		return &usageError{err: errors.New("no command given"), usage: usageText()}
	}
	name, rest := args[0], args[1:]
	switch name {
	case "run":
		return runCommand(stop, send, commandRun(), rest, ios, getenv)
	case "sync":
		return runCommand(stop, send, commandSync(), rest, ios, getenv)
	case "plan":
		return planCommand(stop, rest, ios, getenv)
	case "validate":
		return validateCommand(stop, rest, ios, getenv)
	case "adopt":
		return adoptCommand(stop, rest, ios, getenv)
	case "report":
		return reportCommand(rest, ios)
	case "emulator":
		return emulator.Main(stop, rest, ios.out, stderr)
	case "version", "--version":
		fmt.Fprintf(ios.out, "provision %s\n", version)
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(ios.out, usageText())
		return nil
	}
	msg := fmt.Sprintf("unknown command %q", name)
	if best := closest(name, commandNames()); best != "" {
		msg += fmt.Sprintf("; did you mean %s?", best)
	}
	return &usageError{err: errors.New(msg), usage: usageText()}
}

// acknowledgeStop tells the person, as soon as the first signal arrives,
// that it was heard and what a second one does; a drain can take a while.
// It returns a function that ends the wait.
func acknowledgeStop(stop context.Context, ios streams, log interface{ Warn(string, ...any) }) (done func()) {
	end := make(chan struct{})
	go func() {
		select {
		case <-stop.Done():
		case <-end:
			return
		}
		var s *stopSignal
		if errors.As(context.Cause(stop), &s) && s.sig != os.Interrupt {
			log.Warn("stopping: finishing requests in flight; send the signal again to abandon them", "signal", s.sig.String())
			return
		}
		log.Warn("stopping: finishing requests in flight; press Ctrl-C again to abandon them")
	}()
	return func() { close(end) }
}
