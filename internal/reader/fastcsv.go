package reader

import (
	"bytes"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/provision/provision/internal/csvcell"
)

// Most records are well formed, and for those encoding/csv's line reader,
// its copy through the gate and its rune-by-rune field loop cost more than
// the rest of the reader. splitFields splits such a record itself, to the
// fields csv would return; a record with anything csv treats specially (a
// CR, a quote inside an unquoted field or after a closing quote, a quote
// never closed) goes to csv, which decides it and words its error. FuzzCSV
// and FuzzSplitFields hold the two equal.

// splitFields splits one record, as the splitter delimited it, into its
// fields, kept in r.fields until the next call; ok is false when csv must
// read it. The fields are substrings of one string, as csv's are: of the
// record's text, or, when a quote in it is doubled, of the fields' text
// unquoted.
func (r *Reader) splitFields(text []byte) (ok bool) {
	r.canonical = ""
	// csv reads a record's final line break, LF or CRLF, as the end of its
	// last field.
	body := text
	if n := len(body); n > 0 && body[n-1] == '\n' {
		body = body[:n-1]
		if n > 1 && body[n-2] == '\r' {
			body = body[:n-2]
		}
	}
	n := len(body)
	if bytes.IndexByte(body, '\r') >= 0 {
		return false // csv turns CRLF within a record into LF, and drops a CR before the end of input
	}
	// Fields cut at ASCII bytes out of valid UTF-8, or with a quote taken
	// out, are valid UTF-8: one check of the record serves them all.
	r.validUTF8 = utf8.Valid(body)
	delim := r.delim
	spans := r.spans[:0]
	doubled := false
	// canonical: every field so far is written as encoding/csv writes it,
	// comma-delimited, and starts like no formula (Record.CSV).
	canonical := delim == ','
	// Where the next quote is, found once for the fields without quotes
	// that come before it; whether there is a line break at all (only a
	// record over several lines has one).
	quote := bytes.IndexByte(body, '"')
	if quote < 0 {
		quote = n
	}
	lineBreak := bytes.IndexByte(body, '\n') >= 0
	for i := 0; ; {
		if i == n || body[i] != '"' {
			j := bytes.IndexByte(body[i:], delim)
			end := i + j
			if j < 0 {
				end = n
			}
			if quote < i {
				if quote = bytes.IndexByte(body[i:], '"'); quote < 0 {
					quote = n
				} else {
					quote += i
				}
			}
			if quote < end || lineBreak && bytes.IndexByte(body[i:end], '\n') >= 0 {
				// A bare quote; a line break the splitter did not end the
				// record at.
				return false
			}
			spans = append(spans, fieldSpan{start: i, end: end})
			if canonical && i < end {
				canonical = plainCell(body[i:end])
			}
			if j < 0 {
				break
			}
			i = end + 1
			continue
		}
		f := fieldSpan{start: i + 1}
		for i++; ; {
			j := bytes.IndexByte(body[i:], '"')
			if j < 0 {
				return false // never closed
			}
			i += j + 1
			if i < n && body[i] == '"' {
				f.doubled, doubled = true, true
				i++
				continue
			}
			f.end = i - 1
			break
		}
		if canonical {
			canonical = quotedCell(body[f.start:f.end], f.doubled)
		}
		spans = append(spans, f)
		if i == n {
			break
		}
		if body[i] != delim {
			return false // a quote in a quoted field
		}
		i++
	}
	r.spans = spans
	fields := r.fields[:0]
	if !doubled {
		str := r.keep(body)
		for _, f := range spans {
			fields = append(fields, str[f.start:f.end])
		}
		r.fields = fields
		if canonical {
			r.canonical = str
		}
		return true
	}
	// Some quotes are doubled: the fields' text, unquoted, into one string,
	// after the record's own text when that is canonical.
	buf := r.unquoted[:0]
	from := 0
	if canonical {
		buf = append(buf, body...)
		from = len(buf)
	}
	for i, f := range spans {
		v := body[f.start:f.end]
		if !f.doubled {
			buf = append(buf, v...)
		} else {
			for {
				q := bytes.IndexByte(v, '"')
				if q < 0 {
					break
				}
				buf = append(buf, v[:q+1]...)
				v = v[q+2:]
			}
			buf = append(buf, v...)
		}
		spans[i].end = len(buf)
	}
	r.unquoted = buf
	str := r.keep(buf)
	start := from
	for _, f := range spans {
		fields = append(fields, str[start:f.end])
		start = f.end
	}
	r.fields = fields
	if canonical {
		r.canonical = str[:from]
	}
	return true
}

// keep returns b as a string of its own: appended to the arena of
// NextRawIn, or, outside it, a new one.
func (r *Reader) keep(b []byte) string {
	if r.arena == nil || len(b) == 0 {
		return string(b)
	}
	a := append(*r.arena, b...)
	*r.arena = a
	return unsafe.String(&a[len(a)-len(b)], len(b))
}

// plainCell reports whether an unquoted field, not empty, is written as it
// is by encoding/csv's Writer (Comma ','), and starts like no formula. It
// holds no quote, comma or line break (splitFields sent those elsewhere),
// so only its start decides: no formula, no space, and not \.
func plainCell(v []byte) bool {
	switch start := csvcell.Start(v[0]); {
	case start&(csvcell.Formula|csvcell.Space) != 0:
		return false
	case start&csvcell.NotASCII != 0:
		return !startsWithSpace(v)
	}
	return len(v) != 2 || v[0] != '\\' || v[1] != '.'
}

// quotedCell reports whether a quoted field, v its text between the quotes
// (doubled: with its quotes doubled), is written by encoding/csv's Writer
// with quotes, as the input has it, and starts like no formula: it holds a
// quote, a comma or a line break, or starts with a space, or is \.. (The
// record holds no CR: splitFields sent those to csv.)
func quotedCell(v []byte, doubled bool) bool {
	if len(v) == 0 {
		return false
	}
	start := csvcell.Start(v[0])
	if start&csvcell.Formula != 0 {
		return false
	}
	return doubled || start&csvcell.Space != 0 || start&csvcell.NotASCII != 0 && startsWithSpace(v) ||
		bytes.IndexByte(v, ',') >= 0 || bytes.IndexByte(v, '\n') >= 0 || len(v) == 2 && v[0] == '\\' && v[1] == '.'
}

// startsWithSpace reports whether v's first rune is a space, as
// unicode.IsSpace has it.
func startsWithSpace(v []byte) bool {
	r, _ := utf8.DecodeRune(v)
	return unicode.IsSpace(r)
}

// fieldSpan is where a field's text is in its record: between its quotes
// if it has them, with every quote in it doubled if doubled.
type fieldSpan struct {
	start, end int
	doubled    bool
}
