// Package report renders the outcome of every input row (CSV or JSONL), the
// run's summary (a paragraph, a JSON file, Prometheus metrics) and the live
// progress of a run, and writes its files atomically so that a crash never
// leaves a half-written report behind.
package report

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/provision/provision/internal/csvcell"
	"github.com/provision/provision/internal/profile"
)

// Row is one line of the report: the outcome of one input record.
type Row struct {
	// Line is the input line the row starts on; 0 for a profile the
	// export no longer names (sync), written as an empty cell (JSON null).
	Line          int
	Status        profile.Status
	UserProfileID string
	ErrorType     string
	ErrorMessage  string
	Attempts      int
	RequestID     string
	// Fields are the input's own columns (CSV) or keys (JSONL), verbatim and in input order.
	Fields []profile.Field
	// Encoded, when not nil, is what the CSV writer writes for the input
	// columns, in their place: a cell for each, in the writer's order,
	// separated by commas, each as AppendCSVCell writes it. The CSV writer
	// then ignores Fields; the JSONL writer ignores Encoded. It lets a
	// caller render cells where it has them at hand, or in parallel.
	Encoded []byte
}

// Writer writes report rows. Implementations are safe for concurrent use.
type Writer interface {
	// Write adds one row to the report.
	Write(Row) error
	// Close flushes buffered rows; it does not close the underlying io.Writer.
	Close() error
}

// Report formats, as accepted by --format and returned by FormatFromPath.
const (
	FormatCSV   = "csv"
	FormatJSONL = "jsonl"
)

// reportColumns are the report's own columns, in order, ahead of the input's.
func reportColumns() []string {
	return []string{"line", "status", "user_profile_id", "error_type", "error_message", "attempts", "request_id"}
}

// FormatFromPath returns the report format implied by path's extension:
// FormatCSV for ".csv", FormatJSONL for ".jsonl" or ".ndjson".
func FormatFromPath(path string) (string, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return FormatCSV, nil
	case ".jsonl", ".ndjson":
		return FormatJSONL, nil
	}
	return "", fmt.Errorf("report %s: cannot tell the format from the extension; use .csv, .jsonl or .ndjson", path)
}

// New returns a Writer for format (FormatCSV or FormatJSONL) writing to w;
// inputColumns are used by CSV only.
func New(w io.Writer, format string, inputColumns []string) (Writer, error) {
	switch format {
	case FormatCSV:
		return NewCSV(w, inputColumns), nil
	case FormatJSONL:
		return NewJSONL(w), nil
	}
	return nil, fmt.Errorf("unknown report format %q: want %s or %s", format, FormatCSV, FormatJSONL)
}

// Neutralise defends a CSV cell against formula injection: a spreadsheet runs
// a cell that starts with = + - @ tab or carriage return as a formula, so such
// a cell gets a leading single quote, as the OWASP CSV injection guidance
// advises. The trade-off is accepted that plain negative numbers ("-5") are
// quoted too: the report is a record for people, and a number shown as text
// is harmless where a formula run from an export is not.
func Neutralise(s string) string {
	if s == "" {
		return s
	}
	if csvcell.Start(s[0])&csvcell.Formula != 0 {
		return "'" + s
	}
	return s
}
