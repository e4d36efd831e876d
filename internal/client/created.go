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

// scanCreated walks the top-level object of b, keeping the last "id" and
// "created_at" strings and skipping every other value. It answers ok only
// for a well-formed object whose id and created_at (when present) are
// strings without escapes, and whose created_at is an RFC 3339 time as
// encoding/json reads one.
func scanCreated(b []byte) (c created, ok bool) {
	s := scanner{b: b}
	s.space()
	if !s.byte('{') {
		return c, false
	}
	s.space()
	if s.byte('}') {
		return c, s.end()
	}
	var id, at []byte
	for {
		s.space()
		key, plain := s.str()
		if key == nil || !plain {
			return c, false
		}
		s.space()
		if !s.byte(':') {
			return c, false
		}
		s.space()
		switch string(key) {
		case "id", "created_at":
			v, plain := s.str()
			if v == nil || !plain {
				return c, false
			}
			if string(key) == "id" {
				id = v
			} else {
				at = v
			}
		default:
			// encoding/json matches keys regardless of case.
			if bytes.EqualFold(key, []byte("id")) || bytes.EqualFold(key, []byte("created_at")) {
				return c, false
			}
			if !s.skip(0) {
				return c, false
			}
		}
		s.space()
		if s.byte('}') {
			break
		}
		if !s.byte(',') {
			return c, false
		}
	}
	if !s.end() {
		return c, false
	}
	if at != nil && c.CreatedAt.UnmarshalText(at) != nil {
		return c, false
	}
	c.ID = string(id)
	return c, true
}

// scanPage walks a list answer's top-level object: it keeps the data
// array's bytes for Page.Decode, the next_page cursor, and the created_at
// of the array's last profile. It answers ok only for a well-formed object
// whose data is an array of objects and whose next_page is null or a
// string without escapes; the profiles' own values are checked by Decode.
func scanPage(b []byte) (p Page, ok bool) {
	s := scanner{b: b}
	s.space()
	if !s.byte('{') {
		return p, false
	}
	seen := false
	for first := true; ; first = false {
		s.space()
		if first && s.byte('}') {
			break
		}
		key, plain := s.str()
		if key == nil || !plain {
			return p, false
		}
		s.space()
		if !s.byte(':') {
			return p, false
		}
		s.space()
		switch string(key) {
		case "data":
			start := s.i
			oldest, ok := s.profiles()
			if !ok {
				return p, false
			}
			p.data, p.oldest, p.Data, seen = b[start:s.i], oldest, nil, true
		case "next_page":
			if s.literal("null") {
				p.NextPage = nil
				break
			}
			v, plain := s.str()
			if v == nil || !plain {
				return p, false
			}
			next := string(v)
			p.NextPage = &next
		default:
			if bytes.EqualFold(key, []byte("data")) || bytes.EqualFold(key, []byte("next_page")) {
				return p, false
			}
			if !s.skip(0) {
				return p, false
			}
		}
		s.space()
		if s.byte('}') {
			break
		}
		if !s.byte(',') {
			return p, false
		}
	}
	if !s.end() || !seen {
		return p, false
	}
	return p, true
}

// profiles passes over an array of objects and returns the created_at
// string of the last one (nil if it has none, or one with escapes).
func (s *scanner) profiles() (oldest []byte, ok bool) {
	if !s.byte('[') {
		return nil, false
	}
	s.space()
	if s.byte(']') {
		return nil, true
	}
	for {
		s.space()
		if !s.byte('{') {
			return nil, false
		}
		oldest = nil
		blind := false // a key encoding/json would take for created_at, in another case
		s.space()
		if !s.byte('}') {
			for {
				s.space()
				key, plain := s.str()
				if key == nil {
					return nil, false
				}
				s.space()
				if !s.byte(':') {
					return nil, false
				}
				s.space()
				switch {
				case string(key) == "created_at" && s.i < len(s.b) && s.b[s.i] == '"':
					v, plain := s.str()
					if v == nil {
						return nil, false
					}
					if oldest = v; !plain {
						oldest = nil
					}
				case !s.skip(1):
					return nil, false
				case !plain || bytes.EqualFold(key, []byte("created_at")):
					blind = true
				}
				if blind {
					oldest = nil
				}
				s.space()
				if s.byte('}') {
					break
				}
				if !s.byte(',') {
					return nil, false
				}
			}
		}
		s.space()
		if s.byte(']') {
			return oldest, true
		}
		if !s.byte(',') {
			return nil, false
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
		case c >= 0x80:
			plain = false
		}
		s.i++
	}
	return nil, false
}

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
	case '{', '[':
		open := s.b[s.i]
		closer := byte('}')
		if open == '[' {
			closer = ']'
		}
		s.i++
		s.space()
		if s.byte(closer) {
			return true
		}
		for {
			s.space()
			if open == '{' {
				if k, _ := s.str(); k == nil {
					return false
				}
				s.space()
				if !s.byte(':') {
					return false
				}
				s.space()
			}
			if !s.skip(depth + 1) {
				return false
			}
			s.space()
			if s.byte(closer) {
				return true
			}
			if !s.byte(',') {
				return false
			}
		}
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
	return literal(s.b[start:s.i])
}

// literal reports whether w is true, false, null or a number.
func literal(w []byte) bool {
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
