package report

import (
	"encoding/csv"
	"io"
	"slices"
	"strconv"
	"sync"

	"github.com/gocarina/gocsv"
)

// csvWriter writes the report as CSV with a fixed header.
type csvWriter struct {
	w *gocsv.SafeCSVWriter
	// columns maps an input column's name to its cell positions; a name that
	// appears twice in the input has two positions, filled in order.
	columns map[string]column
	width   int
	// Reused by every Write (csv.Writer copies the cells), under mu: the
	// record, and how many positions of each column the row has filled.
	mu   sync.Mutex
	rec  []string
	used []int
}

// column is an input column's cell positions and its index into used.
type column struct {
	id  int
	pos []int
}

// NewCSV returns a Writer that writes a CSV report to w. The header is the
// report's columns, then inputColumns; an input column whose name collides
// with a report column is headed "input.NAME". Each row's Fields are placed
// under the column of the same name; a column the row lacks is left empty and
// a field with no column is dropped. Every cell, header included, passes
// through Neutralise.
func NewCSV(w io.Writer, inputColumns []string) Writer {
	own := reportColumns()
	header := append([]string(nil), own...)
	columns := make(map[string]column, len(inputColumns))
	renamed := make(map[string]bool)
	for i, name := range inputColumns {
		c, ok := columns[name]
		if !ok {
			c.id = len(columns)
		}
		c.pos = append(c.pos, len(own)+i)
		columns[name] = c
		header = append(header, inputHeader(name, own, inputColumns, renamed))
	}
	for i := range header {
		header[i] = Neutralise(header[i])
	}
	cw := &csvWriter{w: gocsv.NewSafeCSVWriter(csv.NewWriter(w)), columns: columns, width: len(header),
		rec: make([]string, len(header)), used: make([]int, len(columns))}
	// An error here is sticky in the csv.Writer's buffer and surfaces from Close.
	_ = cw.w.Write(header)
	return cw
}

// inputHeader names an input column in the header. A name that is also a
// report column is prefixed "input." (again, if the prefixed name is itself
// an input column or already used) so that no header is ambiguous; input
// columns that need no renaming keep their names, whatever their order.
func inputHeader(name string, own, inputColumns []string, renamed map[string]bool) string {
	if !slices.Contains(own, name) {
		return name
	}
	h := "input." + name
	for slices.Contains(own, h) || slices.Contains(inputColumns, h) || renamed[h] {
		h = "input." + h
	}
	renamed[h] = true
	return h
}

// Write implements Writer.
func (cw *csvWriter) Write(r Row) error {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	rec := cw.rec
	clear(rec)
	clear(cw.used)
	if r.Line > 0 {
		rec[0] = strconv.Itoa(r.Line)
	}
	rec[1] = Neutralise(string(r.Status))
	rec[2] = Neutralise(r.UserProfileID)
	rec[3] = Neutralise(r.ErrorType)
	rec[4] = Neutralise(r.ErrorMessage)
	rec[5] = Neutralise(strconv.Itoa(r.Attempts))
	rec[6] = Neutralise(r.RequestID)
	for _, f := range r.Fields {
		c, ok := cw.columns[f.Name]
		if !ok || cw.used[c.id] >= len(c.pos) {
			continue
		}
		rec[c.pos[cw.used[c.id]]] = Neutralise(f.Value)
		cw.used[c.id]++
	}
	return cw.w.Write(rec)
}

// Close implements Writer.
func (cw *csvWriter) Close() error {
	cw.w.Flush()
	return cw.w.Error()
}
