package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/provision/provision/internal/emulator"
	"github.com/provision/provision/internal/job"
	"github.com/provision/provision/internal/reader"
	"github.com/provision/provision/internal/state"
)

// exitCode is what provision returns to the shell. Cron jobs and wrappers
// branch on it, so the values are a contract (DESIGN.md, the README and
// the help text list them).
type exitCode int

// The exit codes, in the order the help text lists them.
const (
	exitOK      exitCode = 0
	exitRows    exitCode = 1
	exitUsage   exitCode = 2
	exitStopped exitCode = 3
	exitLocked  exitCode = 4
)

// exitCodes returns every exit code, in order.
func exitCodes() []exitCode {
	return []exitCode{exitOK, exitRows, exitUsage, exitStopped, exitLocked}
}

// meaning is what the code tells the person or script that ran provision.
func (c exitCode) meaning() string {
	switch c {
	case exitOK:
		return "every row created or already provisioned (validate: every row valid)"
	case exitRows:
		return "finished; some rows invalid, failed or pending, or a duplicate found (see the report)"
	case exitUsage:
		return "usage or configuration error (a state bound to another target included); nothing was sent"
	case exitStopped:
		return "stopped early (signal, refused credentials, error budget); re-run the same command to resume"
	case exitLocked:
		return "another run holds the state's lock"
	}
	panic(fmt.Sprintf("exit code %d without a meaning", int(c)))
}

// exitCodesText is the help text's list of exit codes.
func exitCodesText() string {
	var b strings.Builder
	b.WriteString("Exit codes:\n")
	for _, c := range exitCodes() {
		fmt.Fprintf(&b, "  %d  %s\n", int(c), c.meaning())
	}
	return b.String()
}

// usageError is a problem with the command line or the configuration:
// nothing was sent. usage, when set, is the command's help, printed once
// after the message.
type usageError struct {
	err   error
	usage string
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// exitError ends a command with the code it decided; err, when not nil,
// says why, and the code stays the command's whatever err wraps (a run that
// finished with failed rows and then could not write its summary is not a
// usage error because the summary's path was wrong).
type exitError struct {
	code exitCode
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", int(e.code))
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// exitWith ends a command with code, for the reason err (nil: the summary
// already said it).
func exitWith(code exitCode, err error) error {
	if code == exitOK && err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// exitCodeFor is the one place that maps a command's error to the exit
// code: nil is success, a code the command chose wins, then the error's
// kind decides, and anything else stopped the command early.
func exitCodeFor(err error) exitCode {
	var xe *exitError
	var le *state.LockedError
	var ue *usageError
	var re *reader.UsageError
	var ee *emulator.UsageError
	var te *state.TargetError
	var me *job.MappingError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &xe):
		return xe.code
	case errors.As(err, &le):
		return exitLocked
	case errors.As(err, &ue), errors.As(err, &re), errors.As(err, &ee), errors.As(err, &te), errors.As(err, &me):
		return exitUsage
	}
	return exitStopped
}

// tell prints what a command's error means to the user, once: the message,
// then the usage a command-line mistake calls for.
func tell(stderr io.Writer, err error) {
	var xe *exitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return
	case errors.As(err, &xe) && xe.err == nil:
		return
	}
	fmt.Fprintf(stderr, "provision: %v\n", err)
	var ue *usageError
	if errors.As(err, &ue) && ue.usage != "" {
		fmt.Fprintf(stderr, "\n%s", ue.usage)
	}
}
