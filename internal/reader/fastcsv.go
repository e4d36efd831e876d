package reader

import (
	"bytes"
	"math/bits"
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
	// First where every delimiter, quote, CR and LF is, eight bytes at a
	// time; then the fields between them. n ends the list.
	delim := r.delim
	dw := uint64(delim) * ones
	ps := r.specials[:0]
	i := 0
	for ; i+8 <= n; i += 8 {
		w := load64(body[i:])
		m := zeroBytes(w^dw) | zeroBytes(w^('"'*ones)) | zeroBytes(w^('\r'*ones)) | zeroBytes(w^('\n'*ones))
		for ; m != 0; m &= m - 1 {
			// zeroBytes may mark a byte above a marked one that is not.
			if j := i + bits.TrailingZeros64(m)>>3; isSpecial(body[j], delim) {
				ps = append(ps, j)
			}
		}
	}
	for ; i < n; i++ {
		if isSpecial(body[i], delim) {
			ps = append(ps, i)
		}
	}
	ps = append(ps, n)
	r.specials = ps

	spans := r.spans[:0]
	doubled := false
	for start, k := 0, 0; ; {
		// ps[k] is the first at or after start.
		if start == n || body[start] != '"' {
			p := ps[k]
			spans = append(spans, fieldSpan{start: start, end: p})
			if p == n {
				break
			}
			if body[p] != delim {
				// A bare quote; a CR, which csv drops or turns into LF; a
				// line break the splitter did not end the record at.
				return false
			}
			start, k = p+1, k+1
			continue
		}
		f := fieldSpan{start: start + 1}
		for k++; ; {
			p := ps[k]
			if p == n || body[p] == '\r' {
				return false // never closed; csv turns CRLF into LF
			}
			if body[p] != '"' {
				k++ // a delimiter or a line break inside the quotes
				continue
			}
			if p+1 < n && body[p+1] == '"' {
				f.doubled, doubled = true, true
				k += 2
				continue
			}
			f.end = p
			break
		}
		spans = append(spans, f)
		p := f.end + 1
		if p == n {
			break
		}
		if body[p] != delim {
			return false // a quote in a quoted field
		}
		start, k = p+1, k+2
	}
	r.spans = spans
	fields := r.fields[:0]
	if !doubled {
		str := string(body)
		for _, f := range spans {
			fields = append(fields, str[f.start:f.end])
		}
		r.fields = fields
		return true
	}
	// Some quotes are doubled: the fields' text, unquoted, into one string.
	buf := r.unquoted[:0]
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
	str := string(buf)
	start := 0
	for _, f := range spans {
		fields = append(fields, str[start:f.end])
		start = f.end
	}
	r.fields = fields
	return true
}

// isSpecial reports whether c is a byte splitFields stops at.
func isSpecial(c, delim byte) bool {
	return c == delim || c == '"' || c == '\r' || c == '\n'
}

// fieldSpan is where a field's text is in its record: between its quotes
// if it has them, with every quote in it doubled if doubled.
type fieldSpan struct {
	start, end int
	doubled    bool
}

// Bytes repeated over a word.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// load64 is b[0:8] as a little-endian word.
func load64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// zeroBytes has the high bit set of each byte of w that is zero, and maybe
// of bytes above one that is; the lowest one set is the first zero byte.
func zeroBytes(w uint64) uint64 { return (w - ones) &^ w & highs }
