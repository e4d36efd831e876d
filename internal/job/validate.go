package job

import (
	"context"
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

// validateBatch is how many rows travel between validate's goroutines at
// once: enough that the hand-over costs nothing per row, few enough that
// the rows in flight take little memory.
const validateBatch = 256

// ValidateConfig is the wiring of one validate: the rows to check and where
// their report goes. Nothing is sent and no state is opened.
type ValidateConfig struct {
	Input *reader.Reader
	// Version is the contract whose rules the rows are checked against; the
	// zero value is the seed's.
	Version profile.Version
	// ReportPath is where the report is written, atomically; identities
	// past state.DefaultFirstLinesInMemory spill to a temporary file beside
	// it.
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
	rec reader.Record
	// vals, for a CSV record read by NextRaw, are its values (the batch's),
	// which the checking goroutine maps to rec.Request; nil otherwise.
	vals []string
	raw  bool // read by NextRaw: rec.Fields is nil, vals holds the values
	// sorted: mapped by MapSorted, md holds the request's metadata (the
	// batch's), sorted; rec.Request.Metadata is nil.
	sorted bool
	md     []profile.Field
	utf8   bool // raw, and its request's strings are valid UTF-8 (reader.Raw.ValidUTF8)
	p      *profile.Problem
	key    uint64 // the hash of the identity of a row that passed validation
	body   string // the create body of a row that passed validation, unless encoded
	// encoded: the row's cells for a CSV report are cells[from:to] of its
	// batch, the request's first (empty for an invalid row), those of the
	// input from mid (a comma, then the input's cells).
	encoded       bool
	from, mid, to int
}

// batch is validateBatch rows and the bytes of their bodies or cells.
// Batches go round: read, checked, written, then read into again.
type batch struct {
	rows   []checked
	vals   []string        // the values of the raw rows
	text   []byte          // their text, which the values point into (reader.NextRawIn)
	rooms  []reader.Room   // where the raw rows' requests keep their strings
	md     []profile.Field // the metadata of the rows mapped by MapSorted
	ready  chan struct{}   // a checking goroutine is done with the batch
	bodies []byte
	ends   []int    // where each row's body ends in bodies
	keys   []uint64 // the identity hashes of the valid rows
	cells  []byte   // the encoded rows' cells for a CSV report
}

// encodeCells lets Validate render a CSV report's cells beside the check;
// tests turn it off to compare with the report writer's own rendering.
var encodeCells = true

// readRaw lets Validate read a CSV export with NextRaw, mapping its records
// in the checking goroutines; tests turn it off to compare with Next.
var readRaw = true

// sortMetadata lets Validate map raw rows with MapSorted when the reader
// can; tests turn it off to compare with Map.
var sortMetadata = true

// checkers is how many goroutines check batches at once: the reading and
// the writing goroutine each take less than the check of a row.
var checkers = 2

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

// Validate reads and checks every row and writes the report: a row is valid,
// with the body run would send for it in the RequestColumn, or invalid with
// the rule it breaks, a duplicate of an earlier row included. Three
// goroutines pass batches of rows along: the caller's reads them; the next
// validates them, renders their bodies and hashes their identities; the last
// finds duplicates, counts and writes the report, in input order.
// Duplicates are found by 64-bit identity hashes (state.FirstLines: a chance
// of a false duplicate of about one in a million for a million rows), kept
// in memory for the first millions of identities and in a temporary file
// after that, so memory stays flat however long the input. ctx ends the
// reading early; the report is then not written.
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
	// Two seeds keep an external_id apart from a content hash that reads
	// the same, as the identities' prefixes do.
	byExternalID, byContent := maphash.MakeSeed(), maphash.MakeSeed()
	key := func(r profile.Request) uint64 {
		if r.ExternalID != nil {
			return maphash.String(byExternalID, *r.ExternalID)
		}
		return maphash.String(byContent, r.Identity())
	}
	raw := readRaw && cfg.Input.Format() == reader.FormatCSV
	var first reader.Record
	var firstErr error
	if !raw {
		first, firstErr = cfg.Input.Next()
	}
	inputColumns := cfg.Input.Columns()
	if inputColumns == nil && firstErr == nil && !raw {
		for _, f := range first.Fields {
			inputColumns = append(inputColumns, f.Name)
		}
	}
	columns, renamedAs := requestColumns(inputColumns)
	// fields puts the request first among a row's fields, into out; a JSONL
	// line's own key of that name is renamed, as the CSV header's is.
	fields := func(out []profile.Field, body string, c *checked) []profile.Field {
		out = append(out[:0], profile.Field{Name: RequestColumn, Value: body})
		renamed := false
		add := func(f profile.Field) {
			if f.Name == RequestColumn && !renamed {
				f.Name, renamed = renamedAs, true
			}
			out = append(out, f)
		}
		if c.raw {
			for i, v := range c.vals {
				add(profile.Field{Name: inputColumns[i], Value: v})
			}
		} else {
			for _, f := range c.rec.Fields {
				add(f)
			}
		}
		return out
	}
	// A CSV report's cells are rendered here, beside the check, when a
	// row's fields are the input's columns in order, as a CSV input's are:
	// the body with its quotes doubled as it is rendered, the input's
	// cells copied whole when the reader found them written as the report
	// writes them (reader.Record.CSV). The report's writer then copies
	// them (report.Row.Encoded).
	encode := cfg.ReportFormat == report.FormatCSV && encodeCells
	// A raw row's metadata come sorted from their columns, when the
	// reader can sort them (reader.MapSorted), rather than in a map.
	sorted := raw && sortMetadata && cfg.Input.SortsMetadata()
	// appendValidBody appends the body of a row that passes validation,
	// or returns the problem.
	appendValidBody := func(dst []byte, c *checked, dq bool) ([]byte, *profile.Problem) {
		switch {
		case c.sorted && dq:
			return c.rec.Request.AppendValidBodyDoubledSorted(dst, c.md, cfg.Version, now)
		case c.sorted:
			return c.rec.Request.AppendValidBodySorted(dst, c.md, cfg.Version, now)
		case dq:
			return c.rec.Request.AppendValidBodyDoubled(dst, cfg.Version, now)
		}
		return c.rec.Request.AppendValidBody(dst, cfg.Version, now)
	}
	inOrder := func(fs []profile.Field) bool {
		if len(fs) != len(inputColumns) {
			return false
		}
		for i := range fs {
			if fs[i].Name != inputColumns[i] {
				return false
			}
		}
		return true
	}
	// encodeRow appends the row's cells to b.cells and checks its request,
	// unless the reader found a problem.
	encodeRow := func(b *batch, c *checked) {
		c.encoded, c.from = true, len(b.cells)
		if c.p == nil {
			// The body is never empty and starts with '{'; it holds a quote
			// unless it is {}, so report.AppendCSVCell would quote it, and
			// double its quotes, as AppendValidBodyDoubled does.
			b.cells = append(b.cells, '"')
			b.cells, c.p = appendValidBody(b.cells, c, true)
			switch {
			case c.p != nil:
				b.cells = b.cells[:c.from]
			case len(b.cells)-c.from == len(`"{}`):
				b.cells = append(b.cells[:c.from], "{}"...)
			default:
				b.cells = append(b.cells, '"')
			}
		}
		c.mid = len(b.cells)
		switch {
		case c.rec.CSV != "":
			b.cells = append(b.cells, ',')
			b.cells = append(b.cells, c.rec.CSV...)
		case c.raw:
			for _, v := range c.vals {
				b.cells = append(b.cells, ',')
				b.cells = report.AppendCSVCell(b.cells, v)
			}
		default:
			for _, f := range c.rec.Fields {
				b.cells = append(b.cells, ',')
				b.cells = report.AppendCSVCell(b.cells, f.Value)
			}
		}
		c.to = len(b.cells)
	}
	// check runs in the middle goroutine: what one row decides alone.
	check := func(b *batch) {
		b.bodies, b.ends, b.keys, b.cells, b.md = b.bodies[:0], b.ends[:0], b.keys[:0], b.cells[:0], b.md[:0]
		for i := range b.rows {
			c := &b.rows[i]
			if c.raw && c.p == nil && sorted {
				from := len(b.md)
				c.rec.Request, b.md, c.p = cfg.Input.MapSorted(c.vals, &b.rooms[i], b.md)
				c.sorted, c.md = true, b.md[from:len(b.md):len(b.md)]
				if c.utf8 {
					c.rec.Request = c.rec.Request.WithValidUTF8()
				}
			} else if c.raw && c.p == nil {
				// A raw row's values are the header's columns, in order.
				c.rec.Request, c.p = cfg.Input.Map(c.vals, &b.rooms[i])
				if c.utf8 {
					c.rec.Request = c.rec.Request.WithValidUTF8()
				}
			}
			switch {
			case encode && (c.raw || inOrder(c.rec.Fields)):
				encodeRow(b, c)
			case c.p == nil:
				b.bodies, c.p = appendValidBody(b.bodies, c, false)
			}
			if c.p == nil {
				if c.sorted && c.rec.Request.ExternalID == nil && len(c.md) > 0 {
					// The identity is the content's, metadata included.
					c.rec.Request.Metadata = make(map[string]string, len(c.md))
					for _, f := range c.md {
						c.rec.Request.Metadata[f.Name] = f.Value
					}
				}
				c.key = key(c.rec.Request)
				b.keys = append(b.keys, c.key)
			}
			b.ends = append(b.ends, len(b.bodies))
		}
		// One string holds the batch's bodies.
		all, start := string(b.bodies), 0
		for i, end := range b.ends {
			b.rows[i].body = all[start:end]
			start = end
		}
	}
	var valid, invalid int
	var scratch []profile.Field
	// finish runs in the writing goroutine: duplicates depend on every
	// earlier row, so they are found in input order, after validation.
	finish := func(b *batch, c *checked) (report.Row, error) {
		rec, p := &c.rec, c.p
		row := report.Row{Line: rec.Line, Status: profile.StatusValid}
		if p == nil {
			first, dup, err := seen.Add(c.key, rec.Line)
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
			invalid++
		} else {
			valid++
		}
		switch {
		case !c.encoded:
			scratch = fields(scratch, body, c)
			row.Fields = scratch
		case p == nil:
			row.Encoded = b.cells[c.from:c.to]
		default:
			row.Encoded = b.cells[c.mid:c.to] // the request's cell empty
		}
		cfg.Progress.Add(row.Status)
		return row, nil
	}
	err := report.WriteFileAtomic(cfg.ReportPath, 0o600, func(w io.Writer) error {
		rw, err := report.New(w, cfg.ReportFormat, columns)
		if err != nil {
			return err
		}
		// Batches go to the checking goroutines in one queue and to the
		// writing goroutine, in input order, in another; the writer waits
		// for each to be checked.
		inFlight := 2 + checkers // batches waiting at each hand-over
		toCheck, toWrite := make(chan *batch, inFlight), make(chan *batch, inFlight)
		free := make(chan *batch, inFlight+3) // every batch there can be
		newBatch := func() *batch {
			b := &batch{rows: make([]checked, 0, validateBatch), ready: make(chan struct{}, 1)}
			if raw {
				b.vals = make([]string, 0, validateBatch*len(inputColumns))
				b.rooms = make([]reader.Room, validateBatch)
			}
			return b
		}
		var g errgroup.Group
		for range checkers {
			g.Go(func() error {
				for b := range toCheck {
					check(b)
					b.ready <- struct{}{}
				}
				return nil
			})
		}
		g.Go(func() error {
			var werr error
			for b := range toWrite {
				<-b.ready
				seen.Prefetch(b.keys)
				for i := range b.rows {
					c := &b.rows[i]
					if werr == nil { // else drain, so the reader never blocks
						row, err := finish(b, c)
						if err == nil {
							err = rw.Write(row)
						}
						werr = err
					}
					// Nothing refers to the request any more.
					reader.Recycle(c.rec.Request.Metadata)
					*c = checked{}
				}
				// Nothing refers to the batch's values any more: their
				// text may be written over.
				b.rows, b.vals, b.text = b.rows[:0], b.vals[:0], b.text[:0]
				free <- b
			}
			return errors.Join(werr, rw.Close())
		})
		send := func(b *batch) {
			toCheck <- b
			toWrite <- b
		}
		readErr := func() error {
			defer close(toWrite)
			defer close(toCheck)
			b := newBatch()
			// next reads the next record into c, a row of b, zero.
			next := func(c *checked) error {
				if !raw {
					rec, err := cfg.Input.Next()
					c.rec, c.p = rec, rec.Problem
					return err
				}
				r, err := cfg.Input.NextRawIn(&b.text)
				c.rec.Line, c.rec.CSV, c.rec.Problem, c.p = r.Line, r.CSV, r.Problem, r.Problem
				if r.Values != nil {
					from := len(b.vals)
					b.vals = append(b.vals, r.Values...)
					c.vals, c.raw, c.utf8 = b.vals[from:len(b.vals):len(b.vals)], true, r.ValidUTF8
				}
				return err
			}
			for i := 0; ; i++ {
				// The row is read in place: a batch's rows past its length
				// are zero, as made or as the writer leaves them.
				n := len(b.rows)
				b.rows = b.rows[:n+1]
				c := &b.rows[n]
				var recErr error
				if i == 0 && !raw {
					c.rec, c.p, recErr = first, first.Problem, firstErr
				} else {
					recErr = next(c)
				}
				if recErr == io.EOF {
					*c = checked{}
					b.rows = b.rows[:n]
					break
				}
				if recErr != nil {
					return fmt.Errorf("reading the input after record %d: %w", res.Rows, recErr)
				}
				if n == 0 && ctx.Err() != nil {
					return fmt.Errorf("interrupted: %w", context.Cause(ctx))
				}
				res.Rows++
				if n+1 == validateBatch {
					send(b)
					select {
					case b = <-free:
					default:
						b = newBatch()
					}
				}
			}
			if len(b.rows) > 0 {
				send(b)
			}
			return nil
		}()
		werr := g.Wait()
		for st, n := range map[profile.Status]int{profile.StatusValid: valid, profile.StatusInvalid: invalid} {
			if n > 0 {
				res.Counts[st] = n
			}
		}
		return errors.Join(readErr, werr)
	})
	return res, err
}
