package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/provision/provision/internal/profile"
	"github.com/provision/provision/internal/reader"
	"github.com/provision/provision/internal/report"
	"github.com/provision/provision/internal/state"
)

// validateBatch is how many checked rows travel to the report writer at
// once: enough that the hand-over costs nothing per row.
const validateBatch = 256

// ValidateConfig is the wiring of one validate: the rows to check and where
// their report goes. Nothing is sent and no state is opened.
type ValidateConfig struct {
	Input *reader.Reader
	// Version is the contract whose rules the rows are checked against; the
	// zero value is the seed's.
	Version profile.Version
	// ReportPath is where the report is written, atomically; identities
	// past the first million spill to a temporary file beside it.
	ReportPath   string
	ReportFormat string           // report.FormatCSV or report.FormatJSONL
	Progress     report.Progress  // told of every row; nil shows nothing
	Now          func() time.Time // the limit of onboarded_at; time.Now when nil
}

// noProgress is the Progress of a Validate that shows none.
type noProgress struct{}

func (noProgress) Add(profile.Status) {}
func (noProgress) Waiting(string)     {}
func (noProgress) Close()             {}

// ValidateResult counts what Validate found, by status and by rule broken.
type ValidateResult struct {
	Rows       int64
	Counts     map[profile.Status]int
	ErrorTypes map[string]int
}

// checked is a row read and validated, on its way to the duplicate check
// and the report.
type checked struct {
	rec  reader.Record
	p    *profile.Problem
	body string // the create body of a row that passed validation
}

// RequestColumn is the column of validate's report, after the report's own
// columns and before the input's, that holds the JSON body run would send
// for the row under the contract validated against; empty for an invalid
// row. The report package knows only its own columns and the input's, so
// the body travels as the row's first field, and an input column of the
// same name is headed input.request (as the report heads an input column
// that collides with one of its own).
const RequestColumn = "request"

// requestColumns returns the columns validate gives the report writer: the
// request column, then the input's, the first named like it renamed (as);
// an input column of the renamed name makes it input.input.request, and so on.
func requestColumns(input []string) (columns []string, as string) {
	as = RequestColumn
	for slices.Contains(input, as) {
		as = "input." + as
	}
	columns = make([]string, 0, len(input)+1)
	columns = append(columns, RequestColumn)
	renamed := false
	for _, c := range input {
		if c == RequestColumn && !renamed {
			c, renamed = as, true
		}
		columns = append(columns, c)
	}
	return columns, as
}

// requestBody is the JSON body of POST /v1/user_profiles for r under v, as
// the client marshals it.
func requestBody(r profile.Request, v profile.Version) (string, error) {
	b, err := json.Marshal(r.Body(v))
	if err != nil {
		return "", fmt.Errorf("rendering a request body: %w", err)
	}
	return string(b), nil
}

// Validate reads and checks every row and writes the report: a row is valid,
// with the body run would send for it in the RequestColumn, or invalid with
// the rule it breaks, a duplicate of an earlier row included. Two goroutines share the work about evenly: the caller's reads
// and validates each row, the other finds duplicates, counts and writes the
// report, fed in batches in input order. Duplicates are found by 64-bit
// identity hashes (a chance of a false duplicate below 1 in 10^7 for a
// million rows), kept in memory for the first million identities and in a
// temporary file after that, so memory stays flat however long the input.
// ctx ends the reading early; the report is then not written.
func Validate(ctx context.Context, cfg ValidateConfig) (ValidateResult, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Progress == nil {
		cfg.Progress = noProgress{}
	}
	now := cfg.Now()
	res := ValidateResult{Counts: map[profile.Status]int{}, ErrorTypes: map[string]int{}}
	seen := state.NewFirstLines(filepath.Dir(cfg.ReportPath), 0)
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
	first, firstErr := cfg.Input.Next()
	inputColumns := cfg.Input.Columns()
	if inputColumns == nil && firstErr == nil {
		for _, f := range first.Fields {
			inputColumns = append(inputColumns, f.Name)
		}
	}
	columns, renamedAs := requestColumns(inputColumns)
	// fields puts the request first among a row's fields; a JSONL line's
	// own key of that name is renamed, as the CSV header's is.
	fields := func(body string, in []profile.Field) []profile.Field {
		out := make([]profile.Field, 0, len(in)+1)
		out = append(out, profile.Field{Name: RequestColumn, Value: body})
		renamed := false
		for _, f := range in {
			if f.Name == RequestColumn && !renamed {
				f.Name, renamed = renamedAs, true
			}
			out = append(out, f)
		}
		return out
	}
	// finish runs in the writing goroutine: duplicates depend on every
	// earlier row, so they are found in input order, after validation.
	finish := func(c checked) (report.Row, error) {
		rec, p := c.rec, c.p
		row := report.Row{Line: rec.Line, Status: profile.StatusValid}
		if p == nil {
			first, dup, err := seen.Add(key(rec.Request), rec.Line)
			if err != nil {
				return row, err
			}
			if dup {
				p = profile.DuplicateFor(rec.Request, first, cfg.Version)
			}
		}
		body := c.body
		if p != nil {
			row.Status, row.ErrorType, row.ErrorMessage = profile.StatusInvalid, p.Rule, p.At(rec.Line)
			res.ErrorTypes[p.Rule]++
			body = ""
		}
		row.Fields = fields(body, rec.Fields)
		res.Counts[row.Status]++
		cfg.Progress.Add(row.Status)
		return row, nil
	}
	err := report.WriteFileAtomic(cfg.ReportPath, 0o600, func(w io.Writer) error {
		rw, err := report.New(w, cfg.ReportFormat, columns)
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
						continue // drain, so the reader never blocks
					}
					row, err := finish(c)
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
			batch := make([]checked, 0, validateBatch)
			for rec, recErr := first, firstErr; recErr != io.EOF; rec, recErr = cfg.Input.Next() {
				if recErr != nil {
					return fmt.Errorf("reading the input after record %d: %w", res.Rows, recErr)
				}
				if ctx.Err() != nil {
					return fmt.Errorf("interrupted: %w", context.Cause(ctx))
				}
				res.Rows++
				c := checked{rec: rec, p: rec.Problem}
				if c.p == nil {
					c.p = profile.ValidateAt(rec.Request, cfg.Version, now)
				}
				if c.p == nil {
					body, err := requestBody(rec.Request, cfg.Version)
					if err != nil {
						return err
					}
					c.body = body
				}
				batch = append(batch, c)
				if len(batch) == validateBatch {
					batches <- batch
					batch = make([]checked, 0, validateBatch)
				}
			}
			if len(batch) > 0 {
				batches <- batch
			}
			return nil
		}()
		return errors.Join(readErr, g.Wait())
	})
	return res, err
}
