package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/provision/provision/internal/report"
	"github.com/provision/provision/internal/state"
)

// reportCommand renders the report of the last run from the state.
func reportCommand(args []string, ios streams) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	statePath := fs.String("state", defaultStatePath, "the state file")
	path := fs.String("report", "-", "where to write the report: .csv or .jsonl, or - for stdout")
	format := fs.String("format", "", "csv or jsonl (default from --report's extension; csv for stdout)")
	runID := fs.Int64("run", 0, "the run whose report to render: its number in --runs (default the last)")
	listRuns := fs.Bool("runs", false, "list the runs the state remembers, and whether their rows are kept")
	usage := func() string {
		var b strings.Builder
		b.WriteString("Usage: provision report [--state PATH] [--report PATH] [--run N | --runs]\n\n" +
			"Renders the report of the last run (or of run N) from the state. The state keeps the rows of its\n" +
			"newest --keep-runs runs (10 by default); of older runs only the summary, which --runs shows.\n\n" +
			"Examples:\n  provision report --report last.csv\n  provision report --runs\n  provision report --run 12 --report night-12.jsonl\n\nFlags:\n")
		printFlags(&b, fs, []string{"state", "report", "format", "run", "runs"})
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
	if *listRuns {
		return printRuns(st, ios.out)
	}
	var run state.Run
	if *runID != 0 {
		run, err = st.RunByID(*runID)
		if errors.Is(err, state.ErrNoRun) {
			return usagef("%s holds no run %d (provision report --runs lists them)", *statePath, *runID)
		}
	} else {
		run, err = st.LastRun()
		if errors.Is(err, state.ErrNoRun) {
			return usagef("%s holds no run yet", *statePath)
		}
	}
	if err != nil {
		return err
	}
	if run.Pruned {
		summary := ""
		if len(run.Summary) > 0 {
			summary = "; its summary: " + string(run.Summary)
		}
		return usagef("the rows of run %d (%s of %s, started %s) are gone: the state keeps the rows of its newest --keep-runs runs only (provision report --runs lists them)%s",
			run.ID, run.Command, run.Input, run.Started.UTC().Format(time.RFC3339), summary)
	}
	return renderReport(context.Background(), st, run, *path, f, ios.out)
}

// printRuns lists the state's runs, oldest first, saying which still have
// their rows.
func printRuns(st *state.Store, out io.Writer) error {
	runs, err := st.Runs()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tCOMMAND\tINPUT\tSTARTED\tEXIT\tROWS")
	for _, r := range runs {
		exit, rows := "-", "kept"
		if !r.Finished.IsZero() {
			exit = fmt.Sprint(r.ExitCode)
		} else {
			exit = "unfinished"
		}
		if r.Pruned {
			rows = "pruned (summary only)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Command, r.Input, r.Started.UTC().Format(time.RFC3339), exit, rows)
	}
	return tw.Flush()
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
