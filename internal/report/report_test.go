package report

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/provision/provision/internal/profile"
)

func fields(kv ...string) []profile.Field {
	var fs []profile.Field
	for i := 0; i+1 < len(kv); i += 2 {
		fs = append(fs, profile.Field{Name: kv[i], Value: kv[i+1]})
	}
	return fs
}

func TestNeutralise(t *testing.T) {
	tests := []struct{ in, want string }{
		{"=1+2", "'=1+2"},
		{"+1", "'+1"},
		{"-1", "'-1"},
		// Negative numbers are quoted too: the accepted trade-off.
		{"-5", "'-5"},
		{"@SUM(A1:A9)", "'@SUM(A1:A9)"},
		{"\tx", "'\tx"},
		{"\rx", "'\rx"},
		{"", ""},
		{"plain", "plain"},
		{"1+2", "1+2"},
		{"a=b", "a=b"},
		{" =1", " =1"},
		{"'=1", "'=1"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := Neutralise(tt.in); got != tt.want {
				t.Errorf("Neutralise(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestFormatFromPath(t *testing.T) {
	tests := []struct {
		path, want string
		err        bool
	}{
		{"out/report.csv", FormatCSV, false},
		{"REPORT.CSV", FormatCSV, false},
		{"r.jsonl", FormatJSONL, false},
		{"r.ndjson", FormatJSONL, false},
		{"r.json", "", true},
		{"report", "", true},
		{"r.csv.gz", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, err := FormatFromPath(tt.path)
			if (err != nil) != tt.err || got != tt.want {
				t.Errorf("FormatFromPath(%q) = %q, %v; want %q, error %v", tt.path, got, err, tt.want, tt.err)
			}
		})
	}
}

func TestCSVRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := NewCSV(&buf, []string{"external_id", "name", "note"})
	rows := []Row{
		{Line: 2, Status: profile.StatusCreated, UserProfileID: "uprof_1", Attempts: 1, RequestID: "req_1",
			Fields: fields("external_id", "u1", "name", `Ann "the" Smith`, "note", "a,b\nc")},
		{Line: 3, Status: profile.StatusInvalid, ErrorType: "name_too_long", ErrorMessage: "line 3: name: longer than 255 characters, got \"x\"",
			Fields: fields("name", "=HYPERLINK(\"http://x\")")},
		{Line: 4, Status: profile.StatusFailed, ErrorType: "api_error", ErrorMessage: "-boom", Attempts: 3,
			Fields: fields("note", "\r\ncrlf", "external_id", "u4", "unknown", "dropped")},
	}
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("report does not parse as CSV: %v\n%s", err, buf.String())
	}
	want := [][]string{
		{"line", "status", "user_profile_id", "error_type", "error_message", "attempts", "request_id", "external_id", "name", "note"},
		{"2", "created", "uprof_1", "", "", "1", "req_1", "u1", `Ann "the" Smith`, "a,b\nc"},
		{"3", "invalid", "", "name_too_long", "line 3: name: longer than 255 characters, got \"x\"", "0", "", "", "'=HYPERLINK(\"http://x\")", ""},
		// encoding/csv reads \r\n inside a quoted field as \n.
		{"4", "failed", "", "api_error", "'-boom", "3", "", "u4", "", "'\ncrlf"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CSV report:\n got %q\nwant %q", got, want)
	}
}

func TestCSVEmptyHasHeader(t *testing.T) {
	var buf bytes.Buffer
	if err := NewCSV(&buf, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), "line,status,user_profile_id,error_type,error_message,attempts,request_id\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestCSVColumnCollision(t *testing.T) {
	var buf bytes.Buffer
	w := NewCSV(&buf, []string{"status", "name", "input.status", "line", "=cmd", "dup", "dup"})
	err := w.Write(Row{Line: 7, Status: profile.StatusSkipped, UserProfileID: "uprof_7",
		Fields: fields("status", "active", "name", "Bo", "input.status", "x", "line", "99", "=cmd", "v", "dup", "first", "dup", "second")})
	if err != nil {
		t.Fatal(err)
	}
	// The writer reuses its record: a later row's missing cells stay empty.
	if err := w.Write(Row{Line: 8, Status: profile.StatusInvalid, Fields: fields("dup", "only")}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"line", "status", "user_profile_id", "error_type", "error_message", "attempts", "request_id",
			"input.input.status", "name", "input.status", "input.line", "'=cmd", "dup", "dup"},
		{"7", "skipped", "uprof_7", "", "", "0", "", "active", "Bo", "x", "99", "v", "first", "second"},
		{"8", "invalid", "", "", "", "0", "", "", "", "", "", "", "only", ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CSV report:\n got %q\nwant %q", got, want)
	}
}

func TestJSONL(t *testing.T) {
	var buf bytes.Buffer
	w := NewJSONL(&buf)
	rows := []Row{
		{Line: 2, Status: profile.StatusCreated, UserProfileID: "uprof_1", Attempts: 1, RequestID: "req_1",
			Fields: fields("zeta", "z", "alpha", "a\n\"b\"", "mid", "=1+2", "html", "<a&b>", "ctl", "\x00\u2028")},
		{Line: 3, Status: profile.StatusPending, ErrorType: "timeout", ErrorMessage: "no answer within 30s", Attempts: 2},
	}
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != len(rows) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(rows), buf.String())
	}
	wantKeys := []string{"line", "status", "user_profile_id", "error_type", "error_message", "attempts", "request_id", "input"}
	for i, line := range lines {
		var obj struct {
			Line          int               `json:"line"`
			Status        string            `json:"status"`
			UserProfileID string            `json:"user_profile_id"`
			ErrorType     string            `json:"error_type"`
			ErrorMessage  string            `json:"error_message"`
			Attempts      int               `json:"attempts"`
			RequestID     string            `json:"request_id"`
			Input         map[string]string `json:"input"`
		}
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			t.Fatalf("line %d does not parse: %v\n%s", i+1, err, line)
		}
		r := rows[i]
		if obj.Line != r.Line || obj.Status != string(r.Status) || obj.UserProfileID != r.UserProfileID ||
			obj.ErrorType != r.ErrorType || obj.ErrorMessage != r.ErrorMessage || obj.Attempts != r.Attempts || obj.RequestID != r.RequestID {
			t.Errorf("line %d: got %+v, want %+v", i+1, obj, r)
		}
		// Values are data for programs: verbatim, never neutralised.
		for _, f := range r.Fields {
			if obj.Input[f.Name] != f.Value {
				t.Errorf("line %d: input[%q] = %q, want %q", i+1, f.Name, obj.Input[f.Name], f.Value)
			}
		}
		if got := objectKeys(t, []byte(line)); !reflect.DeepEqual(got, wantKeys) {
			t.Errorf("line %d: keys %q, want %q", i+1, got, wantKeys)
		}
		var top map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &top); err != nil {
			t.Fatal(err)
		}
		var wantInput []string
		for _, f := range r.Fields {
			wantInput = append(wantInput, f.Name)
		}
		if got := objectKeys(t, top["input"]); !reflect.DeepEqual(got, wantInput) {
			t.Errorf("line %d: input keys %q, want %q (input order)", i+1, got, wantInput)
		}
	}
	if !strings.Contains(lines[0], `"<a&b>"`) {
		t.Errorf("HTML characters escaped needlessly: %s", lines[0])
	}
}

// objectKeys returns the keys of the JSON object in data, in document order.
func objectKeys(t *testing.T, data []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", data)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestWritersConcurrent(t *testing.T) {
	for _, format := range []string{FormatCSV, FormatJSONL} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			w, err := New(&buf, format, []string{"name"})
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for i := range 50 {
				wg.Go(func() {
					if err := w.Write(Row{Line: i + 2, Status: profile.StatusValid, Fields: fields("name", "n")}); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			n := 0
			sc := bufio.NewScanner(&buf)
			for sc.Scan() {
				n++
			}
			if format == FormatCSV {
				n-- // header
			}
			if n != 50 {
				t.Errorf("got %d rows, want 50", n)
			}
		})
	}
	if _, err := New(io.Discard, "xml", nil); err == nil {
		t.Error("New accepted an unknown format")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriterErrorsSurface(t *testing.T) {
	for _, format := range []string{FormatCSV, FormatJSONL} {
		t.Run(format, func(t *testing.T) {
			w, _ := New(failWriter{}, format, nil)
			_ = w.Write(Row{Line: 2, Status: profile.StatusCreated})
			if err := w.Close(); err == nil {
				t.Error("Close returned nil after the underlying writer failed")
			}
		})
	}
}
