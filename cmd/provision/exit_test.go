package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/provision/provision/internal/emulator"
	"github.com/provision/provision/internal/job"
	"github.com/provision/provision/internal/reader"
	"github.com/provision/provision/internal/state"
)

func TestExitCodeFor(t *testing.T) {
	_, readerErr := reader.ParseFormat("xml")
	for _, tc := range []struct {
		name string
		err  error
		want exitCode
	}{
		{"success", nil, exitOK},
		{"help", flag.ErrHelp, exitOK},
		{"rows need attention", exitWith(exitRows, nil), exitRows},
		{"the command's code wins over its error's kind", exitWith(exitStopped, usagef("summary path")), exitStopped},
		{"usage", usagef("bad flag"), exitUsage},
		{"usage, wrapped", fmt.Errorf("checking: %w", usagef("bad flag")), exitUsage},
		{"reader", readerErr, exitUsage},
		{"emulator", &emulator.UsageError{Err: errors.New("bad --faults")}, exitUsage},
		{"another target", &state.TargetError{Path: "p.db", Bound: "a", Given: "b"}, exitUsage},
		{"another mapping", &job.MappingError{Was: "a", Now: "b"}, exitUsage},
		{"locked", fmt.Errorf("opening: %w", &state.LockedError{Path: "p.db.lock", PID: 1}), exitLocked},
		{"anything else stopped the command", errors.New("disk full"), exitStopped},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := exitCodeFor(tc.err); got != tc.want {
				t.Errorf("exitCodeFor(%v) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
}

func TestEveryExitCodeIsExplained(t *testing.T) {
	text := exitCodesText()
	for _, c := range exitCodes() {
		if !strings.Contains(text, fmt.Sprintf("  %d  %s\n", int(c), c.meaning())) {
			t.Errorf("the help does not explain exit %d", int(c))
		}
	}
}

func TestTellPrintsTheUsageOnceAfterTheMessage(t *testing.T) {
	var b bytes.Buffer
	tell(&b, fmt.Errorf("parsing: %w", &usageError{err: errors.New("flag provided but not defined: -x"), usage: "Usage: provision run\n"}))
	if want := "provision: parsing: flag provided but not defined: -x\n\nUsage: provision run\n"; b.String() != want {
		t.Errorf("told %q, want %q", b.String(), want)
	}
	b.Reset()
	tell(&b, exitWith(exitRows, nil))
	tell(&b, flag.ErrHelp)
	if b.Len() != 0 {
		t.Errorf("an exit without a message printed %q", b.String())
	}
}

func TestClosest(t *testing.T) {
	flags := []string{"rate", "report", "concurrency", "summary-json", "state", "api-key-file", "max-attempts", "max-failures"}
	for typed, want := range map[string]string{
		"rat": "rate", "reprot": "report", "concurency": "concurrency", "summary_json": "summary-json",
		"STATE": "state", "api-key": "api-key-file", "conc": "concurrency", "max": "", "x": "", "verbose": "",
	} {
		if got := closest(typed, flags); got != want {
			t.Errorf("closest(%q) = %q, want %q", typed, got, want)
		}
	}
}
