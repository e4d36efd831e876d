package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/provision/provision/internal/profile"
	"github.com/provision/provision/internal/report"
)

// finish completes the summary, writes the summary and metrics files and
// prints the summary; it returns the command's exit code, and why a file
// could not be written.
func finish(o *options, log *slog.Logger, stdout io.Writer, sum report.Summary, stopped string, failed bool) (exitCode, error) {
	sum.Elapsed = time.Since(sum.Started)
	sum.Stopped = stopped
	sum.Total = 0
	for _, n := range sum.Counts {
		sum.Total += n
	}
	code := exitOK
	switch {
	case stopped != "" || failed:
		code = exitStopped
	case len(sum.Duplicates) > 0 || needsAttention(sum):
		code = exitRows
	}
	sum.ExitCode = int(code)
	var errs []string
	if o.summaryJSON != "" {
		if err := sum.WriteJSON(o.summaryJSON); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if o.metricsFile != "" {
		if err := sum.WriteMetrics(o.metricsFile); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if o.logFormat == "json" {
		log.Info("summary", "command", sum.Command, "total", sum.Total, "counts", sum.Counts, "error_types", sum.ErrorTypes,
			"changed", sum.Changed, "reconciled", sum.Reconciled, "elapsed_seconds", sum.Elapsed.Seconds(),
			"rows_per_second", sum.RowsPerSecond(), "exit_code", int(code), "report", sum.ReportPath, "stopped", sum.Stopped)
	} else {
		fmt.Fprintln(stdout, sum.Text())
	}
	if len(errs) > 0 {
		// The rows' outcome is in the report; a missing summary is what a
		// monitor would miss, so the run does not count as finished.
		return exitStopped, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return code, nil
}

// needsAttention reports whether a row's status or error type calls for a
// person: exit 1.
func needsAttention(sum report.Summary) bool {
	for st, n := range sum.Counts {
		if n > 0 && st.NeedsAttention() {
			return true
		}
	}
	for et, n := range sum.ErrorTypes {
		if n > 0 && profile.ErrorNeedsAttention(et) {
			return true
		}
	}
	return false
}

// sumJSON is the summary kept with a finished run in the state.
func sumJSON(sum report.Summary, code exitCode) ([]byte, error) {
	return json.Marshal(struct {
		Counts     map[profile.Status]int `json:"counts"`
		ErrorTypes map[string]int         `json:"error_types"`
		Reconciled int                    `json:"reconciled"`
		ExitCode   int                    `json:"exit_code"`
	}{sum.Counts, sum.ErrorTypes, sum.Reconciled, int(code)})
}
