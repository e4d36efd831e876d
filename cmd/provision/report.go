package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/provision/provision/internal/report"
	"github.com/provision/provision/internal/state"
)

// reportCommand renders the report of the last run from the state.
func reportCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	statePath := fs.String("state", "provision.db", "the state file")
	path := fs.String("report", "-", "where to write the report: .csv or .jsonl, or - for stdout")
	format := fs.String("format", "", "csv or jsonl (default from --report's extension; csv for stdout)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: provision report [--state PATH] [--report PATH]\n\nRenders the report of the last run from the state.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{err}
	}
	f := *format
	if f == "" {
		f = report.FormatCSV
		if *path != "-" {
			var err error
			if f, err = report.FormatFromPath(*path); err != nil {
				return &usageError{err}
			}
		}
	}
	if _, err := os.Stat(*statePath); err != nil {
		return usagef("no state at %s: nothing has run yet (or pass --state)", *statePath)
	}
	st, unlock, err := openState(*statePath)
	if err != nil {
		return err
	}
	defer unlock()
	defer st.Close()
	run, err := st.LastRun()
	if errors.Is(err, state.ErrNoRun) {
		return usagef("%s holds no run yet", *statePath)
	}
	if err != nil {
		return err
	}
	return renderReport(context.Background(), st, run, *path, f, stdout)
}
