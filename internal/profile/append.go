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
	return r.appendBody(dst, v, nil)
}

// AppendValidBody checks r as ValidateAt does and, when it is valid,
// appends its body as AppendBody does; when it is not, it returns dst as it
// was and the problem. The metadata is gathered and sorted once for both.
func (r Request) AppendValidBody(dst []byte, v Version, now time.Time) ([]byte, *Problem) {
	var small [MaxMetadataKeys]keyValue
	var pairs []keyValue
	if len(r.Metadata) <= MaxMetadataKeys {
		pairs = sortedMetadata(r.Metadata, &small)
	}
	if p := validate(r, v, now, pairs); p != nil {
		return dst, p
	}
	return r.appendBody(dst, v, pairs), nil
}

// appendBody is AppendBody; pairs, when not nil, are r.Metadata's keys and
// values already sorted.
func (r Request) appendBody(dst []byte, v Version, pairs []keyValue) []byte {
	var small [MaxMetadataKeys]keyValue
	if pairs == nil && len(r.Metadata) > 0 {
		pairs = sortedMetadata(r.Metadata, &small)
	}
	dst = append(dst, '{')
	n := len(dst) // a field not first is preceded by a comma
	switch {
	case v.hasRelationship():
		dst = appendField(dst, n, `"external_id":`, r.ExternalID)
		dst = appendField(dst, n, `"name":`, r.Name)
		dst = appendField(dst, n, `"relationship":`, r.relationshipFor())
		dst = appendMetadata(dst, n, pairs)
	case v.hasExternalID():
		dst = appendField(dst, n, `"external_id":`, r.ExternalID)
		dst = appendField(dst, n, `"name":`, r.Name)
		dst = appendField(dst, n, `"access_type":`, r.accessTypeFor())
		dst = appendMetadata(dst, n, pairs)
		dst = appendTimestamp(dst, n, `"external_user_onboarded_at":`, r.OnboardedAt)
	default:
		dst = appendField(dst, n, `"name":`, r.Name)
		dst = appendField(dst, n, `"access_type":`, r.accessTypeFor())
		dst = appendMetadata(dst, n, pairs)
		if r.ExternalID != nil || r.Country != nil || r.EmailHash != nil || r.NameHash != nil ||
			r.OnboardedAt != nil || r.AccountStatus != nil || r.EntityType != nil {
			if len(dst) > n {
				dst = append(dst, ',')
			}
			dst = append(dst, `"external_user_details":{`...)
			m := len(dst)
			dst = appendField(dst, m, `"reference_id":`, r.ExternalID)
			dst = appendField(dst, m, `"country":`, r.Country)
			dst = appendField(dst, m, `"email_hash":`, r.EmailHash)
			dst = appendField(dst, m, `"name_hash":`, r.NameHash)
			dst = appendTimestamp(dst, m, `"onboarded_at":`, r.OnboardedAt)
			dst = appendField(dst, m, `"account_status":`, r.AccountStatus)
			dst = appendField(dst, m, `"entity_type":`, r.EntityType)
			dst = append(dst, '}')
		}
	}
	return append(dst, '}')
}

// appendField appends `,"key":"value"` (no comma when it is the object's
// first field, which starts at n), or nothing when s is absent.
func appendField(dst []byte, n int, key string, s *string) []byte {
	if s == nil {
		return dst
	}
	if len(dst) > n {
		dst = append(dst, ',')
	}
	dst = append(dst, key...)
	return appendJSONString(dst, *s)
}

// appendTimestamp is appendField for onboarded_at, which Body sends in UTC
// (utcTimestamp), formatted here without a string of its own.
func appendTimestamp(dst []byte, n int, key string, s *string) []byte {
	if s == nil {
		return dst
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		return appendField(dst, n, key, s)
	}
	var buf [40]byte // the longest RFC 3339 time, 35 bytes
	if len(dst) > n {
		dst = append(dst, ',')
	}
	dst = append(dst, key...)
	return appendJSONString(dst, string(t.UTC().AppendFormat(buf[:0], time.RFC3339Nano)))
}

// appendMetadata appends the metadata object, its keys and values sorted
// by key as encoding/json sorts a map's; no keys are omitted, as omitempty
// omits an empty map.
func appendMetadata(dst []byte, n int, pairs []keyValue) []byte {
	if len(pairs) == 0 {
		return dst
	}
	if len(dst) > n {
		dst = append(dst, ',')
	}
	dst = append(dst, `"metadata":{`...)
	for i, p := range pairs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, p.k)
		dst = append(dst, ':')
		dst = appendJSONString(dst, p.v)
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
// the word before them.
func plainString(s string) bool {
	if len(s) < 8 {
		for i := 0; i < len(s); i++ {
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

// hasZero has the high bit of some byte set when a byte of w is zero (and
// may set others above it; only whether any is set counts).
func hasZero(w uint64) uint64 { return (w - ones) &^ w & highs }

// appendJSONString appends s as a JSON string, quoted and escaped exactly as
// json.Marshal escapes a string.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	if plainString(s) {
		dst = append(dst, s...)
		return append(dst, '"')
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
			case '\\', '"':
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
	return append(dst, '"')
}
