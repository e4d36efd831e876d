package reader

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/provision/provision/internal/profile"
)

func mustMapping(t *testing.T, specs ...string) Mapping {
	t.Helper()
	m, err := ParseMapping(specs)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCSV(t *testing.T) {
	tests := []struct {
		name     string
		file     string // under testdata
		input    string // used when file is empty
		opts     Options
		want     string   // dump of the records
		fields   []string // fieldsText of each record, when given
		columns  []string
		unused   []string
		delim    rune
		usageErr string // when set, Open must fail with this message
	}{
		{
			name: "canonical columns, empty cells absent",
			file: "basic.csv",
			want: `2 ext="u-1" name="Ada Lovelace" rel="external"
3 ext="u-2" name="Grace Hopper" rel=-
4 ext=- name=- rel=-
`,
			fields: []string{
				`external_id="u-1" name="Ada Lovelace" relationship="external" email="ada@example.com"`,
				`external_id="u-2" name="Grace Hopper" relationship="" email="grace@example.com"`,
				`external_id="" name="" relationship="" email="nobody@example.com"`,
			},
			columns: []string{"external_id", "name", "relationship", "email"},
			unused:  []string{"email"},
			delim:   ',',
		},
		{
			name: "BOM stripped and CRLF",
			file: "bom_crlf.csv",
			want: `2 ext="u-1" name="Ada" rel=-
3 ext="u-2" name="Grace" rel=-
`,
			fields:  []string{`external_id="u-1" name="Ada"`, `external_id="u-2" name="Grace"`},
			columns: []string{"external_id", "name"},
		},
		{
			name: "quoted comma, quote and newline; the next record's line is right",
			file: "quoted.csv",
			want: `2 ext="u-1" name="Lovelace, Ada" rel=-
3 ext="u-2" name="Grace\nHopper" rel=-
6 ext="u-3" name="Alan" rel=-
`,
			fields: []string{
				`external_id="u-1" name="Lovelace, Ada" note="said \"hi\""`,
				`external_id="u-2" name="Grace\nHopper" note="two\nlines"`,
				`external_id="u-3" name="Alan" note="plain"`,
			},
			unused: []string{"note"},
		},
		{
			name: "three-line record followed by a blank line",
			file: "multiline_lines.csv",
			want: `2 ext="u-1" name="Ada" rel=-
6 ext="u-2" name="Grace" rel=-
`,
			fields: []string{
				`external_id="u-1" name="Ada" note="line one\nline two\nline three"`,
				`external_id="u-2" name="Grace" note="x"`,
			},
		},
		{
			name: "semicolons detected",
			file: "semicolon.csv",
			want: `2 ext="u-1" name="Ada" rel=-
3 ext="u-2" name="Grace" rel=-
`,
			fields: []string{`external_id="u-1" name="Ada" note="a;b"`, `external_id="u-2" name="Grace" note="x,y"`},
			delim:  ';',
		},
		{
			name:   "tabs detected",
			file:   "tab.tsv",
			want:   "2 ext=\"u-1\" name=\"Ada\" rel=-\n3 ext=\"u-2\" name=\"Grace\" rel=-\n",
			fields: []string{`external_id="u-1" name="Ada" note="a,b"`, `external_id="u-2" name="Grace" note="c;d"`},
			delim:  '\t',
		},
		{
			name:  "a semicolon inside quotes does not count",
			input: "\"a;b;c\",name\nx,Ada\n",
			want:  "2 ext=- name=\"Ada\" rel=-\n",
			delim: ',',
		},
		{
			name:  "the delimiter can be given",
			input: "external_id|name\nu-1|Ada\n",
			opts:  Options{Delimiter: '|'},
			want:  "2 ext=\"u-1\" name=\"Ada\" rel=-\n",
			delim: '|',
		},
		{
			name: "windows-1252 decoded",
			file: "windows1252.csv",
			opts: Options{Encoding: "windows-1252"},
			want: "2 ext=\"u-1\" name=\"Renée €\" rel=-\n3 ext=\"u-2\" name=\"Zoë\" rel=-\n",
		},
		{
			name: "latin1 decoded",
			file: "windows1252.csv",
			opts: Options{Encoding: "latin1"},
			want: "2 ext=\"u-1\" name=\"Renée \\u0080\" rel=-\n3 ext=\"u-2\" name=\"Zoë\" rel=-\n",
		},
		{
			name:     "windows-1252 refused without --encoding",
			file:     "windows1252.csv",
			usageErr: "line 2: not valid UTF-8 (byte 0xE9 at column 8); looks like Windows-1252/Latin-1; re-run with --encoding windows-1252 or convert to UTF-8",
		},
		{
			name: "UTF-16LE with BOM and CRLF decoded",
			file: "utf16le.csv",
			opts: Options{Encoding: "utf-16"},
			want: "2 ext=\"u-1\" name=\"Zoë 日本\" rel=-\n3 ext=\"u-2\" name=\"Ada\" rel=-\n",
		},
		{
			name: "UTF-16BE with BOM decoded",
			file: "utf16be.csv",
			opts: Options{Encoding: "UTF-16"},
			want: "2 ext=\"u-1\" name=\"Zoë\" rel=-\n",
		},
		{
			name:  "UTF-16 without BOM is little-endian",
			input: "e\x00x\x00t\x00e\x00r\x00n\x00a\x00l\x00_\x00i\x00d\x00\n\x00u\x00-\x001\x00\n\x00",
			opts:  Options{Encoding: "utf-16"},
			want:  "2 ext=\"u-1\" name=- rel=-\n",
		},
		{
			name: "UTF-16 read by its byte-order mark without --encoding",
			file: "utf16le.csv",
			want: "2 ext=\"u-1\" name=\"Zoë 日本\" rel=-\n3 ext=\"u-2\" name=\"Ada\" rel=-\n",
		},
		{
			name:     "UTF-16 refused with --encoding utf-8",
			file:     "utf16be.csv",
			opts:     Options{Encoding: "utf-8"},
			usageErr: "the file is UTF-16 (it starts with a UTF-16 byte-order mark); re-run with --encoding utf-16",
		},
		{
			name:     "UTF-8 BOM refused with a single-byte encoding",
			file:     "bom_crlf.csv",
			opts:     Options{Encoding: "windows-1252"},
			usageErr: "the file is UTF-8 (it starts with a UTF-8 byte-order mark), not windows-1252; re-run without --encoding",
		},
		{
			name: "wrong field counts",
			file: "field_count.csv",
			want: `2 ext="u-1" name="Ada" rel="external"
3 !field_count 2 fields, the header has 4
4 !field_count 5 fields, the header has 4
5 ext="u-4" name="Edsger" rel="internal"
`,
			fields: []string{
				`external_id="u-1" name="Ada" relationship="external" email="a@x"`,
				`external_id="u-2" name="Grace" relationship="" email=""`,
				`external_id="u-3" name="Alan" relationship="external" email="al@x"`,
				`external_id="u-4" name="Edsger" relationship="internal" email="e@x"`,
			},
		},
		{
			name: "bare quote and stray quote are row problems",
			file: "bare_quote.csv",
			want: `2 !csv_syntax bare " in a field that does not start with a quote (column 6); quote the whole field and double the quotes inside it
3 !csv_syntax unexpected " in a quoted field (column 8); a quote inside a quoted field must be doubled ("")
4 ext="u-3" name="Alan" rel=-
`,
		},
		{
			name:  "quote error on a later line of the record",
			input: "a,name\n1,\"x\ny\"z\n2,Ada\n",
			want: `2 !csv_syntax unexpected " in a quoted field (line 3, column 2); a quote inside a quoted field must be doubled ("")
4 ext=- name="Ada" rel=-
`,
		},
		{
			name: "unclosed quote runs to the end",
			file: "unclosed.csv",
			want: `2 ext="u-1" name="Ada" rel=-
3 !csv_syntax a quoted field is never closed, so the rest of the input was read into it; close the quote or double the quotes inside the field
`,
		},
		{
			name:     "duplicate header names",
			file:     "dup_header.csv",
			usageErr: `line 1: the header has two columns named "email" (columns 3 and 4); rename one of them`,
		},
		{
			name:     "empty header name",
			file:     "empty_header.csv",
			usageErr: "line 1: the header has an empty column name (column 2 of 3); give every column a name",
		},
		{
			name:     "empty header names, trimmed",
			input:    "a, ,b,\n",
			usageErr: "line 1: the header has an empty column name (column 2, 4 of 4); give every column a name",
		},
		{
			name:     "duplicate after trimming",
			input:    "name, name\n",
			usageErr: `line 1: the header has two columns named "name" (columns 1 and 2); rename one of them`,
		},
		{
			name:     "header with a quote error",
			input:    "a,b\"c\n1,2\n",
			usageErr: `line 1: the header is not valid CSV: bare " in a field that does not start with a quote (column 4); quote the whole field and double the quotes inside it`,
		},
		{
			name:     "header longer than the limit",
			input:    "aaaaaaaaaa,bbbbbbbbbb\n1,2\n",
			opts:     Options{MaxRecordBytes: 8},
			usageErr: "line 1: the header is longer than 8 bytes; is this a CSV file?",
		},
		{name: "empty file", file: "empty.csv", want: ""},
		{name: "header only", file: "header_only.csv", want: "", columns: []string{"external_id", "name"}},
		{name: "only blank lines", input: "\n\r\n\n", want: ""},
		{
			name: "blank lines skipped",
			file: "blank_lines.csv",
			want: "4 ext=\"u-1\" name=\"Ada\" rel=-\n7 ext=\"u-2\" name=\"Grace\" rel=-\n",
		},
		{
			name:  "last record without a line break",
			input: "name\nAda\nGrace",
			want:  "2 ext=- name=\"Ada\" rel=-\n3 ext=- name=\"Grace\" rel=-\n",
		},
		{
			name:  "last quoted record without a line break, CR before EOF",
			input: "name\n\"Ada\"\r",
			want:  "2 ext=- name=\"Ada\" rel=-\n",
		},
		{
			name:  "bare CR inside a field is data",
			input: "name,x\nA\rda,1\n",
			want:  "2 ext=- name=\"A\\rda\" rel=-\n",
		},
		{
			name: "mapping with a metadata JSON column and metadata.KEY",
			file: "mapping.csv",
			opts: Options{Mapping: Mapping{}},
			want: `2 ext=- name="ignored" rel=- meta={region:eu}
3 ext=- name="ignored" rel=-
`,
			columns: []string{"user id", "full_name", "tier", "attrs", "name", "metadata.region", "notes"},
			unused:  []string{"user id", "full_name", "tier", "attrs", "notes"},
		},
		{
			name: "metadata JSON column, metadata.KEY columns and conflicts",
			file: "metadata.csv",
			want: `2 ext="u-1" name=- rel=- meta={plan:pro region:eu}
3 ext="u-2" name=- rel=- meta={plan:basic team:core}
4 !metadata_conflict metadata.plan: metadata key "plan" is also set by the column "metadata"; set it in one place
5 !metadata_invalid_json metadata: not valid JSON: unexpected end of JSON input; write a JSON object of strings, e.g. {"plan":"pro"}
6 !metadata_invalid_json metadata: must be a JSON object of strings, found an array
7 !metadata_invalid_json metadata: key "plan" must have a string value, found a number
8 ext="u-7" name=- rel=-
9 ext="u-8" name=- rel=- meta={plan:x}
`,
		},
		{
			name:  "metadata JSON syntax error names the byte",
			input: "metadata\n\"{\"\"a\"\" 1}\"\n",
			want:  "2 !metadata_invalid_json metadata: not valid JSON: invalid character '1' after object key at byte 6; write a JSON object of strings, e.g. {\"plan\":\"pro\"}\n",
		},
		{
			name:  "raw cell values are not trimmed",
			input: "name,relationship\n  Ada , resold\n",
			want:  "2 ext=- name=\"  Ada \" rel=\" resold\"\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			input := []byte(tc.input)
			if tc.file != "" {
				input = testdata(t, tc.file)
			}
			opts := tc.opts
			opts.Format = FormatCSV
			r, recs, err := readAll(t, input, opts)
			if tc.usageErr != "" {
				if got := usageText(err); got != tc.usageErr {
					t.Fatalf("error\n got: %v\nwant: %s", err, tc.usageErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := dump(recs); got != tc.want {
				t.Errorf("records\n got:\n%s\nwant:\n%s", got, tc.want)
			}
			if tc.fields != nil {
				var got []string
				for _, rec := range recs {
					got = append(got, fieldsText(rec.Fields))
				}
				if !slices.Equal(got, tc.fields) {
					t.Errorf("fields\n got: %q\nwant: %q", got, tc.fields)
				}
			}
			if tc.columns != nil && !slices.Equal(r.Columns(), tc.columns) {
				t.Errorf("Columns() = %q, want %q", r.Columns(), tc.columns)
			}
			if tc.unused != nil && !slices.Equal(r.Unused(), tc.unused) {
				t.Errorf("Unused() = %q, want %q", r.Unused(), tc.unused)
			}
			if tc.delim != 0 && r.Delimiter() != tc.delim {
				t.Errorf("Delimiter() = %q, want %q", r.Delimiter(), tc.delim)
			}
			if r.resyncs != 0 {
				t.Errorf("csv lost step with the splitter %d times", r.resyncs)
			}
		})
	}
}

func TestCSVMapping(t *testing.T) {
	tests := []struct {
		name     string
		file     string
		input    string
		maps     []string
		want     string
		unused   []string
		usageErr string
	}{
		{
			name: "mapped fields replace canonical columns",
			file: "mapping.csv",
			maps: []string{"external_id=user id", "name=full_name", "metadata.plan=tier", "metadata=attrs"},
			want: `2 ext="u-1" name="Ada Lovelace" rel=- meta={plan:pro region:eu team:math}
3 ext="u-2" name="Grace Hopper" rel=-
`,
			unused: []string{"name", "notes"},
		},
		{
			name:   "a mapped metadata key replaces its canonical column",
			input:  "metadata.plan,tier\nbasic,pro\n",
			maps:   []string{"metadata.plan=tier"},
			want:   "2 ext=- name=- rel=- meta={plan:pro}\n",
			unused: []string{"metadata.plan"},
		},
		{
			name:   "a canonical column mapped to another field feeds only that field",
			input:  "external_id,name\nu-1,Ada\n",
			maps:   []string{"name=external_id"},
			want:   "2 ext=- name=\"u-1\" rel=-\n",
			unused: []string{"name"},
		},
		{
			name:  "conflict names the mapped column",
			input: "attrs,tier\n\"{\"\"plan\"\":\"\"a\"\"}\",b\n",
			maps:  []string{"metadata=attrs", "metadata.plan=tier"},
			want:  "2 !metadata_conflict tier: metadata key \"plan\" is also set by the column \"attrs\"; set it in one place\n",
		},
		{
			name:  "metadata JSON problems name the mapped column",
			input: "attrs\n\"{\"\"plan\"\":true}\"\n",
			maps:  []string{"metadata=attrs"},
			want:  "2 !metadata_invalid_json attrs: key \"plan\" must have a string value, found a boolean\n",
		},
		{
			name:     "a mapped column missing from the header",
			file:     "basic.csv",
			maps:     []string{"name=full_name"},
			usageErr: `--map name=full_name: the header has no column "full_name"; the columns are: external_id, name, relationship, email`,
		},
		{
			name:   "a mapped column is matched after trimming the header",
			input:  "full_name \nAda\n",
			maps:   []string{" name = full_name"},
			want:   "2 ext=- name=\"Ada\" rel=-\n",
			unused: []string{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			input := []byte(tc.input)
			if tc.file != "" {
				input = testdata(t, tc.file)
			}
			r, recs, err := readAll(t, input, Options{Format: FormatCSV, Mapping: mustMapping(t, tc.maps...)})
			if tc.usageErr != "" {
				if got := usageText(err); got != tc.usageErr {
					t.Fatalf("error\n got: %v\nwant: %s", err, tc.usageErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := dump(recs); got != tc.want {
				t.Errorf("records\n got:\n%s\nwant:\n%s", got, tc.want)
			}
			if tc.unused != nil && !slices.Equal(r.Unused(), tc.unused) {
				t.Errorf("Unused() = %q, want %q", r.Unused(), tc.unused)
			}
		})
	}
}

func TestJSONL(t *testing.T) {
	tests := []struct {
		name   string
		file   string
		input  string
		maps   []string
		enc    string
		want   string
		fields []string
	}{
		{
			name: "canonical keys; unknown keys carried; null absent",
			file: "basic.jsonl",
			want: `1 ext="u-1" name="Ada Lovelace" rel="external" meta={plan:pro}
2 ext="u-2" name=- rel=-
3 ext=- name=- rel=-
4 ext=- name="Zoë 😀 \"q\" \\ / \b\f\n\r\t" rel=- meta={emoji:😀 lone:��}
`,
			fields: []string{
				`external_id="u-1" name="Ada Lovelace" relationship="external" metadata="{\"plan\":\"pro\"}" email="ada@example.com"`,
				`external_id="u-2" name="null" extra="{\"a\":[1,2]}" n="1.50"`,
				``,
				`name="Zoë 😀 \"q\" \\ / \b\f\n\r\t" metadata="{\"emoji\":\"\\uD83D\\uDE00\",\"lone\":\"\\udc00\\ud800\"}" tags="[\"a\",{\"b\":null}]"`,
			},
		},
		{
			name: "BOM, CRLF, blank lines, wrong types, not objects, bad JSON, conflicts, duplicates",
			file: "types.jsonl",
			want: `1 ext="u-1" name="Ada" rel=-
4 !wrong_type name: must be a string, found a number
5 !not_an_object the line is an array, not a JSON object
6 !invalid_json not valid JSON: unexpected end of JSON input
7 !wrong_type metadata: must be a JSON object of strings, found a string
8 !wrong_type metadata.plan: must be a string, found a number
9 !not_an_object the line is a string, not a JSON object
10 !wrong_type relationship: must be a string, found a boolean
11 !metadata_conflict metadata.plan: metadata key "plan" is also set by the key "metadata"; set it in one place
12 ext=- name=- rel=- meta={plan:pro team:ops}
13 ext=- name="last" rel=-
`,
			fields: []string{
				`external_id="u-1" name="Ada"`,
				`name="42"`, ``, ``,
				`metadata="x"`,
				`metadata="{\"plan\":1}"`,
				``,
				`relationship="true"`,
				`metadata="{\"plan\":\"pro\"}" metadata.plan="basic"`,
				`metadata="{\"plan\":\"pro\",\"seats\":null}" metadata.team="core" metadata.team="ops"`,
				`name="Aé😀\n\"q\"" name="last"`,
			},
		},
		{
			name: "mapping applies to top-level keys",
			file: "mapping.jsonl",
			maps: []string{"external_id=id", "name=full_name", "metadata.plan=tier"},
			want: `1 ext="u-1" name="Ada" rel=- meta={plan:pro}
2 !wrong_type tier: must be a string, found a number
`,
		},
		{
			name:  "syntax error position",
			input: "{\"name\" \"Ada\"}\n",
			want:  "1 !invalid_json not valid JSON: invalid character '\"' after object key at byte 9\n",
		},
		{
			name:  "escapes and raw invalid UTF-8 kept for the validator",
			input: "{\"name\":\"a\\\\b\\/c\\t\\ud800x\",\"external_id\":\"\xff\"}\n",
			enc:   "utf-8",
			want:  "1 ext=\"\\xff\" name=\"a\\\\b/c\\t\uFFFDx\" rel=-\n",
		},
		{
			name:  "empty strings are present",
			input: "{\"name\":\"\",\"metadata\":{}}\n",
			want:  "1 ext=- name=\"\" rel=-\n",
		},
		{
			name:  "last line without a line break",
			input: "{\"name\":\"Ada\"}\n\n{\"name\":\"Grace\"}",
			want:  "1 ext=- name=\"Ada\" rel=-\n3 ext=- name=\"Grace\" rel=-\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			input := []byte(tc.input)
			if tc.file != "" {
				input = testdata(t, tc.file)
			}
			r, recs, err := readAll(t, input, Options{Format: FormatJSONL, Encoding: tc.enc, Mapping: mustMapping(t, tc.maps...)})
			if err != nil {
				t.Fatal(err)
			}
			if got := dump(recs); got != tc.want {
				t.Errorf("records\n got:\n%s\nwant:\n%s", got, tc.want)
			}
			if tc.fields != nil {
				var got []string
				for _, rec := range recs {
					got = append(got, fieldsText(rec.Fields))
				}
				if !slices.Equal(got, tc.fields) {
					t.Errorf("fields\n got: %q\nwant: %q", got, tc.fields)
				}
			}
			if r.Columns() != nil || r.Unused() != nil {
				t.Errorf("JSONL has no columns: %q %q", r.Columns(), r.Unused())
			}
		})
	}
}

// rows returns a CSV body of n rows of about 40 bytes, starting at u-first.
func rows(first, n int) string {
	var b strings.Builder
	for i := first; i < first+n; i++ {
		fmt.Fprintf(&b, "u-%d,Person number %d,external\n", i, i)
	}
	return b.String()
}

func TestInvalidUTF8(t *testing.T) {
	header := "external_id,name,relationship\n"
	t.Run("past the sniffed prefix it reaches the request", func(t *testing.T) {
		body := rows(1, 2000) // > 64 KiB
		if len(header)+len(body) <= sniffSize {
			t.Fatal("the test input must be longer than the sniffed prefix")
		}
		input := header + body + "u-x,Ren\xe9e,external\n" + rows(3000, 1)
		_, recs, err := readAll(t, []byte(input), Options{Format: FormatCSV})
		if err != nil {
			t.Fatal(err)
		}
		bad := recs[2000]
		if bad.Line != 2002 || bad.Problem != nil || *bad.Request.Name != "Ren\xe9e" {
			t.Fatalf("record %d: %+v name %q", bad.Line, bad.Problem, *bad.Request.Name)
		}
		if p := profile.Validate(bad.Request); p == nil || p.Rule != profile.RuleInvalidUTF8 || p.At(bad.Line) != "line 2002: name: not valid UTF-8" {
			t.Fatalf("Validate = %v", p)
		}
		if last := recs[len(recs)-1]; last.Line != 2003 || *last.Request.ExternalID != "u-3000" {
			t.Fatalf("last record: %d %v", last.Line, str(last.Request.ExternalID))
		}
	})
	t.Run("in the sniffed prefix it is refused", func(t *testing.T) {
		input := header + "u-1,Ada,external\nu-2,Ren\xe9e,external\n"
		_, _, err := readAll(t, []byte(input), Options{Format: FormatCSV})
		want := "line 3: not valid UTF-8 (byte 0xE9 at column 8); looks like Windows-1252/Latin-1; re-run with --encoding windows-1252 or convert to UTF-8"
		if usageText(err) != want {
			t.Fatalf("error %v, want %s", err, want)
		}
		_, _, err = readAll(t, []byte("{\"name\":\"\xff\"}\n"), Options{Format: FormatJSONL})
		if !strings.HasPrefix(usageText(err), "line 1: not valid UTF-8 (byte 0xFF at column 10)") {
			t.Fatalf("JSONL error %v", err)
		}
	})
	t.Run("--encoding utf-8 reports it row by row", func(t *testing.T) {
		input := header + "u-2,Ren\xe9e,external\n"
		_, recs, err := readAll(t, []byte(input), Options{Format: FormatCSV, Encoding: "utf-8"})
		if err != nil {
			t.Fatal(err)
		}
		if p := profile.Validate(recs[0].Request); p == nil || p.Rule != profile.RuleInvalidUTF8 {
			t.Fatalf("Validate = %v", p)
		}
	})
	t.Run("a character cut by the sniff window is not an error", func(t *testing.T) {
		pad := strings.Repeat("x", sniffSize-len(header)-len("u-1,")-1)
		input := header + "u-1," + pad + "é,external\n" // é straddles the window
		_, recs, err := readAll(t, []byte(input), Options{Format: FormatCSV, MaxRecordBytes: 2 * sniffSize})
		if err != nil || len(recs) != 1 || recs[0].Problem != nil {
			t.Fatalf("err %v, records %s", err, dump(recs))
		}
	})
}

func TestRecordTooLong(t *testing.T) {
	big := strings.Repeat("x", 2<<20)
	tests := []struct {
		name   string
		format Format
		input  string
		max    int
		want   string
	}{
		{
			name:   "2 MiB unquoted field",
			format: FormatCSV,
			input:  "external_id,name\nu-1,Ada\nu-2," + big + "\nu-3,Grace\n",
			want: `2 ext="u-1" name="Ada" rel=-
3 !record_too_long record is longer than 1 MiB; it was skipped
4 ext="u-3" name="Grace" rel=-
`,
		},
		{
			name:   "2 MiB quoted field spanning lines",
			format: FormatCSV,
			input:  "external_id,name\nu-1,Ada\nu-2,\"" + big + "\n" + big + "\"\"\n\"\nu-3,Grace\n",
			want: `2 ext="u-1" name="Ada" rel=-
3 !record_too_long record is longer than 1 MiB; it was skipped
6 ext="u-3" name="Grace" rel=-
`,
		},
		{
			name:   "2 MiB field in the last record",
			format: FormatCSV,
			input:  "external_id,name\nu-1,Ada\nu-2," + big,
			want: `2 ext="u-1" name="Ada" rel=-
3 !record_too_long record is longer than 1 MiB; it was skipped
`,
		},
		{
			name:   "small limit: line breaks count",
			format: FormatCSV,
			input:  "a,name\n1,abcd\n1,abcdef\n1,\"ab\nb\"\n2,ok\n",
			max:    8,
			want: `2 ext=- name="abcd" rel=-
3 !record_too_long record is longer than 8 bytes; it was skipped
4 !record_too_long record is longer than 8 bytes; it was skipped
6 ext=- name="ok" rel=-
`,
		},
		{
			name:   "blank lines are skipped under any limit",
			format: FormatCSV,
			input:  "a\r\n\r\n1\r\n\n22\r\n",
			max:    3,
			want:   "3 ext=- name=- rel=-\n5 !record_too_long record is longer than 3 bytes; it was skipped\n",
		},
		{
			name:   "a JSONL line of spaces longer than the limit is blank",
			format: FormatJSONL,
			input:  "{}\n" + strings.Repeat(" ", 100) + "\r\n{\"name\":1}\n{}",
			max:    4,
			want:   "1 ext=- name=- rel=-\n3 !record_too_long record is longer than 4 bytes; it was skipped\n4 ext=- name=- rel=-\n",
		},
		{
			name:   "2 MiB JSONL line",
			format: FormatJSONL,
			input:  "{\"name\":\"Ada\"}\n{\"name\":\"" + big + "\"}\r\n{\"name\":\"Grace\"}\n",
			want: `1 ext=- name="Ada" rel=-
2 !record_too_long record is longer than 1 MiB; it was skipped
3 ext=- name="Grace" rel=-
`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, recs, err := readAll(t, []byte(tc.input), Options{Format: tc.format, MaxRecordBytes: tc.max})
			if err != nil {
				t.Fatal(err)
			}
			if got := dump(recs); got != tc.want {
				t.Errorf("records\n got:\n%.2000s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// endless yields a head, then n bytes of fill, then a tail, without holding
// the fill in memory.
type endless struct {
	head, tail []byte
	fill       byte
	n          int
	block      []byte
}

func (e *endless) Read(p []byte) (int, error) {
	switch {
	case len(e.head) > 0:
		k := copy(p, e.head)
		e.head = e.head[k:]
		return k, nil
	case e.n > 0:
		if e.block == nil {
			e.block = bytes.Repeat([]byte{e.fill}, 64<<10)
		}
		k := copy(p[:min(len(p), e.n)], e.block)
		e.n -= k
		return k, nil
	case len(e.tail) > 0:
		k := copy(p, e.tail)
		e.tail = e.tail[k:]
		return k, nil
	}
	return 0, io.EOF
}

func TestHugeFieldMemory(t *testing.T) {
	const size = 100 << 20
	tests := []struct {
		name   string
		format Format
		src    *endless
	}{
		{"CSV quoted", FormatCSV, &endless{head: []byte("a,name\n1,\""), fill: 'x', n: size, tail: []byte("\"\n2,Ada\n")}},
		{"CSV unquoted", FormatCSV, &endless{head: []byte("a,name\n1,"), fill: 'x', n: size, tail: []byte("\n2,Ada\n")}},
		{"JSONL", FormatJSONL, &endless{head: []byte("{\"name\":\""), fill: 'x', n: size, tail: []byte("\"}\n{\"name\":\"Ada\"}\n")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			r, err := Open(tc.src, Options{Format: tc.format})
			if err != nil {
				t.Fatal(err)
			}
			var recs []Record
			for {
				rec, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				recs = append(recs, rec)
			}
			runtime.ReadMemStats(&after)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
				t.Errorf("reading a 100 MiB field allocated %d MiB", alloc>>20)
			}
			if len(recs) != 2 || recs[0].Problem == nil || recs[0].Problem.Rule != RuleRecordTooLong || *recs[1].Request.Name != "Ada" {
				t.Errorf("records:\n%s", dump(recs))
			}
		})
	}
}

func TestParseMapping(t *testing.T) {
	tests := []struct {
		specs []string
		err   string
	}{
		{specs: nil},
		{specs: []string{"external_id=id", "name=full_name", "relationship=rel", "metadata=attrs", "metadata.plan=tier"}},
		{specs: []string{"name"}, err: `--map "name": expected FIELD=COLUMN, e.g. --map name=full_name`},
		{specs: []string{"plan=tier"}, err: `--map "plan=tier": unknown field "plan"; use external_id (or reference_id), name, relationship (or access_type), metadata, metadata.KEY, country, email, email_hash, name_hash, onboarded_at, account_status or entity_type`},
		{specs: []string{"metadata.=x"}, err: `--map "metadata.=x": the metadata key is missing; use metadata.KEY=COLUMN, e.g. metadata.plan=tier`},
		{specs: []string{"name="}, err: `--map "name=": the column name is missing; use FIELD=COLUMN, e.g. --map name=full_name`},
		{specs: []string{"name=a", "external_id=a"}, err: `--map: column "a" is mapped twice (to name and to external_id); map each column once`},
		{specs: []string{"name=a", "name=b"}, err: `--map: field name is mapped twice (to columns "a" and "b"); map each field once`},
		{specs: []string{"metadata." + strings.Repeat("k", 65) + "=x"}, err: `--map "metadata.` + strings.Repeat("k", 65) + `=x": the metadata key is 65 characters, at most 64 allowed`},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.specs, " "), func(t *testing.T) {
			_, err := ParseMapping(tc.specs)
			if got := usageText(err); got != tc.err || (err == nil) != (tc.err == "") {
				t.Fatalf("error %v, want %q", err, tc.err)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		path string
		want Format
		err  string
	}{
		{path: "users.csv", want: FormatCSV},
		{path: "dir/USERS.TSV", want: FormatCSV},
		{path: "users.txt", want: FormatCSV},
		{path: "users.jsonl", want: FormatJSONL},
		{path: "users.ndjson", want: FormatJSONL},
		{path: "-", want: FormatCSV},
		{path: "users.json", err: `cannot tell the format of "users.json" from its extension; use --format csv or --format jsonl`},
		{path: "users", err: `cannot tell the format of "users" from its extension; use --format csv or --format jsonl`},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			got, err := FormatFromPath(tc.path)
			if got != tc.want || usageText(err) != tc.err {
				t.Fatalf("FormatFromPath = %q, %v; want %q, %q", got, err, tc.want, tc.err)
			}
		})
	}
	if f, err := ParseFormat("JSONL"); f != FormatJSONL || err != nil {
		t.Errorf("ParseFormat(JSONL) = %q, %v", f, err)
	}
	if _, err := ParseFormat("xml"); usageText(err) != `unknown format "xml"; use --format csv or --format jsonl` {
		t.Errorf("ParseFormat(xml) error %v", err)
	}
}

func TestOpenOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		err  string
	}{
		{"no format", Options{}, `unknown format ""; use --format csv or --format jsonl`},
		{"unknown encoding", Options{Format: FormatCSV, Encoding: "ebcdic"}, `unknown encoding "ebcdic"; use utf-8, windows-1252, latin1 or utf-16`},
		{"quote delimiter", Options{Format: FormatCSV, Delimiter: '"'}, `the delimiter '"' cannot be used; use one ASCII character other than a quote or a line break, e.g. ',', ';' or a tab`},
		{"multi-byte delimiter", Options{Format: FormatCSV, Delimiter: '§'}, `the delimiter '§' cannot be used; use one ASCII character other than a quote or a line break, e.g. ',', ';' or a tab`},
		{"negative limit", Options{Format: FormatCSV, MaxRecordBytes: -1}, `the record size limit must not be negative, got -1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(strings.NewReader("a\n1\n"), tc.opts)
			if got := usageText(err); got != tc.err {
				t.Fatalf("error %v, want %s", err, tc.err)
			}
		})
	}
}

// failing returns data, then a read error.
type failing struct{ data []byte }

func (f *failing) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestIOErrorIsFatal(t *testing.T) {
	for _, format := range []Format{FormatCSV, FormatJSONL} {
		t.Run(string(format), func(t *testing.T) {
			// Past the sniffed prefix, so that Open succeeds.
			data := "name\n" + strings.Repeat("{\"name\":\"x\"}\n", sniffSize/12+10)
			r, err := Open(&failing{data: []byte(data)}, Options{Format: format})
			if err != nil {
				t.Fatal(err)
			}
			for {
				_, err = r.Next()
				if err != nil {
					break
				}
			}
			if err != io.ErrUnexpectedEOF {
				t.Fatalf("Next error %v, want the read error", err)
			}
			if _, err2 := r.Next(); err2 != err {
				t.Fatalf("the error is not kept: %v", err2)
			}
		})
	}
}

func TestRecordsOwnTheirData(t *testing.T) {
	input := []byte("external_id,name\nu-1,Ada\nu-2,\"Grace\nHopper\"\nu-3,Alan\n")
	_, recs, err := readAll(t, input, Options{Format: FormatCSV})
	if err != nil {
		t.Fatal(err)
	}
	want := "2 ext=\"u-1\" name=\"Ada\" rel=-\n3 ext=\"u-2\" name=\"Grace\\nHopper\" rel=-\n5 ext=\"u-3\" name=\"Alan\" rel=-\n"
	if got := dump(recs); got != want {
		t.Fatalf("records kept across Next calls changed:\n%s", got)
	}
	if !bytes.Equal([]byte(recs[0].Fields[1].Value), []byte("Ada")) {
		t.Fatalf("fields changed: %q", recs[0].Fields)
	}
}

// Position counts every record Next returned, invalid ones included (they
// are rows of the report too), and the input bytes they took, which reach
// the input's size at the end.
func TestPosition(t *testing.T) {
	for _, tt := range []struct {
		name, input string
		format      Format
	}{
		{"csv", "external_id,name\nu1,One\nu2\nu3,Three\n", FormatCSV},
		{"jsonl", `{"external_id":"u1"}` + "\n[1]\n\n" + `{"name":"Three"}` + "\n", FormatJSONL},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rd, err := Open(strings.NewReader(tt.input), Options{Format: tt.format})
			if err != nil {
				t.Fatal(err)
			}
			var last int64
			for want := int64(1); ; want++ {
				if _, err := rd.Next(); err != nil {
					if err != io.EOF {
						t.Fatal(err)
					}
					break
				}
				rows, bytes := rd.Position()
				if rows != want || bytes < last || bytes > int64(len(tt.input)) {
					t.Fatalf("after %d records: Position() = %d, %d (before: %d bytes)", want, rows, bytes, last)
				}
				last = bytes
			}
			if rows, bytes := rd.Position(); rows != 3 || bytes != int64(len(tt.input)) {
				t.Errorf("at the end: %d rows, %d bytes; want 3 and %d", rows, bytes, len(tt.input))
			}
		})
	}
}
