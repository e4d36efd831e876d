// Package csvcell says what a report's CSV cell does from its first byte:
// whether the report neutralises it as a formula, and whether
// encoding/csv's Writer quotes it for a leading space. The report's writer
// (internal/report) decides by it, and so does the reader
// (internal/reader) when it tells that an input cell would be written as
// the input has it and may be copied whole: one table, so the two cannot
// disagree.
package csvcell

import "unicode/utf8"

// What a cell's first byte says; Start returns a set of them.
const (
	// Formula: a spreadsheet reads the cell as a formula (= + - @ tab CR);
	// the report writes it after a ' (report.Neutralise).
	Formula = 1 << iota
	// Space: an ASCII space, as unicode.IsSpace has it; encoding/csv quotes
	// a cell that starts with one.
	Space
	// NotASCII: the first byte of a longer rune, which may be a space.
	NotASCII
)

var start = func() (t [256]uint8) {
	for _, b := range []byte("=+-@\t\r") {
		t[b] |= Formula
	}
	for _, b := range []byte(" \t\n\v\f\r") {
		t[b] |= Space
	}
	for b := utf8.RuneSelf; b < 256; b++ {
		t[b] |= NotASCII
	}
	return t
}()

// Start returns what a cell starting with b is: Formula, Space and
// NotASCII, or none.
func Start(b byte) uint8 { return start[b] }
