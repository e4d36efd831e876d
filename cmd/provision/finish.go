package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/provision/provision/internal/profile"
	"github.com/provision/provision/internal/reader"
	"github.com/provision/provision/internal/report"
	"github.com/provision/provision/internal/state"
)

func rateText(r float64) string {
	if r == 0 {
		return "adaptive"
	}
	return fmt.Sprintf("%g/s", r)
}

// inputName keys the resumption of an unfinished run: the same command over
// the same file continues it.
func inputName(file string) string {
	if file == "-" {
		return file
	}
	if abs, err := filepath.Abs(file); err == nil {
		return abs
	}
	return file
}

// openState takes the lock, then opens the state file.
func openState(path string) (*state.Store, func(), error) {
	unlock, err := state.Lock(path + ".lock")
	if err != nil {
		return nil, nil, err
	}
	st, err := state.Open(context.Background(), path)
	if err != nil {
		unlock()
		return nil, nil, &usageError{err}
	}
	return st, func() { unlock() }, nil
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

// finish completes the summary, writes the summary and metrics files and
// prints the summary; it returns the exit code of the run.
func finish(o *runOptions, log *slog.Logger, stdout io.Writer, sum report.Summary, stopped string, failed bool) (int, error) {
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
	sum.ExitCode = code
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
			"rows_per_second", sum.RowsPerSecond(), "exit_code", code, "report", sum.ReportPath, "stopped", sum.Stopped)
	} else {
		fmt.Fprintln(stdout, sum.Text())
	}
	if len(errs) > 0 {
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
func sumJSON(sum report.Summary, code int) ([]byte, error) {
	return json.Marshal(struct {
		Counts     map[profile.Status]int `json:"counts"`
		ErrorTypes map[string]int         `json:"error_types"`
		Reconciled int                    `json:"reconciled"`
		ExitCode   int                    `json:"exit_code"`
	}{sum.Counts, sum.ErrorTypes, sum.Reconciled, code})
}

// validateTo reads and checks every row and writes the report; nothing is
// sent and the state is not touched. Two goroutines share the work about
// evenly: this one reads and validates each row, the other finds duplicates,
// counts and writes the report, fed in batches in input order. Duplicates
// are found by 64-bit identity hashes (a chance of a false duplicate below
// 1 in 10^7 for a million rows), kept in memory for the first million
// identities and in a temporary file beside the report after that.
func validateTo(ctx context.Context, rd *reader.Reader, o *runOptions, prog report.Progress) (map[profile.Status]int, map[string]int, error) {
	const batchSize = 256
	type checked struct {
		rec reader.Record
		p   *profile.Problem
	}
	counts, errTypes := map[profile.Status]int{}, map[string]int{}
	dir := ""
	if o.reportPath != "-" {
		dir = filepath.Dir(o.reportPath)
	}
	seen := state.NewFirstLines(dir, 0)
	defer seen.Close()
	var h maphash.Hash
	// key hashes a row's identity without building its string.
	key := func(r profile.Request) uint64 {
		h.Reset()
		if r.ExternalID != nil {
			h.WriteString("external_id:")
			h.WriteString(*r.ExternalID)
		} else {
			h.WriteString(r.Identity())
		}
		return h.Sum64()
	}
	first, firstErr := rd.Next()
	columns := rd.Columns()
	if columns == nil && firstErr == nil {
		for _, f := range first.Fields {
			columns = append(columns, f.Name)
		}
	}
	// settle runs in the writing goroutine: duplicates depend on every
	// earlier row, so they are found in input order, after validation.
	settle := func(c checked) (report.Row, error) {
		rec, p := c.rec, c.p
		row := report.Row{Line: rec.Line, Status: profile.StatusValid, Fields: rec.Fields}
		if p == nil {
			first, dup, err := seen.Add(key(rec.Request), rec.Line)
			if err != nil {
				return row, err
			}
			if dup {
				p = profile.Duplicate(rec.Request, first)
			}
		}
		if p != nil {
			row.Status, row.ErrorType, row.ErrorMessage = profile.StatusInvalid, p.Rule, p.At(rec.Line)
			errTypes[p.Rule]++
		}
		counts[row.Status]++
		prog.Add(row.Status)
		return row, nil
	}
	err := report.WriteFileAtomic(o.reportPath, 0o600, func(w io.Writer) error {
		rw, err := report.New(w, o.reportFormat, columns)
		if err != nil {
			return err
		}
		batches := make(chan []checked, 4)
		var g errgroup.Group
		g.Go(func() error {
			var werr error
			for b := range batches {
				for _, c := range b {
					if werr != nil {
						continue
					}
					row, err := settle(c)
					if err == nil {
						err = rw.Write(row)
					}
					werr = err
				}
			}
			return errors.Join(werr, rw.Close())
		})
		readErr := func() error {
			defer close(batches)
			batch := make([]checked, 0, batchSize)
			for rec, recErr := first, firstErr; recErr != io.EOF; rec, recErr = rd.Next() {
				if recErr != nil {
					return recErr
				}
				if ctx.Err() != nil {
					return fmt.Errorf("interrupted: %w", context.Cause(ctx))
				}
				c := checked{rec: rec, p: rec.Problem}
				if c.p == nil {
					c.p = profile.Validate(rec.Request)
				}
				batch = append(batch, c)
				if len(batch) == batchSize {
					batches <- batch
					batch = make([]checked, 0, batchSize)
				}
			}
			if len(batch) > 0 {
				batches <- batch
			}
			return nil
		}()
		return errors.Join(readErr, g.Wait())
	})
	return counts, errTypes, err
}
