package reader

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
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

// jsonVal is one value that feeds the request.
type jsonVal struct {
	set  bool
	name string // the key as written (dotted for a nested one)
	key  string // the metadata key, for metadata.KEY sources
	raw  []byte // the value's JSON text; points into the current line
	text string // the value as carried in Fields
}

// member is one top-level member of the current line.
type member struct {
	name string
	raw  []byte // points into the current line
	text string
}

// jsonScratch collects a line's request sources; reused across lines.
type jsonScratch struct {
	scalar  [nScalar]jsonVal // one per scalar field
	meta    jsonVal          // the metadata object
	details jsonVal          // the external_user_details object
	keys    []jsonVal        // metadata.KEY sources, one per key
	members []member         // every top-level member, for lookups by name
	width   int              // most keys seen on a line, to size Fields
	compact bytes.Buffer
}

func (s *jsonScratch) reset() {
	s.scalar = [nScalar]jsonVal{}
	s.meta = jsonVal{}
	s.details = jsonVal{}
	clear(s.keys)
	s.keys = s.keys[:0]
	clear(s.members)
	s.members = s.members[:0]
}

// set records the source of a field; for one field, a later key wins.
func (s *jsonScratch) set(f field, v jsonVal) {
	switch f.kind {
	case kindMetadata:
		s.meta = v
	case kindMetadataKey:
		v.key = f.key
		s.setKey(v)
	case kindDetails:
		s.details = v
	default:
		if slot, ok := f.kind.scalar(); ok {
			s.scalar[slot] = v
		}
	}
}

// jsonRow is the current line as a source reads it.
type jsonRow struct{ s *jsonScratch }

// cell finds a key: a top-level one as written (the last of duplicates, as
// encoding/json keeps), else a dotted path into nested objects.
func (j jsonRow) cell(name string) cell {
	ms := j.s.members
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].name == name {
			return cell{text: ms[i].text, raw: ms[i].raw, found: true}
		}
	}
	for i := 0; i < len(name); i++ {
		if name[i] != '.' {
			continue
		}
		head, rest := name[:i], name[i+1:]
		for k := len(ms) - 1; k >= 0; k-- {
			if ms[k].name == head {
				if raw, ok := nested(ms[k].raw, rest); ok {
					return cell{text: j.s.valueText(raw), raw: raw, found: true}
				}
				break
			}
		}
	}
	return cell{}
}

// nested finds a dotted path inside a JSON value, trying each dot as a
// boundary so that keys with dots in them are found too.
func nested(v []byte, path string) ([]byte, bool) {
	if v[0] != '{' {
		return nil, false
	}
	var found []byte
	it := objIter{b: v, i: 1}
	for {
		k, val, ok := it.next()
		if !ok {
			break
		}
		name := unquote(k)
		if name == path {
			found = val // the last of duplicates wins
			continue
		}
		if rest, ok := strings.CutPrefix(path, name+"."); ok && rest != "" {
			if inner, ok := nested(val, rest); ok {
				found = inner
			}
		}
	}
	return found, found != nil
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
			if rec, ok := r.jsonRecord(start, b); ok {
				return rec, nil
			}
			r.filtered.Add(1)
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

// jsonRecord turns one non-blank line into a Record; ok is false when the
// filters drop it.
func (r *Reader) jsonRecord(line int, b []byte) (out Record, ok bool) {
	out = Record{Line: line}
	if msg := jsonSyntax(b); msg != "" {
		out.Problem = &profile.Problem{Rule: RuleInvalidJSON, Message: "not valid JSON: " + msg}
		return out, true
	}
	if b[0] != '{' {
		out.Problem = &profile.Problem{Rule: RuleNotAnObject, Message: fmt.Sprintf("the line is %s, not a JSON object", kindOf(b))}
		return out, true
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
		sc.members = append(sc.members, member{name: name, raw: v, text: val.text})
		r.noteKey(name)
		if f := r.mapping.canonical(name, r.version); f.kind != kindNone {
			sc.set(f, val)
			r.anyField = true
		}
	}
	sc.width = max(sc.width, len(fields))
	r.objects++
	rw := jsonRow{sc}
	if r.unseen > 0 {
		r.see(rw)
	}
	if len(r.where.conds) > 0 && !r.where.keep(rw) {
		return Record{}, false
	}
	for _, mf := range r.plainMapped {
		col, _ := mf.src.plainColumn()
		if c := rw.cell(col); c.found {
			sc.set(mf.field, jsonVal{set: true, name: col, raw: c.raw, text: c.text})
		}
	}
	out.Fields = fields
	out.Request, out.Problem = r.jsonRequest(rw)
	return out, true
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

// jsonRequest builds the create request from the sources of one line.
func (r *Reader) jsonRequest(rw jsonRow) (profile.Request, *profile.Problem) {
	s := rw.s
	var p parts
	for slot, v := range s.scalar {
		if !v.set || v.raw[0] == 'n' {
			continue
		}
		if v.raw[0] != '"' {
			return profile.Request{}, wrongType(v.name, "a string", v.raw)
		}
		if prob := p.put(kindExternalID+fieldKind(slot), v.text, v.name); prob != nil {
			return profile.Request{}, prob
		}
	}
	if d := s.details; d.set && d.raw[0] != 'n' {
		if prob := r.detailsObject(&p, d); prob != nil {
			return profile.Request{}, prob
		}
	}
	var metaVals []profile.Field // computed metadata keys: Name is the key
	var metaFrom []string
	for i := range r.computed {
		mf := &r.computed[i]
		v, ok, prob := mf.src.eval(mf.field, rw)
		if prob == nil && ok {
			if mf.field.kind == kindMetadataKey {
				metaVals = append(metaVals, profile.Field{Name: mf.field.key, Value: v})
				metaFrom = append(metaFrom, mf.field.String())
				continue
			}
			prob = p.put(mf.field.kind, v, mf.field.String())
		}
		if prob != nil {
			return profile.Request{}, prob
		}
	}
	var req profile.Request
	if prob := p.request(&req, nil); prob != nil {
		return profile.Request{}, prob
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
	n := len(s.keys) + len(metaVals)
	var prob *profile.Problem
	for _, kv := range s.keys {
		if kv.raw[0] == 'n' {
			continue
		}
		if kv.raw[0] != '"' {
			return profile.Request{}, wrongType(kv.name, "a string", kv.raw)
		}
		if req.Metadata, prob = addMetadata(req.Metadata, hasJSON, kv.key, kv.text, kv.name, s.meta.name, "key", n); prob != nil {
			return profile.Request{}, prob
		}
	}
	for i, kv := range metaVals {
		if req.Metadata, prob = addMetadata(req.Metadata, hasJSON, kv.Name, kv.Value, metaFrom[i], s.meta.name, "key", n); prob != nil {
			return profile.Request{}, prob
		}
	}
	return req, nil
}

// detailsObject reads an external_user_details object: every member must
// be a detail, given as a string or null.
func (r *Reader) detailsObject(p *parts, d jsonVal) *profile.Problem {
	if d.raw[0] != '{' {
		return wrongType(d.name, "a JSON object", d.raw)
	}
	it := objIter{b: d.raw, i: 1}
	for {
		k, v, ok := it.next()
		if !ok {
			return nil
		}
		key := unquote(k)
		name := d.name + "." + key
		f := detailField(key)
		if f.kind == kindNone {
			return &profile.Problem{Rule: RuleUnknownField, Field: name,
				Message: "not a detail; external_user_details holds " + detailNames}
		}
		if r.mapping.replaces(f) || v[0] == 'n' {
			continue // a mapped field replaces its canonical sources
		}
		if v[0] != '"' {
			return wrongType(name, "a string", v)
		}
		if prob := p.put(f.kind, unquote(v), name); prob != nil {
			return prob
		}
	}
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
