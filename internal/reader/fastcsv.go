package reader

import "bytes"

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
	if bytes.IndexByte(body, '\r') >= 0 {
		return false // csv turns CRLF within a record into LF, and drops a CR before the end of input
	}
	delim := r.delim
	spans := r.spans[:0]
	doubled := false
	for i := 0; ; {
		if i == n || body[i] != '"' {
			j := bytes.IndexByte(body[i:], delim)
			end := i + j
			if j < 0 {
				end = n
			}
			if bytes.IndexByte(body[i:end], '"') >= 0 || bytes.IndexByte(body[i:end], '\n') >= 0 {
				// A bare quote; a line break the splitter did not end the
				// record at.
				return false
			}
			spans = append(spans, fieldSpan{start: i, end: end})
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

// fieldSpan is where a field's text is in its record: between its quotes
// if it has them, with every quote in it doubled if doubled.
type fieldSpan struct {
	start, end int
	doubled    bool
}
