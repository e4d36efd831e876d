package report

import (
	"encoding/binary"
	"io"
	"math/bits"
	"slices"
	"strconv"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/provision/provision/internal/csvcell"
	"github.com/provision/provision/internal/profile"
)

// csvFlushSize is how much of the report is gathered before it is written
// out: large writes, and a bounded buffer however long a row.
const csvFlushSize = 64 << 10

// csvWriter writes the report as CSV with a fixed header. Rows are appended
// to a buffer by hand, byte for byte as encoding/csv writes them
// (appendCSVField): csv.Writer's quoting search costs more than the rest of
// the row on a report whose every row carries a JSON body
// (TestCSVFieldIsEncodingCSV).
type csvWriter struct {
	w io.Writer
	// columns maps an input column's name to its cell positions; a name that
	// appears twice in the input has two positions, filled in order.
	columns map[string]column
	// input is the input's columns in order: a row whose Fields have exactly
	// these names, as a CSV reader's records do, is placed by position.
	input []string
	width int
	// Under mu: the output not yet written, the first error writing it
	// (sticky: every later call returns it), and, reused by every Write,
	// the row's input cells and how many positions of each column it filled.
	mu    sync.Mutex
	buf   []byte
	err   error
	cells []string
	used  []int
	// status is the status of the last row written, and statusCell its
	// cell: a report has few statuses, in runs.
	status     profile.Status
	statusCell []byte
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
		c.pos = append(c.pos, i)
		columns[name] = c
		header = append(header, inputHeader(name, own, inputColumns, renamed))
	}
	cw := &csvWriter{w: w, columns: columns, input: slices.Clone(inputColumns), width: len(header),
		buf: make([]byte, 0, csvFlushSize+csvFlushSize/4), cells: make([]string, len(inputColumns)), used: make([]int, len(columns))}
	for i, h := range header {
		if i > 0 {
			cw.buf = append(cw.buf, ',')
		}
		cw.buf = appendCSVCell(cw.buf, h)
	}
	cw.buf = append(cw.buf, '\n')
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
	if cw.err != nil {
		return cw.err
	}
	b := cw.buf
	if r.Line > 0 {
		b = strconv.AppendInt(b, int64(r.Line), 10)
	}
	b = append(b, ',')
	if r.Status != cw.status {
		cw.status, cw.statusCell = r.Status, appendCSVCell(cw.statusCell[:0], string(r.Status))
	}
	b = append(b, cw.statusCell...)
	// Most of a row's own cells are empty, and most rows' attempts 0.
	b = append(b, ',')
	if r.UserProfileID != "" {
		b = appendCSVCell(b, r.UserProfileID)
	}
	b = append(b, ',')
	if r.ErrorType != "" {
		b = appendCSVCell(b, r.ErrorType)
	}
	b = append(b, ',')
	if r.ErrorMessage != "" {
		b = appendCSVCell(b, r.ErrorMessage)
	}
	b = append(b, ',')
	switch {
	case r.Attempts == 0:
		b = append(b, '0')
	case r.Attempts < 0:
		b = append(b, '\'') // Neutralise's quote before the minus sign
		fallthrough
	default:
		b = strconv.AppendInt(b, int64(r.Attempts), 10)
	}
	b = append(b, ',')
	if r.RequestID != "" {
		b = appendCSVCell(b, r.RequestID)
	}
	if r.Encoded != nil {
		b = append(b, ',')
		b = append(b, r.Encoded...)
	} else {
		for _, v := range cw.place(r.Fields) {
			b = append(b, ',')
			b = appendCSVCell(b, v)
		}
	}
	b = append(b, '\n')
	cw.buf = b
	if len(b) >= csvFlushSize {
		return cw.flush()
	}
	return nil
}

// place puts a row's fields under their columns and returns the input
// cells in header order.
func (cw *csvWriter) place(fields []profile.Field) []string {
	cells := cw.cells
	if len(fields) == len(cw.input) {
		inOrder := true
		for i := range fields {
			if fields[i].Name != cw.input[i] {
				inOrder = false
				break
			}
		}
		if inOrder {
			// The k-th field of a name is its k-th position: by position
			// is by name.
			for i := range fields {
				cells[i] = fields[i].Value
			}
			return cells
		}
	}
	clear(cells)
	clear(cw.used)
	for _, f := range fields {
		c, ok := cw.columns[f.Name]
		if !ok || cw.used[c.id] >= len(c.pos) {
			continue
		}
		cells[c.pos[cw.used[c.id]]] = f.Value
		cw.used[c.id]++
	}
	return cells
}

// flush writes out the buffer; its error is kept.
func (cw *csvWriter) flush() error {
	if len(cw.buf) > 0 {
		_, cw.err = cw.w.Write(cw.buf)
		cw.buf = cw.buf[:0]
	}
	return cw.err
}

// Close implements Writer.
func (cw *csvWriter) Close() error {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	if cw.err != nil {
		return cw.err
	}
	return cw.flush()
}

// AppendCSVCell appends s as one cell of a CSV report, as the CSV Writer
// writes a cell: Neutralise(s), quoted as encoding/csv quotes it.
func AppendCSVCell(dst []byte, s string) []byte { return appendCSVCell(dst, s) }

// appendCSVCell appends Neutralise(s) as one field of a record, as
// encoding/csv's Writer (Comma ',', UseCRLF false) writes it, without
// building the neutralised string. encoding/csv quotes a field when it holds
// a comma, a quote, a CR or an LF, when it begins with a space (as
// unicode.IsSpace has it), and when it is `\.`; inside the quotes, a quote is
// doubled and every other byte is written as it is. Neutralise(s) is "'" + s
// when s starts as a formula does: that needs quotes only for s's special
// bytes, never for its first rune, a quote, nor as `\.`.
func appendCSVCell(dst []byte, s string) []byte {
	if s == "" {
		return dst
	}
	start := csvcell.Start(s[0])
	special := hasCSVSpecial(s)
	switch {
	case start&csvcell.Formula != 0:
		if !special {
			dst = append(dst, '\'')
			return append(dst, s...)
		}
		dst = append(dst, '"', '\'')
	case special || start&csvcell.Space != 0 || start&csvcell.NotASCII != 0 && startsWithSpace(s) || s == `\.`:
		dst = append(dst, '"')
	default:
		return append(dst, s...)
	}
	return appendQuoted(dst, s)
}

// appendQuoted appends s with its quotes doubled, then the closing quote.
// A JSON body has a quote every few bytes, so it goes a word at a time: the
// rest of the word is stored whole, the output moves on past its next quote
// only, and a second quote follows, until no quote is left in the word.
func appendQuoted(dst []byte, s string) []byte {
	n := len(dst)
	// Room for every quote doubled, the closing quote, and a word stored
	// whole past the end.
	dst = slices.Grow(dst, 2*len(s)+9)[:n+2*len(s)+9]
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := load64(s[i:])
		m := zeroBytes(w ^ '"'*ones)
		for from := uint(0); ; {
			// Past a quote in the last byte, from is 64: the word stored
			// is then stale, but the output does not move past it.
			binary.LittleEndian.PutUint64(dst[n:], w>>(from&63))
			if m == 0 {
				n += 8 - int(from>>3)
				break
			}
			to := uint(bits.TrailingZeros64(m)) + 1 // past the quote's high bit
			m &= m - 1
			n += int(to-from) >> 3
			dst[n] = '"'
			n++
			from = to
		}
	}
	for ; i < len(s); i++ {
		c := s[i]
		dst[n] = c
		dst[n+1] = '"'
		n += 1 + int(isQuote[c])
	}
	dst[n] = '"'
	return dst[:n+1]
}

// isQuote is 1 for '"'.
var isQuote = [256]uint8{'"': 1}

// startsWithSpace reports whether s's first rune is a space.
func startsWithSpace(s string) bool {
	if b := s[0]; b < utf8.RuneSelf {
		return b == ' ' || b-'\t' <= '\r'-'\t' // \t \n \v \f \r, as unicode.IsSpace
	}
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsSpace(r)
}

// Bytes repeated over a word, for hasCSVSpecial.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// hasCSVSpecial reports whether s holds a byte that makes encoding/csv quote
// a field: a comma, a quote, a CR or an LF. It tests eight bytes at a time,
// the last eight overlapping the word before them.
func hasCSVSpecial(s string) bool {
	if len(s) < 8 {
		for i := 0; i < len(s); i++ {
			if csvSpecial[s[i]] {
				return true
			}
		}
		return false
	}
	for i := 0; i+8 < len(s); i += 8 {
		if specialWord(load64(s[i:])) {
			return true
		}
	}
	return specialWord(load64(s[len(s)-8:]))
}

// specialWord reports whether a byte of w is one hasCSVSpecial looks for.
func specialWord(w uint64) bool {
	return hasZero(w^(','*ones))|hasZero(w^('"'*ones))|hasZero(w^('\r'*ones))|hasZero(w^('\n'*ones)) != 0
}

// csvSpecial holds the bytes hasCSVSpecial looks for.
var csvSpecial = [256]bool{',': true, '"': true, '\r': true, '\n': true}

// load64 returns the first eight bytes of s as a little-endian word: one
// load, as the compiler combines the bytes' once the bound is checked.
func load64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// zeroBytes has the high bit set of each byte of w that is zero, and of no
// other: unlike hasZero's, its bytes do not borrow from one another.
func zeroBytes(w uint64) uint64 {
	const lows = ^uint64(highs)
	return ^((w&lows + lows) | w | lows)
}

// hasZero has the high bit of some byte set when a byte of w is zero (and
// may set others above it; only whether any is set counts).
func hasZero(w uint64) uint64 { return (w - ones) &^ w & highs }
