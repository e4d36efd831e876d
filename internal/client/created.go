package client

import (
	"bytes"
	"encoding/json"
	"time"
)

// created is what a create's outcome keeps of the answer.
type created struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
}

// decodeCreated reads id and created_at from the answer to a create. Most
// answers are read by scanCreated, in one pass that allocates only the id;
// whatever it does not vouch for (an escape in either value, a null, a
// malformed body) is decoded by encoding/json, whose answer is the rule:
// FuzzDecodeCreated holds the two equal wherever the scan answers.
func decodeCreated(b []byte) (created, error) {
	if c, ok := scanCreated(b); ok {
		return c, nil
	}
	var c created
	err := json.Unmarshal(b, &c)
	return c, err
}

// scanCreated walks the top-level object of b, keeping the "id" and
// "created_at" strings and skipping every other value. It answers ok only
// for a well-formed object whose id and created_at (when present) are
// strings without escapes, and whose created_at is an RFC 3339 time as
// encoding/json reads one.
func scanCreated(b []byte) (c created, ok bool) {
	s := scanner{b: b}
	s.space()
	var id, at field
	if !s.members(0, func(key []byte, plain bool) bool {
		return s.track(key, plain, 1, named{"id", &id}, named{"created_at", &at})
	}) || !s.end() || id.state > fieldString || at.state > fieldString {
		return c, false
	}
	if at.state == fieldString && c.CreatedAt.UnmarshalText(at.v) != nil {
		return c, false
	}
	c.ID = string(id.v)
	return c, true
}

// scanPage walks a list answer's top-level object: it keeps the data
// array's bytes for Page.Decode, with what it read of each profile
// (scanner.item), and the next_page cursor. It answers ok only for a
// well-formed object whose data is an array of objects and whose next_page
// is null or a string without escapes; the profiles' own values are
// checked by Decode.
func scanPage(b []byte) (p Page, ok bool) {
	s := scanner{b: b}
	s.space()
	var data, next field
	var items []item
	start := 0
	if !s.members(0, func(key []byte, plain bool) bool {
		if string(key) == "data" {
			start = s.i
			var ok bool
			if items, ok = s.items(items[:0]); !ok {
				return false
			}
			data = field{v: b[start:s.i], state: fieldString}
			return true
		}
		return s.track(key, plain, 1, named{"next_page", &next}, named{"data", &data})
	}) || !s.end() || data.state != fieldString || next.state > fieldNull {
		return p, false
	}
	for i := range items {
		items[i].start -= start
		items[i].end -= start
	}
	p.data, p.items = data.v, items
	if next.state == fieldString {
		cursor := string(next.v)
		p.NextPage = &cursor
	}
	return p, true
}

// peekPage reads a list answer from its end: the next_page member, when
// it is the last member of the top-level object and null or a string
// without escapes, and a hint of the last profile's created_at (the last
// "created_at" string before it: only a hint, since a profile's metadata
// could hold that key too). Of a well-formed answer the member it reads is
// the answer's next_page; Page.scan checks that it was.
func peekPage(b []byte) (next *string, hint []byte, ok bool) {
	i := lastNonSpace(b, len(b))
	if i < 0 || b[i] != '}' {
		return nil, nil, false
	}
	i = lastNonSpace(b, i)
	var value []byte
	switch {
	case i >= 3 && string(b[i-3:i+1]) == "null":
		i -= 4
	case i >= 1 && b[i] == '"':
		start := bytes.LastIndexByte(b[:i], '"')
		if start < 1 || b[start-1] == '\\' {
			return nil, nil, false
		}
		value = b[start+1 : i]
		for _, c := range value {
			if special[c] {
				return nil, nil, false
			}
		}
		i = start - 1
	default:
		return nil, nil, false
	}
	i = lastNonSpace(b, i+1)
	if i < 0 || b[i] != ':' {
		return nil, nil, false
	}
	i = lastNonSpace(b, i)
	const key = `"next_page"`
	if i < len(key) || string(b[i-len(key)+1:i+1]) != key {
		return nil, nil, false
	}
	key0 := i - len(key) + 1
	if j := lastNonSpace(b, key0); j < 0 || b[j] != ',' && b[j] != '{' {
		return nil, nil, false
	}
	if value != nil {
		s := string(value)
		next = &s
	}
	const at = `"created_at":"`
	if j := bytes.LastIndex(b[:key0], []byte(at)); j >= 0 {
		if end := bytes.IndexByte(b[j+len(at):key0], '"'); end > 0 && end <= 64 {
			hint = b[j+len(at) : j+len(at)+end]
		}
	}
	return next, hint, true
}

// lastNonSpace is the index of the last byte of b[:end] that is not white
// space, or -1.
func lastNonSpace(b []byte, end int) int {
	for i := end - 1; i >= 0; i-- {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
		default:
			return i
		}
	}
	return -1
}

// item is what scanPage read of one profile of a page: where it is in the
// data array, and its id, created_at and external id when they are plain
// strings encoding/json would read as they are.
type item struct {
	start, end int
	id, at     field
	ext, ref   field // external_id, and external_user_details.reference_id
}

// brief reports whether Decode may build the profile from the item alone
// (and with which external id): id and created_at were read, and the
// external id is known as Profile's decoding takes it, external_id first,
// the details' reference_id when it is absent or null.
func (it *item) brief() (ext []byte, ok bool) {
	if it.id.state != fieldString || it.at.state != fieldString {
		return nil, false
	}
	switch it.ext.state {
	case fieldString:
		return it.ext.v, true
	case fieldAbsent, fieldNull:
		if it.ref.state == fieldString {
			return it.ref.v, true
		}
	}
	return nil, false
}

// items passes over an array of objects, reading each as an item.
func (s *scanner) items(out []item) ([]item, bool) {
	if !s.elements(0, func() bool {
		it := item{start: s.i}
		details := 0
		if !s.members(1, func(key []byte, plain bool) bool {
			if plain && string(key) == "external_user_details" {
				// A second details object would be merged into the first.
				if details++; details > 1 {
					it.ref.state = fieldOther
					return s.skip(2)
				}
				if s.literal("null") {
					return true
				}
				if s.i >= len(s.b) || s.b[s.i] != '{' {
					it.ref.state = fieldOther
					return s.skip(2)
				}
				return s.members(2, func(key []byte, plain bool) bool {
					return s.track(key, plain, 3, named{"reference_id", &it.ref})
				})
			}
			if !plain || bytes.EqualFold(key, []byte("external_user_details")) {
				it.ref.state = fieldOther
			}
			return s.track(key, plain, 2, named{"id", &it.id}, named{"created_at", &it.at}, named{"external_id", &it.ext})
		}) {
			return false
		}
		it.end = s.i
		out = append(out, it)
		return true
	}) {
		return nil, false
	}
	return out, true
}

// field is what a scan learned of one member it reads: its string, if it
// is a plain one, or why not.
type field struct {
	v     []byte
	state fieldState
}

type fieldState uint8

const (
	fieldAbsent fieldState = iota
	fieldString            // v is the value
	fieldNull              // null
	fieldOther             // another type, an escaped string, or a key in another case: encoding/json must read it
)

// named is a member a scan reads, by its key.
type named struct {
	key string
	f   *field
}

// track reads the member whose key is key into the field it names, or
// skips its value. A field whose key comes in another case or escaped is
// one encoding/json would also fill: it becomes fieldOther, and stays so.
func (s *scanner) track(key []byte, plain bool, depth int, fs ...named) bool {
	for _, n := range fs {
		switch {
		case plain && string(key) == n.key:
			return s.read(n.f, depth)
		case !plain || bytes.EqualFold(key, []byte(n.key)):
			n.f.state = fieldOther
		}
	}
	return s.skip(depth)
}

// read reads one member's value into f, unless f is already fieldOther.
func (s *scanner) read(f *field, depth int) bool {
	switch {
	case s.i < len(s.b) && s.b[s.i] == '"':
		v, plain := s.str()
		if v == nil {
			return false
		}
		if f.state != fieldOther {
			if f.v, f.state = v, fieldString; !plain {
				f.v, f.state = nil, fieldOther
			}
		}
		return true
	case s.literal("null"):
		if f.state != fieldOther {
			f.v, f.state = nil, fieldNull
		}
		return true
	}
	f.state = fieldOther
	return s.skip(depth)
}

// members walks the object at the cursor: for each member it calls value
// with the key, whether the key is plain, and the cursor at the value,
// which value must pass over.
func (s *scanner) members(depth int, value func(key []byte, plain bool) bool) bool {
	if depth > maxDepth || !s.byte('{') {
		return false
	}
	s.space()
	if s.byte('}') {
		return true
	}
	for {
		s.space()
		key, plain := s.str()
		if key == nil {
			return false
		}
		s.space()
		if !s.byte(':') {
			return false
		}
		s.space()
		if !value(key, plain) {
			return false
		}
		s.space()
		if s.byte('}') {
			return true
		}
		if !s.byte(',') {
			return false
		}
	}
}

// elements walks the array at the cursor: for each element it calls value
// with the cursor at the element, which value must pass over.
func (s *scanner) elements(depth int, value func() bool) bool {
	if depth > maxDepth || !s.byte('[') {
		return false
	}
	s.space()
	if s.byte(']') {
		return true
	}
	for {
		s.space()
		if !value() {
			return false
		}
		s.space()
		if s.byte(']') {
			return true
		}
		if !s.byte(',') {
			return false
		}
	}
}

// literal passes over w if it is next.
func (s *scanner) literal(w string) bool {
	if bytes.HasPrefix(s.b[s.i:], []byte(w)) {
		s.i += len(w)
		return true
	}
	return false
}

// scanner is a cursor over JSON text that checks its structure as it
// skips, but not every rule of numbers and literals: what it skips is never
// kept.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) byte(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// end reports whether only white space is left.
func (s *scanner) end() bool {
	s.space()
	return s.i == len(s.b)
}

// str reads a string and returns its content between the quotes (nil when
// there is no well-formed string here) and whether it holds no escape, so
// that its bytes are its value. Bytes of 0x80 and above are not vouched for
// either: encoding/json replaces invalid UTF-8.
func (s *scanner) str() (v []byte, plain bool) {
	if !s.byte('"') {
		return nil, false
	}
	start, plain := s.i, true
	for s.i < len(s.b) {
		// Most bytes of a string are ordinary: one table lookup passes each.
		b, i := s.b, s.i
		for i < len(b) && !special[b[i]] {
			i++
		}
		s.i = i
		if s.i == len(s.b) {
			break
		}
		c := s.b[s.i]
		switch {
		case c == '"':
			v = s.b[start:s.i]
			s.i++
			return v, plain
		case c == '\\':
			plain = false
			if !s.escape() {
				return nil, false
			}
			continue
		case c < 0x20:
			return nil, false
		}
		plain = false // 0x80 and above
		s.i++
	}
	return nil, false
}

// special marks the bytes str must look at: the quote, the backslash,
// control characters, and bytes of 0x80 and above.
var special = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c == '"' || c == '\\' || c < 0x20 || c >= 0x80
	}
	return t
}()

// escape passes over the escape at s.i, if it is one JSON allows.
func (s *scanner) escape() bool {
	if s.i+1 >= len(s.b) {
		return false
	}
	switch s.b[s.i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		s.i += 2
		return true
	case 'u':
		if s.i+6 > len(s.b) {
			return false
		}
		for _, h := range s.b[s.i+2 : s.i+6] {
			if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
				return false
			}
		}
		s.i += 6
		return true
	}
	return false
}

// maxDepth bounds the nesting skip follows, as encoding/json does.
const maxDepth = 10000

// skip passes over one value: a string, an object, an array, or a run of
// the characters numbers and literals are made of.
func (s *scanner) skip(depth int) bool {
	if s.i >= len(s.b) || depth > maxDepth {
		return false
	}
	switch s.b[s.i] {
	case '"':
		v, _ := s.str()
		return v != nil
	case '{':
		return s.members(depth, func([]byte, bool) bool { return s.skip(depth + 1) })
	case '[':
		return s.elements(depth, func() bool { return s.skip(depth + 1) })
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c == '-' || c == '+' || c == '.' || c == 'E') {
			break
		}
		s.i++
	}
	if s.i == start {
		return false
	}
	return scalar(s.b[start:s.i])
}

// scalar reports whether w is true, false, null or a number.
func scalar(w []byte) bool {
	switch string(w) {
	case "true", "false", "null":
		return true
	}
	return number(w)
}

// number reports whether w is a JSON number:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func number(w []byte) bool {
	i := 0
	if i < len(w) && w[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(w) && w[i] >= '0' && w[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(w) && w[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(w) && w[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(w) && (w[i] == 'e' || w[i] == 'E') {
		i++
		if i < len(w) && (w[i] == '+' || w[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(w)
}
