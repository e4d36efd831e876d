// Package reader streams a user export (CSV or JSONL) record by record, each
// with the physical line it starts on, and turns every record into a create
// request through the column mapping. A record that cannot become a request
// carries a Problem instead, so one bad row never stops the job; only
// problems that make the whole input unusable are returned as a UsageError.
package reader

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/provision/provision/internal/profile"
)

// Rule names of the problems this package finds in single records.
const (
	RuleFieldCount          = "field_count"
	RuleRecordTooLong       = "record_too_long"
	RuleCSVSyntax           = "csv_syntax"
	RuleInvalidJSON         = "invalid_json"
	RuleNotAnObject         = "not_an_object"
	RuleWrongType           = "wrong_type"
	RuleMetadataInvalidJSON = "metadata_invalid_json"
	RuleMetadataConflict    = "metadata_conflict"
	RuleFieldConflict       = "field_conflict"   // two columns set one field to different values
	RuleValueNotMapped      = "value_not_mapped" // a value a --map value table does not name
	RuleUnknownField        = "unknown_field"    // a key of external_user_details that is no detail
)

// ProbeRows is how many rows a run reads before it decides, with
// CheckMapping, that a key the mapping names is in no row of a JSONL export.
const ProbeRows = 1000

// DefaultMaxRecordBytes is the record size limit used when Options leaves it 0.
const DefaultMaxRecordBytes = 1 << 20

// sniffSize is how much of the input is inspected for byte-order marks,
// invalid UTF-8 and the delimiter before the first record is read.
const sniffSize = 64 << 10

// Format is the syntax of an export.
type Format string

// The formats an export can have.
const (
	FormatCSV   Format = "csv"
	FormatJSONL Format = "jsonl"
)

// ParseFormat checks the value of --format.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case FormatCSV, FormatJSONL:
		return f, nil
	case "ndjson":
		return FormatJSONL, nil
	}
	return "", usagef("unknown format %q; use --format csv or --format jsonl", s)
}

// FormatFromPath picks the format from a file's extension; "-" (stdin) is CSV.
func FormatFromPath(path string) (Format, error) {
	if path == "-" {
		return FormatCSV, nil
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv", ".tsv", ".txt":
		return FormatCSV, nil
	case ".jsonl", ".ndjson":
		return FormatJSONL, nil
	}
	return "", usagef("cannot tell the format of %q from its extension; use --format csv or --format jsonl", path)
}

// Options configures Open.
type Options struct {
	Format  Format  // required: FormatCSV or FormatJSONL
	Mapping Mapping // --map FIELD=SOURCE; the zero value reads the canonical columns
	// Version is the contract (--api) the requests are for. It decides which
	// canonical columns are read: under the default, the seed's, only
	// external_id, name, relationship, metadata and metadata.KEY, as before
	// the later contracts existed; under ga also reference_id, access_type,
	// country, email, email_hash, name_hash, onboarded_at, account_status,
	// entity_type and, in JSONL, an external_user_details object. A --map to
	// a field the contract cannot carry is a usage error.
	Version profile.Version
	// Where filters the rows (--where); rows it drops are counted by
	// Filtered and not returned.
	Where Where
	// Delimiter separates CSV fields; 0 detects ',', ';' or tab from the header line.
	Delimiter rune
	// Encoding is "" or "utf-8" (UTF-8), "windows-1252", "latin1" or
	// "utf-16" (the byte-order mark decides the byte order, little-endian
	// without one). With "", a file that starts with a UTF-16 byte-order
	// mark is read as UTF-16, NUL bytes near the start are refused, and a
	// start of file that is not UTF-8 is refused;
	// an explicit "utf-8" leaves stray bytes for the validator to report row
	// by row.
	Encoding string
	// MaxRecordBytes is the longest record accepted, line breaks included;
	// 0 means DefaultMaxRecordBytes. Longer records are skipped unbuffered.
	MaxRecordBytes int
}

// Record is one record of the input: where it starts, what it holds and the
// request it maps to, or the problem that kept it from mapping.
type Record struct {
	// Line is the 1-based physical line on which the record starts.
	Line int
	// Fields are the input's own columns (CSV: every header column in order,
	// raw) or top-level keys (JSONL: in input order, strings unquoted, other
	// values as compact JSON). Nil when the record could not be split.
	Fields []profile.Field
	// Request is the mapped create request; an empty cell, an absent key or a
	// JSON null leaves its field absent.
	Request profile.Request
	// Problem is non-nil when the record could not be turned into a request.
	Problem *profile.Problem
	// CSV, for a CSV record whose Fields are every header column, is its
	// text without the line break when each field in it is written as
	// encoding/csv's Writer (Comma ',') writes that field's value and none
	// starts like a formula (= + - @ tab CR): the record as a CSV report
	// writes its cells, there to be copied. "" otherwise.
	CSV string
}

// UsageError is a problem with the input or the options as a whole: nothing
// can be sent until the user changes the command or the file.
type UsageError struct {
	Message string // what is wrong and how to fix it
}

func (e *UsageError) Error() string { return e.Message }

func usagef(format string, args ...any) *UsageError {
	return &UsageError{Message: fmt.Sprintf(format, args...)}
}

// Reader yields the records of one export. It is not safe for concurrent use.
type Reader struct {
	format Format
	max    int
	in     *bufio.Reader // decoded UTF-8 text
	line   int           // physical line of the next unread byte
	err    error         // sticky fatal I/O error
	rec    []byte        // the current record when it spans read chunks; reused, never much over max
	src    *countingReader
	raw    *bufio.Reader // the buffer over src: its bytes are read but not consumed
	read   atomic.Int64  // records returned by Next, for Position
	pos    atomic.Int64  // input bytes consumed by them, for Position

	// CSV
	delim   byte
	gate    gate
	csv     *csv.Reader
	fed     int64 // bytes handed to csv so far, to check it stayed in step
	resyncs int   // times csv had to be replaced after losing step; 0 unless the splitter has a bug
	header  []string
	plan    plan
	unused  []string
	// splitFields' scratch, and the fields it returns.
	spans    []fieldSpan
	unquoted []byte
	fields   []string
	padded   []string // the values of a record with too few or too many fields
	// canonical is the record splitFields split last, when its fields
	// are written as Record.CSV says; "" otherwise.
	canonical string
	validUTF8 bool            // the record splitFields split last is valid UTF-8
	keepsUTF8 bool            // Map's strings are valid UTF-8 when the values are (Raw.ValidUTF8)
	slab      []profile.Field // what fieldSpace has not handed out yet
	// arena, during NextRawIn, is where splitFields keeps a record's
	// text, from mark on; nil otherwise.
	arena *[]byte
	mark  int

	version  profile.Version
	mapping  Mapping
	where    Where
	computed []mapped     // mapped fields whose source is more than a column
	filtered atomic.Int64 // records dropped by where
	anyField bool         // some column or key feeds a field
	tracked  []trackedKey // JSONL: keys the mapping or the filters name
	unseen   int          // how many of tracked no line has had yet
	objects  int64        // JSONL: lines that were objects
	keysSeen []string     // JSONL: the first distinct top-level keys, for messages

	// JSONL
	plainMapped []mapped // FIELD=KEY mappings, looked up after a line's walk
	scratch     jsonScratch
}

// trackedKey is a key a --map or --where names, and whether a line had it.
type trackedKey struct {
	key   string
	spec  string // "--map name=full_name" or "--where Status!=X"
	feeds bool   // a --map key, which feeds a field when found
	seen  bool
}

// Open prepares to read r: it checks the encoding, detects the delimiter and
// reads the CSV header. A *UsageError means the input cannot be used as
// given; any other error is an I/O failure.
func Open(r io.Reader, opts Options) (*Reader, error) {
	if opts.Format != FormatCSV && opts.Format != FormatJSONL {
		return nil, usagef("unknown format %q; use --format csv or --format jsonl", opts.Format)
	}
	if opts.MaxRecordBytes < 0 {
		return nil, usagef("the record size limit must not be negative, got %d", opts.MaxRecordBytes)
	}
	if err := opts.Mapping.checkVersion(opts.Version); err != nil {
		return nil, err
	}
	rd := &Reader{format: opts.Format, max: opts.MaxRecordBytes, line: 1,
		mapping: opts.Mapping, version: opts.Version, where: opts.Where}
	if rd.max == 0 {
		rd.max = DefaultMaxRecordBytes
	}
	rd.src = &countingReader{r: r}
	in, raw, err := decode(rd.src, opts.Encoding)
	if err != nil {
		return nil, err
	}
	rd.in, rd.raw = in, raw
	if opts.Format == FormatJSONL {
		rd.openJSONL()
		return rd, nil
	}
	if err := rd.openCSV(opts); err != nil {
		return nil, err
	}
	return rd, nil
}

// Next returns the next record, or io.EOF after the last one. Any other
// error is a failure to read the input and ends the job; problems with a
// single record are reported in Record.Problem instead.
func (r *Reader) Next() (Record, error) {
	if r.err != nil {
		return Record{}, r.err
	}
	var rec Record
	var err error
	if r.format == FormatJSONL {
		rec, err = r.nextJSONL()
	} else {
		rec, err = r.nextCSV()
	}
	r.took(err)
	return rec, err
}

// took ends a read: an error sticks, so every later read returns it; a
// record is counted, and the input read up to it, for Position.
func (r *Reader) took(err error) {
	if err != nil {
		r.err = err
		return
	}
	r.read.Add(1)
	r.pos.Store(r.src.n - int64(r.raw.Buffered()))
}

// Position returns how many records Next has returned so far and how many
// bytes of the input they took, up to a decoding buffer's worth for an
// input that is not UTF-8. It is safe to call while another goroutine
// reads, to show progress.
func (r *Reader) Position() (records, bytes int64) { return r.read.Load(), r.pos.Load() }

// countingReader counts the bytes read through it; only the goroutine that
// reads uses n.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Columns returns the CSV header, trimmed, without a byte-order mark; nil for
// JSONL and for an empty input.
func (r *Reader) Columns() []string {
	if r.header == nil {
		return nil
	}
	return append([]string(nil), r.header...)
}

// Unused returns the header columns that no request field is read from, in
// header order, so the caller can mention them once; nil for JSONL.
func (r *Reader) Unused() []string {
	if r.unused == nil {
		return nil
	}
	return append([]string(nil), r.unused...)
}

// Delimiter returns the CSV delimiter in use (detected or given); 0 for JSONL.
func (r *Reader) Delimiter() rune {
	return rune(r.delim)
}

// sizeText renders a byte limit the way a person would write it.
func sizeText(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

func tooLong(max int) *profile.Problem {
	return &profile.Problem{
		Rule:    RuleRecordTooLong,
		Message: fmt.Sprintf("record is longer than %s; it was skipped", sizeText(max)),
	}
}

// Format returns the format being read.
func (r *Reader) Format() Format { return r.format }
