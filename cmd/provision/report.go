package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/provision/provision/internal/report"
	"github.com/provision/provision/internal/state"
)

// reportCommand renders the report of the last run from the state.
func reportCommand(args []string, ios streams) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	statePath := fs.String("state", defaultStatePath, "the state file")
	path := fs.String("report", "-", "where to write the report: .csv or .jsonl, or - for stdout")
	format := fs.String("format", "", "csv or jsonl (default from --report's extension; csv for stdout)")
	usage := func() string {
		var b strings.Builder
		b.WriteString("Usage: provision report [--state PATH] [--report PATH]\n\nRenders the report of the last run from the state.\n\nFlags:\n")
		printFlags(&b, fs, []string{"state", "report", "format"})
		fmt.Fprintf(&b, "\n%s", exitCodesText())
		return b.String()
	}
	extra, err := parseFlags(fs, args, usage, ios.out)
	if err != nil {
		return err
	}
	if len(extra) > 0 {
		return &usageError{err: fmt.Errorf("report takes no FILE, got %q", extra[0]), usage: usage()}
	}
	f := *format
	if f == "" {
		f = report.FormatCSV
		if *path != "-" {
			if f, err = report.FormatFromPath(*path); err != nil {
				return &usageError{err: err}
			}
		}
	}
	if _, err := os.Stat(*statePath); err != nil {
		return usagef("no state at %s: nothing has run yet (or pass --state)", *statePath)
	}
	if err := checkOutputs(output{"--report", *path}); err != nil {
		return err
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
	return renderReport(context.Background(), st, run, *path, f, ios.out)
}

// renderReport writes a run's report, in input order, from the state alone.
func renderReport(ctx context.Context, st *state.Store, run state.Run, path, format string, stdout io.Writer) error {
	columns := run.Columns
	if len(columns) == 0 {
		var err error
		if columns, err = st.FieldNames(ctx, run.ID); err != nil {
			return err
		}
	}
	write := func(w io.Writer) error {
		rw, err := report.New(w, format, columns)
		if err != nil {
			return err
		}
		err = st.EachRow(context.Background(), run.ID, func(r state.ReportRow) error {
			return rw.Write(report.Row{Line: r.Line, Status: r.Status, UserProfileID: r.ProfileID, ErrorType: r.ErrorType,
				ErrorMessage: r.ErrorMessage, Attempts: r.Attempts, RequestID: r.RequestID, Fields: r.Fields})
		})
		if cerr := rw.Close(); err == nil {
			err = cerr
		}
		return err
	}
	if path == "-" {
		return write(stdout)
	}
	if err := report.WriteFileAtomic(path, 0o600, write); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	return nil
}
