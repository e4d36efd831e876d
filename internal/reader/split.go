package reader

import (
	"bufio"
	"bytes"
	"io"
)

// encoding/csv reads a whole record into memory before it returns, so a
// single 100 MiB field would cost 100 MiB. The splitter finds where each
// record ends before csv sees it, following the same quoting rules (and the
// same recovery after a quoting error: the rest of the line is dropped), and
// holds at most MaxRecordBytes of it; longer records are skipped as they
// stream past. csv then parses one record at a time from the gate.

// splitState is where the splitter is within a record.
type splitState uint8

const (
	stFieldStart splitState = iota // at the first byte of a field
	stUnquoted                     // inside a field that does not start with a quote
	stQuoted                       // inside a quoted field
	stQuote                        // just after a quote inside a quoted field: closing or doubled
	stQuoteCR                      // after a closing quote and a '\r'; only '\n' may follow
	stSkipLine                     // after a quoting error: csv drops the rest of the line
	stEnd                          // the record ended at the line break that ends the chunk
)

// span is one record's bytes as the splitter found them.
type span struct {
	line     int    // physical line the record starts on
	text     []byte // the record, line breaks included; valid until the next read
	tooLong  bool   // longer than the limit; text is empty
	atEOF    bool   // the record ends at the end of the input, not at a line break
	unclosed bool   // the input ended inside a quoted field
	split    bool   // splitFields has split it: its fields are in Reader.fields
}

// readSpan returns the next record's bytes, or io.EOF when none is left.
func (r *Reader) readSpan() (span, error) {
	sp := span{line: r.line}
	st := stFieldStart
	buf := r.rec[:0]
	n := 0
	for {
		chunk, err := r.in.ReadSlice('\n')
		switch err {
		case nil, bufio.ErrBufferFull, io.EOF:
		default:
			return span{}, err
		}
		if n == 0 && err == nil && len(chunk) <= r.max && r.splitFields(chunk) {
			// The common record: one line, its quotes closed, so that the
			// line break ends it, and split already. Hand out the read
			// buffer itself; nothing reads the input again before the
			// record is parsed.
			r.line++
			sp.text, sp.split = chunk, true
			return sp, nil
		}
		if len(chunk) == 0 { // only at the end of the input
			if n == 0 {
				return span{}, io.EOF
			}
			sp.atEOF = true
			break
		}
		n += len(chunk)
		st = scanCSV(st, chunk, r.delim)
		// A blank line is skipped whatever the limit, so up to two bytes are
		// kept to tell one apart.
		if n > max(r.max, 2) {
			sp.tooLong = true
			buf = buf[:0]
		} else {
			buf = append(buf, chunk...)
		}
		if err == nil {
			r.line++
			if st == stEnd {
				break
			}
		}
		if err == io.EOF {
			sp.atEOF = true
			break
		}
	}
	r.rec = buf
	sp.unclosed = sp.atEOF && st == stQuoted
	if n > r.max && !isBlank(buf) {
		sp.tooLong = true
	}
	if !sp.tooLong {
		sp.text = buf
	}
	return sp, nil
}

// scanCSV advances the splitter over one chunk from ReadSlice('\n'), which
// holds at most one line break, at its end. It returns stEnd when that line
// break ends the record.
func scanCSV(st splitState, b []byte, delim byte) splitState {
	for i := 0; i < len(b); {
		switch st {
		case stFieldStart:
			if b[i] == '"' {
				st = stQuoted
				i++
				continue
			}
			st = stUnquoted
		case stUnquoted:
			j := i
			for j < len(b) && b[j] != delim && b[j] != '"' && b[j] != '\n' {
				j++
			}
			if j == len(b) {
				return st
			}
			switch b[j] {
			case delim:
				st = stFieldStart
			case '"':
				st = stSkipLine // csv: bare " in non-quoted field
			default:
				return stEnd
			}
			i = j + 1
		case stQuoted:
			j := bytes.IndexByte(b[i:], '"')
			if j < 0 {
				return st // line breaks inside quotes belong to the field
			}
			st = stQuote
			i += j + 1
		case stQuote:
			c := b[i]
			i++
			switch c {
			case '"':
				st = stQuoted
			case delim:
				st = stFieldStart
			case '\n':
				return stEnd
			case '\r':
				st = stQuoteCR // csv turns a final "\r\n" into "\n"
			default:
				st = stSkipLine // csv: extraneous " in quoted field
			}
		case stQuoteCR:
			if b[i] == '\n' {
				return stEnd
			}
			st = stSkipLine
		case stSkipLine:
			if b[len(b)-1] == '\n' {
				return stEnd
			}
			return st
		default:
			return st
		}
	}
	return st
}

// isBlank reports whether a record is an empty line, which csv skips.
func isBlank(b []byte) bool {
	return len(b) == 1 && b[0] == '\n' || len(b) == 2 && b[0] == '\r' && b[1] == '\n'
}

// gate feeds csv one record at a time. When the record is used up it reports
// io.EOF; bufio does not keep that error, so the next record can follow.
type gate struct {
	b       []byte
	drained bool // csv asked for more than the record
}

func (g *gate) Read(p []byte) (int, error) {
	if len(g.b) == 0 {
		g.drained = true
		return 0, io.EOF
	}
	n := copy(p, g.b)
	g.b = g.b[n:]
	return n, nil
}
