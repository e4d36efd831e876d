package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// eachMember calls fn for each member of the JSON object in data, in order.
// It rejects anything but exactly one object, and duplicate keys: encoding/json
// would keep the last silently, and a duplicate is always a client bug.
func eachMember(data []byte, what string, fn func(key string, raw json.RawMessage) error) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%s is not valid JSON: %v", what, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("%s must be a JSON object, not %s", what, jsonKind(data))
	}
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("%s is not valid JSON: %v", what, err)
		}
		key := tok.(string) // inside an object the decoder yields only string keys
		if seen[key] {
			return fmt.Errorf("%s has the key %q twice", what, key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("%s is not valid JSON: %v", what, err)
		}
		if err := fn(key, raw); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("%s is not valid JSON: %v", what, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%s has data after the JSON object", what)
	}
	return nil
}

// jsonKind names the JSON type of a value for error messages.
func jsonKind(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "empty"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// hasLoneSurrogate reports whether a string in the JSON text data holds a
// \u escape of a UTF-16 surrogate that is not part of a high-low pair. It
// assumes data is valid JSON.
func hasLoneSurrogate(data []byte) bool {
	inString := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if !inString {
			inString = c == '"'
			continue
		}
		switch c {
		case '"':
			inString = false
		case '\\':
			if i+1 < len(data) && data[i+1] != 'u' {
				i++ // a one-character escape such as \" or \\
				continue
			}
			r, ok := hex4(data, i+2)
			if !ok {
				continue
			}
			switch {
			case 0xD800 <= r && r < 0xDC00:
				if i+11 < len(data) && data[i+6] == '\\' && data[i+7] == 'u' {
					if lo, ok := hex4(data, i+8); ok && 0xDC00 <= lo && lo < 0xE000 {
						i += 11
						continue
					}
				}
				return true
			case 0xDC00 <= r && r < 0xE000:
				return true
			}
			i += 5
		}
	}
	return false
}

// hex4 parses the four hex digits at data[at:at+4].
func hex4(data []byte, at int) (rune, bool) {
	if at+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[at : at+4] {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}
