package reader

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/provision/provision/internal/profile"
)

// JSONL lines are checked with json.Valid and then walked by hand rather
// than unmarshalled: the walk keeps the keys in input order, keeps each
// value's own text, and leaves invalid UTF-8 inside strings as it is (json
// would replace it with U+FFFD), so that the validator can report it.
// Duplicate keys are all carried in Fields; for the request the last wins,
// as with encoding/json.

// jsonVal is one top-level value that feeds the request.
type jsonVal struct {
	set  bool
	name string // the key as written
	key  string // the metadata key, for metadata.KEY sources
	raw  []byte // the value's JSON text; points into the current line
	text string // the value as carried in Fields
}

// jsonScratch collects a line's request sources; reused across lines.
type jsonScratch struct {
	scalar  [3]jsonVal // external_id, name, relationship
	meta    jsonVal    // the metadata object
	keys    []jsonVal  // metadata.KEY sources, one per key
	width   int        // most keys seen on a line, to size Fields
	compact bytes.Buffer
}

func (s *jsonScratch) reset() {
	s.scalar = [3]jsonVal{}
	s.meta = jsonVal{}
	clear(s.keys)
	s.keys = s.keys[:0]
}

func (r *Reader) nextJSONL() (Record, error) {
	for {
		line, start, long, err := r.readLine()
		if err != nil {
			return Record{}, err
		}
		if long {
			return Record{Line: start, Problem: tooLong(r.max)}, nil
		}
		if b := trimJSONSpace(line); len(b) > 0 {
			return r.jsonRecord(start, b), nil
		}
	}
}

// readLine returns the next line without holding more than the record
// limit of it: a longer line is read through and reported as too long,
// unless it is all whitespace, which is returned empty to be skipped.
func (r *Reader) readLine() (line []byte, start int, long bool, err error) {
	start = r.line
	buf := r.rec[:0]
	n := 0
	blank := true
	for {
		chunk, err := r.in.ReadSlice('\n')
		switch err {
		case nil, bufio.ErrBufferFull, io.EOF:
		default:
			return nil, start, false, err
		}
		if n == 0 && err == nil && len(chunk) <= r.max {
			r.line++
			return chunk, start, false, nil
		}
		if len(chunk) == 0 {
			if n == 0 {
				return nil, start, false, io.EOF
			}
			break
		}
		n += len(chunk)
		if blank {
			blank = len(trimJSONSpace(chunk)) == 0
		}
		if n > r.max {
			long = true
			buf = buf[:0]
		} else {
			buf = append(buf, chunk...)
		}
		if err == nil {
			r.line++
			break
		}
		if err == io.EOF {
			break
		}
	}
	r.rec = buf
	return buf, start, long && !blank, nil
}

// jsonRecord turns one non-blank line into a Record.
func (r *Reader) jsonRecord(line int, b []byte) Record {
	out := Record{Line: line}
	if msg := jsonSyntax(b); msg != "" {
		out.Problem = &profile.Problem{Rule: RuleInvalidJSON, Message: "not valid JSON: " + msg}
		return out
	}
	if b[0] != '{' {
		out.Problem = &profile.Problem{Rule: RuleNotAnObject, Message: fmt.Sprintf("the line is %s, not a JSON object", kindOf(b))}
		return out
	}
	sc := &r.scratch
	sc.reset()
	fields := make([]profile.Field, 0, sc.width)
	it := objIter{b: b, i: 1}
	for {
		k, v, ok := it.next()
		if !ok {
			break
		}
		name := unquote(k)
		val := jsonVal{set: true, name: name, raw: v, text: sc.valueText(v)}
		fields = append(fields, profile.Field{Name: name, Value: val.text})
		switch f := r.mapping.resolve(name); f.kind {
		case kindExternalID:
			sc.scalar[0] = val
		case kindName:
			sc.scalar[1] = val
		case kindRelationship:
			sc.scalar[2] = val
		case kindMetadata:
			sc.meta = val
		case kindMetadataKey:
			val.key = f.key
			sc.setKey(val)
		}
	}
	sc.width = max(sc.width, len(fields))
	out.Fields = fields
	out.Request, out.Problem = sc.request()
	return out
}

// setKey records a metadata.KEY source; a later one for the same key wins.
func (s *jsonScratch) setKey(v jsonVal) {
	for i := range s.keys {
		if s.keys[i].key == v.key {
			s.keys[i] = v
			return
		}
	}
	s.keys = append(s.keys, v)
}

func wrongType(field, want string, raw []byte) *profile.Problem {
	return &profile.Problem{Rule: RuleWrongType, Field: field, Message: fmt.Sprintf("must be %s, found %s", want, kindOf(raw))}
}

// request builds the create request from the sources of one line.
func (s *jsonScratch) request() (profile.Request, *profile.Problem) {
	var req profile.Request
	var strs *[3]string // one allocation for every string field
	for slot, v := range s.scalar {
		if !v.set || v.raw[0] == 'n' {
			continue
		}
		if v.raw[0] != '"' {
			return profile.Request{}, wrongType(v.name, "a string", v.raw)
		}
		if strs == nil {
			strs = new([3]string)
		}
		strs[slot] = v.text
		switch slot {
		case 0:
			req.ExternalID = &strs[0]
		case 1:
			req.Name = &strs[1]
		case 2:
			req.Relationship = &strs[2]
		}
	}
	hasJSON := false
	if m := s.meta; m.set && m.raw[0] != 'n' {
		if m.raw[0] != '{' {
			return profile.Request{}, wrongType(m.name, "a JSON object of strings", m.raw)
		}
		md, badKey, badVal := stringObject(m.raw)
		if badVal != nil {
			return profile.Request{}, wrongType(m.name+"."+badKey, "a string", badVal)
		}
		req.Metadata = md
		hasJSON = md != nil
	}
	for _, kv := range s.keys {
		if kv.raw[0] == 'n' {
			continue
		}
		if kv.raw[0] != '"' {
			return profile.Request{}, wrongType(kv.name, "a string", kv.raw)
		}
		if req.Metadata == nil {
			req.Metadata = make(map[string]string, len(s.keys))
		} else if _, dup := req.Metadata[kv.key]; dup && hasJSON {
			return profile.Request{}, conflict(kv.name, kv.key, "key", s.meta.name)
		}
		req.Metadata[kv.key] = kv.text
	}
	return req, nil
}

// valueText is a value as carried in Fields: a string unquoted, anything
// else as compact JSON.
func (s *jsonScratch) valueText(v []byte) string {
	if v[0] == '"' {
		return unquote(v)
	}
	if bytes.IndexAny(v, " \t\r\n") < 0 {
		return string(v)
	}
	s.compact.Reset()
	if err := json.Compact(&s.compact, v); err != nil {
		return string(v) // unreachable: v is valid JSON
	}
	return s.compact.String()
}

// jsonSyntax returns why b is not valid JSON, or "" when it is.
func jsonSyntax(b []byte) string {
	if json.Valid(b) {
		return ""
	}
	// Unmarshal checks the syntax before decoding anything, so this only
	// produces the error.
	var v struct{}
	err := json.Unmarshal(b, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		if se.Offset >= int64(len(b)) {
			return se.Error() // "unexpected end of JSON input"
		}
		return fmt.Sprintf("%s at byte %d", se.Error(), se.Offset)
	}
	if err != nil {
		return err.Error()
	}
	return "invalid JSON"
}

func isJSONSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n'
}

// trimJSONSpace removes the whitespace JSON allows around a value.
func trimJSONSpace(b []byte) []byte {
	for len(b) > 0 && isJSONSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isJSONSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isJSONSpace(b[i]) {
		i++
	}
	return i
}

// kindOf names the type of a valid JSON value for a message.
func kindOf(v []byte) string {
	switch v[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// objIter walks the members of a JSON object already known to be valid.
type objIter struct {
	b []byte
	i int // just after '{' or after the previous value
}

// next returns the next member's key (quoted) and value texts.
func (it *objIter) next() (key, val []byte, ok bool) {
	b := it.b
	i := skipSpace(b, it.i)
	if b[i] == ',' {
		i = skipSpace(b, i+1)
	}
	if b[i] == '}' {
		return nil, nil, false
	}
	end := endString(b, i)
	key = b[i:end]
	i = skipSpace(b, end) // at ':'
	i = skipSpace(b, i+1) // at the value
	end = endValue(b, i)
	it.i = end
	return key, b[i:end], true
}

// endString returns the index just past the string that starts at b[i].
func endString(b []byte, i int) int {
	j := i + 1
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return len(b) // unreachable for valid JSON
		}
		q := j + k
		// The quote is escaped when an odd number of backslashes precede it.
		bs := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			bs++
		}
		if bs%2 == 0 {
			return q + 1
		}
		j = q + 1
	}
}

// endValue returns the index just past the value that starts at b[i].
func endValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return endString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); {
			switch b[j] {
			case '"':
				j = endString(b, j)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
			j++
		}
		return len(b)
	}
	j := i
	for j < len(b) && !isJSONSpace(b[j]) && b[j] != ',' && b[j] != '}' && b[j] != ']' {
		j++
	}
	return j
}

// stringObject decodes a valid JSON object whose values are strings, null
// values left out. It returns the first member whose value is of another
// type instead. An object with no strings gives a nil map.
func stringObject(obj []byte) (m map[string]string, badKey string, badVal []byte) {
	it := objIter{b: obj, i: 1}
	for {
		k, v, ok := it.next()
		if !ok {
			return m, "", nil
		}
		switch v[0] {
		case 'n':
			continue
		case '"':
			if m == nil {
				m = make(map[string]string)
			}
			m[unquote(k)] = unquote(v)
		default:
			return nil, unquote(k), v
		}
	}
}

// unquote decodes a valid JSON string literal. Escapes are decoded as
// encoding/json does, but other bytes are kept as they are, invalid UTF-8
// included.
func unquote(s []byte) string {
	s = s[1 : len(s)-1]
	if bytes.IndexByte(s, '\\') < 0 {
		return string(s)
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		i++
		switch e := s[i]; e {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			rr := hex4(s[i+1:])
			i += 5
			if utf16.IsSurrogate(rr) {
				// A surrogate only counts as half of a pair; alone it is U+FFFD.
				next := rune(-1)
				if i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
					next = hex4(s[i+2:])
				}
				if dec := utf16.DecodeRune(rr, next); dec != unicode.ReplacementChar {
					rr = dec
					i += 6
				} else {
					rr = unicode.ReplacementChar
				}
			}
			out = utf8.AppendRune(out, rr)
			continue
		default: // '"', '\\', '/'
			out = append(out, e)
		}
		i++
	}
	return string(out)
}

// hex4 decodes the four hex digits at the start of s, or returns -1.
func hex4(s []byte) rune {
	if len(s) < 4 {
		return -1
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}
