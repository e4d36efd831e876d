package profile

import (
	"time"
	"unicode/utf8"
)

// AppendBody appends the JSON of r.Body(v) to dst, byte for byte what
// json.Marshal(r.Body(v)) returns, without reflection: validate renders a
// body for every row, and marshalling by reflection cost more than reading
// the row. The field order and the omissions are Body's; strings are
// escaped as encoding/json escapes them (HTML characters, U+2028 and
// U+2029 included, invalid UTF-8 as U+FFFD); metadata keys are sorted.
// TestAppendBodyIsMarshal and FuzzAppendBody hold the two equal.
func (r Request) AppendBody(dst []byte, v Version) []byte {
	return r.appendBody(dst, v, nil, false)
}

// AppendValidBody checks r as ValidateAt does and, when it is valid,
// appends its body as AppendBody does; when it is not, it returns dst as it
// was and the problem. The metadata is gathered and sorted once for both.
func (r Request) AppendValidBody(dst []byte, v Version, now time.Time) ([]byte, *Problem) {
	return r.appendValidBody(dst, v, now, false)
}

// AppendValidBodyDoubled is AppendValidBody with every quote of the body
// doubled, as the body is written inside a quoted CSV field: what a CSV
// writer would make of AppendBody's bytes, without a second pass over them.
func (r Request) AppendValidBodyDoubled(dst []byte, v Version, now time.Time) ([]byte, *Problem) {
	return r.appendValidBody(dst, v, now, true)
}

// AppendValidBodySorted is AppendValidBody for a request whose metadata
// are md, its keys distinct and sorted in byte order, rather than
// r.Metadata, which it ignores: a reader that knows the keys' order from
// its columns spares a map (reader.MapSorted). The body and the problem
// are those of r with md as its Metadata.
func (r Request) AppendValidBodySorted(dst []byte, md []Field, v Version, now time.Time) ([]byte, *Problem) {
	return r.appendValidSorted(dst, md, v, now, false)
}

// AppendValidBodyDoubledSorted is AppendValidBodySorted with every quote of
// the body doubled, as AppendValidBodyDoubled.
func (r Request) AppendValidBodyDoubledSorted(dst []byte, md []Field, v Version, now time.Time) ([]byte, *Problem) {
	return r.appendValidSorted(dst, md, v, now, true)
}

func (r Request) appendValidSorted(dst []byte, md []Field, v Version, now time.Time, dq bool) ([]byte, *Problem) {
	if len(md) > MaxMetadataKeys {
		// Too many keys: a map of them says so as checkMetadata words it.
		r.Metadata = make(map[string]string, len(md))
		for _, f := range md {
			r.Metadata[f.Name] = f.Value
		}
		return r.appendValidBody(dst, v, now, dq)
	}
	var small [MaxMetadataKeys]keyValue
	pairs := small[:len(md)]
	for i, f := range md {
		pairs[i] = keyValue{f.Name, f.Value}
	}
	if p := validate(r, v, now, pairs); p != nil {
		return dst, p
	}
	return r.appendBody(dst, v, pairs, dq), nil
}

func (r Request) appendValidBody(dst []byte, v Version, now time.Time, dq bool) ([]byte, *Problem) {
	var small [MaxMetadataKeys]keyValue
	var pairs []keyValue
	if len(r.Metadata) <= MaxMetadataKeys {
		pairs = sortedMetadata(r.Metadata, &small)
	}
	if p := validate(r, v, now, pairs); p != nil {
		return dst, p
	}
	return r.appendBody(dst, v, pairs, dq), nil
}

// appendBody is AppendBody, its quotes doubled if dq; pairs, when not nil,
// are r.Metadata's keys and values already sorted.
func (r Request) appendBody(dst []byte, v Version, pairs []keyValue, dq bool) []byte {
	var small [MaxMetadataKeys]keyValue
	if pairs == nil && len(r.Metadata) > 0 {
		pairs = sortedMetadata(r.Metadata, &small)
	}
	dst = append(dst, '{')
	n := len(dst) // a field not first is preceded by a comma
	switch {
	case v.hasRelationship():
		dst = appendField(dst, n, "external_id", r.ExternalID, dq)
		dst = appendField(dst, n, "name", r.Name, dq)
		dst = appendField(dst, n, "relationship", r.relationshipFor(), dq)
		dst = appendMetadata(dst, n, pairs, dq)
	case v.hasExternalID():
		dst = appendField(dst, n, "external_id", r.ExternalID, dq)
		dst = appendField(dst, n, "name", r.Name, dq)
		dst = appendField(dst, n, "access_type", r.accessTypeFor(), dq)
		dst = appendMetadata(dst, n, pairs, dq)
		dst = appendTimestamp(dst, n, "external_user_onboarded_at", r.OnboardedAt, dq)
	default:
		dst = appendField(dst, n, "name", r.Name, dq)
		dst = appendField(dst, n, "access_type", r.accessTypeFor(), dq)
		dst = appendMetadata(dst, n, pairs, dq)
		if r.ExternalID != nil || r.Country != nil || r.EmailHash != nil || r.NameHash != nil ||
			r.OnboardedAt != nil || r.AccountStatus != nil || r.EntityType != nil {
			dst = appendKey(dst, n, "external_user_details", dq)
			dst = append(dst, '{')
			m := len(dst)
			dst = appendField(dst, m, "reference_id", r.ExternalID, dq)
			dst = appendField(dst, m, "country", r.Country, dq)
			dst = appendField(dst, m, "email_hash", r.EmailHash, dq)
			dst = appendField(dst, m, "name_hash", r.NameHash, dq)
			dst = appendTimestamp(dst, m, "onboarded_at", r.OnboardedAt, dq)
			dst = appendField(dst, m, "account_status", r.AccountStatus, dq)
			dst = appendField(dst, m, "entity_type", r.EntityType, dq)
			dst = append(dst, '}')
		}
	}
	return append(dst, '}')
}

// appendQuote appends a quote, doubled if dq.
func appendQuote(dst []byte, dq bool) []byte {
	if dq {
		return append(dst, '"', '"')
	}
	return append(dst, '"')
}

// appendKey appends `,"key":` (no comma when it is the object's first
// field, which starts at n); key needs no escaping.
func appendKey(dst []byte, n int, key string, dq bool) []byte {
	if len(dst) > n {
		dst = append(dst, ',')
	}
	dst = appendQuote(dst, dq)
	dst = append(dst, key...)
	dst = appendQuote(dst, dq)
	return append(dst, ':')
}

// appendField appends `,"key":"value"` (no comma when it is the object's
// first field, which starts at n), or nothing when s is absent.
func appendField(dst []byte, n int, key string, s *string, dq bool) []byte {
	if s == nil {
		return dst
	}
	dst = appendKey(dst, n, key, dq)
	return appendJSONString(dst, *s, dq)
}

// appendTimestamp is appendField for onboarded_at, which Body sends in UTC
// (utcTimestamp), formatted here without a string of its own.
func appendTimestamp(dst []byte, n int, key string, s *string, dq bool) []byte {
	if s == nil {
		return dst
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		return appendField(dst, n, key, s, dq)
	}
	var buf [40]byte // the longest RFC 3339 time, 35 bytes
	dst = appendKey(dst, n, key, dq)
	return appendJSONString(dst, string(t.UTC().AppendFormat(buf[:0], time.RFC3339Nano)), dq)
}

// appendMetadata appends the metadata object, its keys and values sorted
// by key as encoding/json sorts a map's; no keys are omitted, as omitempty
// omits an empty map.
func appendMetadata(dst []byte, n int, pairs []keyValue, dq bool) []byte {
	if len(pairs) == 0 {
		return dst
	}
	dst = appendKey(dst, n, "metadata", dq)
	dst = append(dst, '{')
	for i, p := range pairs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, p.k, dq)
		dst = append(dst, ':')
		dst = appendJSONString(dst, p.v, dq)
	}
	return append(dst, '}')
}

// jsonSafe holds the ASCII bytes encoding/json writes as they are (with
// HTML escaping on, as json.Marshal has it): all but the control
// characters, '"', '\\', '<', '>' and '&'. Bytes of multi-byte runes are
// not in it: they are decoded.
var jsonSafe = func() (t [256]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		switch b {
		case '"', '\\', '<', '>', '&':
		default:
			t[b] = true
		}
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// Bytes repeated over a word, for appendJSONString.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// plainString reports whether every byte of s is one encoding/json writes
// as it is, as most are: eight bytes at a time, the last eight overlapping
// the word before them; four to seven bytes as one word of two
// overlapping halves.
func plainString(s string) bool {
	if n := len(s); n < 8 {
		if n >= 4 {
			return plainWord(uint64(load32(s)) | uint64(load32(s[n-4:]))<<32)
		}
		for i := 0; i < n; i++ {
			if !jsonSafe[s[i]] {
				return false
			}
		}
		return true
	}
	for i := 0; i+8 < len(s); i += 8 {
		if !plainWord(load64(s[i:])) {
			return false
		}
	}
	return plainWord(load64(s[len(s)-8:]))
}

// plainWord reports whether the bytes of w are all ones that encoding/json
// writes as they are: none below 0x20, none of the five escaped
// characters, none with its high bit set.
func plainWord(w uint64) bool {
	bad := (w - 0x20*ones) | hasZero(w^('"'*ones)) | hasZero(w^('\\'*ones)) |
		hasZero(w^('<'*ones)) | hasZero(w^('>'*ones)) | hasZero(w^('&'*ones))
	return (bad|w)&highs == 0
}

// load64 returns the first eight bytes of s as a little-endian word: one
// load, as the compiler combines the bytes' once the bound is checked.
func load64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// load32 returns the first four bytes of s as a little-endian word.
func load32(s string) uint32 {
	_ = s[3]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

// hasZero has the high bit of some byte set when a byte of w is zero (and
// may set others above it; only whether any is set counts).
func hasZero(w uint64) uint64 { return (w - ones) &^ w & highs }

// appendJSONString appends s as a JSON string, quoted and escaped exactly as
// json.Marshal escapes a string, every quote doubled if dq.
func appendJSONString(dst []byte, s string, dq bool) []byte {
	dst = appendQuote(dst, dq)
	if plainString(s) {
		dst = append(dst, s...)
		return appendQuote(dst, dq)
	}
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if jsonSafe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"':
				dst = appendQuote(append(dst, '\\'), dq)
			case '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case c == '\u2028' || c == '\u2029':
			// Valid JSON, but not valid JavaScript; encoding/json escapes them.
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return appendQuote(dst, dq)
}
