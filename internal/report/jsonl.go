package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"sync"
)

// jsonlWriter writes the report as one JSON object per line.
type jsonlWriter struct {
	mu      sync.Mutex
	w       *bufio.Writer
	line    []byte
	scratch bytes.Buffer
	enc     *json.Encoder
}

// NewJSONL returns a Writer that writes a JSONL report to w: one object per
// row with the report's keys, then "input", an object of the row's Fields in
// input order. Values are not passed through Neutralise: JSONL is read by
// programs, which must see the data exactly as it was, and no spreadsheet
// opens it directly.
func NewJSONL(w io.Writer) Writer {
	jw := &jsonlWriter{w: bufio.NewWriter(w)}
	jw.enc = json.NewEncoder(&jw.scratch)
	// The report is not HTML; keep <, > and & readable.
	jw.enc.SetEscapeHTML(false)
	return jw
}

// Write implements Writer.
func (jw *jsonlWriter) Write(r Row) error {
	jw.mu.Lock()
	defer jw.mu.Unlock()
	b := jw.line[:0]
	b = append(b, `{"line":`...)
	if r.Line > 0 {
		b = strconv.AppendInt(b, int64(r.Line), 10)
	} else {
		b = append(b, "null"...)
	}
	b = jw.appendKey(b, "status", string(r.Status))
	b = jw.appendKey(b, "user_profile_id", r.UserProfileID)
	b = jw.appendKey(b, "error_type", r.ErrorType)
	b = jw.appendKey(b, "error_message", r.ErrorMessage)
	b = append(b, `,"attempts":`...)
	b = strconv.AppendInt(b, int64(r.Attempts), 10)
	b = jw.appendKey(b, "request_id", r.RequestID)
	// The input is written by hand, not from a map, so that its keys keep
	// the order they had in the input.
	b = append(b, `,"input":{`...)
	for i, f := range r.Fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = jw.appendString(b, f.Name)
		b = append(b, ':')
		b = jw.appendString(b, f.Value)
	}
	b = append(b, "}}\n"...)
	jw.line = b
	_, err := jw.w.Write(b)
	return err
}

// appendKey appends `,"key":"value"` with value JSON-escaped.
func (jw *jsonlWriter) appendKey(b []byte, key, value string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return jw.appendString(b, value)
}

// appendString appends s as a JSON string. encoding/json does the escaping
// (quotes, control characters, invalid UTF-8, U+2028/U+2029) so that no
// input value can break a line apart.
func (jw *jsonlWriter) appendString(b []byte, s string) []byte {
	jw.scratch.Reset()
	_ = jw.enc.Encode(s) // encoding a string cannot fail
	return append(b, bytes.TrimSuffix(jw.scratch.Bytes(), []byte("\n"))...)
}

// Close implements Writer.
func (jw *jsonlWriter) Close() error {
	jw.mu.Lock()
	defer jw.mu.Unlock()
	return jw.w.Flush()
}
