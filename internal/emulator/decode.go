package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/provision/provision/internal/profile"
)

// decodeCreate parses a create body strictly: one JSON object with no keys
// but external_id, name, relationship and metadata, each of the right JSON
// type. It checks the shape only; profile.Validate checks the values.
func decodeCreate(body []byte) (profile.Request, error) {
	var req profile.Request
	// encoding/json would silently turn invalid UTF-8 into U+FFFD and store
	// something the client never sent, so check the raw bytes first.
	if !utf8.Valid(body) {
		return req, errors.New("request body is not valid UTF-8")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return req, errors.New("request body is empty; send a JSON object")
	}
	err := eachMember(body, "request body", func(key string, raw json.RawMessage) error {
		var err error
		switch key {
		case "external_id":
			req.ExternalID, err = optString(key, raw)
		case "name":
			req.Name, err = optString(key, raw)
		case "relationship":
			req.Relationship, err = optString(key, raw)
		case "metadata":
			req.Metadata, err = stringMap(raw)
		default:
			err = fmt.Errorf("%q: unknown field; a create takes only external_id, name, relationship and metadata", key)
		}
		return err
	})
	if err != nil {
		return profile.Request{}, err
	}
	// Lone surrogate escapes ("\ud800") are valid JSON that decodes to U+FFFD
	// in Go; they stand for no character, so treat them as invalid UTF-8.
	if hasLoneSurrogate(body) {
		return profile.Request{}, errors.New("request body is not valid UTF-8: it has an unpaired \\u surrogate escape")
	}
	return req, nil
}

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

// optString decodes a string field where null means absent.
func optString(key string, raw json.RawMessage) (*string, error) {
	switch raw[0] {
	case 'n':
		return nil, nil
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%s: %v", key, err)
		}
		return &s, nil
	}
	return nil, fmt.Errorf("%s: must be a string or null, not %s", key, jsonKind(raw))
}

// stringMap decodes metadata, which must be an object of strings; null is not
// accepted for metadata (send {} or leave it out).
func stringMap(raw json.RawMessage) (map[string]string, error) {
	if raw[0] != '{' {
		return nil, fmt.Errorf("metadata: must be an object of string values, not %s", jsonKind(raw))
	}
	m := make(map[string]string)
	err := eachMember(raw, "metadata", func(key string, v json.RawMessage) error {
		if v[0] != '"' {
			return fmt.Errorf("metadata.%s: value must be a string, not %s", key, jsonKind(v))
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return fmt.Errorf("metadata.%s: %v", key, err)
		}
		m[key] = s
		return nil
	})
	return m, err
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
