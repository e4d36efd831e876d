package state

import (
	"encoding/binary"
	"encoding/json"
	"errors"

	"github.com/provision/provision/internal/profile"
)

// fieldsVersion starts a row's input fields as stored: a byte that JSON
// never starts with, then for each field its name and value, each as a
// uvarint length and the bytes. Every row is written once and read once per
// report, so this is on the hot path, where encoding/json's reflection cost
// more than the statement that stores it. State files written before it
// hold JSON arrays, which decodeFields still reads.
const fieldsVersion = 1

func encodeFields(buf []byte, fields []profile.Field) []byte {
	buf = append(buf[:0], fieldsVersion)
	for _, f := range fields {
		buf = binary.AppendUvarint(buf, uint64(len(f.Name)))
		buf = append(buf, f.Name...)
		buf = binary.AppendUvarint(buf, uint64(len(f.Value)))
		buf = append(buf, f.Value...)
	}
	return buf
}

var errFields = errors.New("corrupt input fields")

// fieldDecoder decodes stored fields, sharing one string per field name
// across rows (a file has few columns and many rows).
type fieldDecoder struct {
	names map[string]string
}

func (d *fieldDecoder) decode(b []byte) ([]profile.Field, error) {
	if len(b) == 0 || b[0] != fieldsVersion {
		var out []profile.Field
		err := json.Unmarshal(b, &out)
		return out, err
	}
	b = b[1:]
	var out []profile.Field
	for len(b) > 0 {
		name, rest, ok := chunk(b)
		if !ok {
			return nil, errFields
		}
		value, rest, ok := chunk(rest)
		if !ok {
			return nil, errFields
		}
		b = rest
		n, ok := d.names[string(name)]
		if !ok {
			if d.names == nil {
				d.names = map[string]string{}
			}
			n = string(name)
			if len(d.names) < 1024 {
				d.names[n] = n
			}
		}
		out = append(out, profile.Field{Name: n, Value: string(value)})
	}
	return out, nil
}

// chunk splits a uvarint-length-prefixed byte string off the front of b.
func chunk(b []byte) (s, rest []byte, ok bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, false
	}
	return b[k : k+int(n)], b[k+int(n):], true
}
