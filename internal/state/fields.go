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

// valuesVersion starts the fields of a row whose names are exactly the
// run's columns (every row of a CSV file but a short one): only the values
// are stored, each as a uvarint length and the bytes, no more than the
// input's own delimiters.
const valuesVersion = 2

func encodeFields(buf []byte, fields []profile.Field, columns []string) []byte {
	if sameNames(fields, columns) {
		buf = append(buf[:0], valuesVersion)
		for _, f := range fields {
			buf = binary.AppendUvarint(buf, uint64(len(f.Value)))
			buf = append(buf, f.Value...)
		}
		return buf
	}
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

func sameNames(fields []profile.Field, columns []string) bool {
	if len(fields) != len(columns) || len(columns) == 0 {
		return false
	}
	for i, f := range fields {
		if f.Name != columns[i] {
			return false
		}
	}
	return true
}

// fieldDecoder decodes stored fields, sharing one string per field name
// across rows (a file has few columns and many rows).
type fieldDecoder struct {
	names   map[string]string
	columns []string // the run's: the names of values-only rows
}

func (d *fieldDecoder) decode(b []byte) ([]profile.Field, error) {
	if len(b) > 0 && b[0] == valuesVersion {
		b = b[1:]
		out := make([]profile.Field, 0, len(d.columns))
		for len(b) > 0 {
			value, rest, ok := chunk(b)
			if !ok || len(out) == len(d.columns) {
				return nil, errFields
			}
			out = append(out, profile.Field{Name: d.columns[len(out)], Value: string(value)})
			b = rest
		}
		if len(out) != len(d.columns) {
			return nil, errFields
		}
		return out, nil
	}
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
