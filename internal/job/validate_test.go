package job

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/provision/provision/internal/profile"
	"github.com/provision/provision/internal/reader"
	"github.com/provision/provision/internal/report"
)

// statusCounter is a Progress that counts what it is told.
type statusCounter struct {
	mu sync.Mutex
	n  map[profile.Status]int
}

func (c *statusCounter) Waiting(string) {}

func (c *statusCounter) Add(st profile.Status) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[profile.Status]int{}
	}
	c.n[st]++
}

func (c *statusCounter) Close() {}

func openCSV(t *testing.T, r io.Reader) *reader.Reader {
	t.Helper()
	rd, err := reader.Open(r, reader.Options{Format: reader.FormatCSV})
	if err != nil {
		t.Fatal(err)
	}
	return rd
}

// readReport reads a CSV report into one map per row.
func readReport(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = r[i]
		}
		rows = append(rows, m)
	}
	return rows
}

func TestValidateJudgesEveryRowInInputOrder(t *testing.T) {
	input := "external_id,name,relationship\n" +
		"u-1,Ada,external\n" + // 2
		"u-2," + strings.Repeat("x", profile.MaxName+1) + ",\n" + // 3
		"u-1,Ada again,\n" + // 4: the identity of line 2
		",Anonymous,\n" + // 5
		",Anonymous,\n" + // 6: the content of line 5, no external_id
		"u-3,Too,many,fields\n" + // 7: the reader's problem
		"u-4,Partner,partner\n" + // 8
		"u-5,\"Multi\nline\",\n" + // 9-10
		"u-6,Last,\n" // 11
	path := filepath.Join(t.TempDir(), "report.csv")
	prog := &statusCounter{}
	res, err := Validate(context.Background(), ValidateConfig{Input: openCSV(t, strings.NewReader(input)),
		ReportPath: path, ReportFormat: report.FormatCSV, Progress: prog})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		line, status, rule string
	}{
		{"2", "valid", ""},
		{"3", "invalid", profile.RuleNameTooLong},
		{"4", "invalid", profile.RuleDuplicateExternalID},
		{"5", "valid", ""},
		{"6", "invalid", profile.RuleDuplicateRow},
		{"7", "invalid", reader.RuleFieldCount},
		{"8", "invalid", profile.RuleRelationshipInvalid},
		{"9", "valid", ""},
		{"11", "valid", ""},
	}
	rows := readReport(t, path)
	if len(rows) != len(want) {
		t.Fatalf("report has %d rows, want %d: %v", len(rows), len(want), rows)
	}
	for i, w := range want {
		got := rows[i]
		if got["line"] != w.line || got["status"] != w.status || got["error_type"] != w.rule {
			t.Errorf("row %d: line %s %s/%s, want line %s %s/%s", i, got["line"], got["status"], got["error_type"], w.line, w.status, w.rule)
		}
		if w.rule != "" && !strings.HasPrefix(got["error_message"], "line "+w.line+": ") {
			t.Errorf("line %s: message %q does not name its line", w.line, got["error_message"])
		}
	}
	if msg := rows[2]["error_message"]; !strings.Contains(msg, "line 2") {
		t.Errorf("the duplicate does not name the first line: %q", msg)
	}
	if res.Rows != 9 || res.Counts[profile.StatusValid] != 4 || res.Counts[profile.StatusInvalid] != 5 {
		t.Errorf("result: %d rows, counts %v", res.Rows, res.Counts)
	}
	if res.ErrorTypes[profile.RuleDuplicateExternalID] != 1 || res.ErrorTypes[reader.RuleFieldCount] != 1 || len(res.ErrorTypes) != 5 {
		t.Errorf("error types %v", res.ErrorTypes)
	}
	if prog.n[profile.StatusValid] != 4 || prog.n[profile.StatusInvalid] != 5 {
		t.Errorf("progress was told %v", prog.n)
	}
}

func TestValidateChecksTheRulesOfItsContract(t *testing.T) {
	input := "external_id,name\nu-1,Ada\nu-1,Ada again\n"
	path := filepath.Join(t.TempDir(), "report.jsonl")
	res, err := Validate(context.Background(), ValidateConfig{Input: openCSV(t, strings.NewReader(input)),
		Version: profile.VersionGA, ReportPath: path, ReportFormat: report.FormatJSONL})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `reference_id: \"u-1\" already appears on line 2`) {
		t.Errorf("the GA contract's duplicate names reference_id; the report says:\n%s", b)
	}
	if res.Counts[profile.StatusInvalid] != 1 {
		t.Errorf("counts %v", res.Counts)
	}
}

func TestValidateOfAnEmptyExportWritesAnEmptyReport(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.csv")
	res, err := Validate(context.Background(), ValidateConfig{Input: openCSV(t, strings.NewReader("external_id,name\n")),
		ReportPath: path, ReportFormat: report.FormatCSV})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 0 || len(readReport(t, path)) != 0 {
		t.Errorf("%d rows", res.Rows)
	}
}

func TestValidateStopsWhenAsked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.csv")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("received interrupt"))
	_, err := Validate(ctx, ValidateConfig{Input: openCSV(t, strings.NewReader("external_id\nu-1\nu-2\n")),
		ReportPath: path, ReportFormat: report.FormatCSV})
	if err == nil || !strings.Contains(err.Error(), "interrupted: received interrupt") {
		t.Fatalf("error %v, want the interruption and its cause", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("an interrupted validate left a report: %v", err)
	}
}

// failingReader yields its text, then fails.
type failingReader struct {
	text io.Reader
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.text.Read(p)
	if err == io.EOF {
		return n, errors.New("disk on fire")
	}
	return n, err
}

func TestValidateEndsOnAReadError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.csv")
	old := []byte("an earlier report\n")
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	// Past the start the reader inspects when it opens the input.
	var text strings.Builder
	text.WriteString("external_id\n")
	for i := range 20000 {
		fmt.Fprintf(&text, "u-%d\n", i)
	}
	in := &failingReader{text: strings.NewReader(text.String())}
	_, err := Validate(context.Background(), ValidateConfig{Input: openCSV(t, in), ReportPath: path, ReportFormat: report.FormatCSV})
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("error %v, want the read error", err)
	}
	// The report is written atomically: the earlier one stays whole.
	if b, _ := os.ReadFile(path); string(b) != string(old) {
		t.Errorf("the earlier report was replaced by %q", b)
	}
}

func TestValidateFailsOnAnUnwritableReport(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "report.csv")
	_, err := Validate(context.Background(), ValidateConfig{Input: openCSV(t, strings.NewReader("external_id\nu-1\n")),
		ReportPath: path, ReportFormat: report.FormatCSV})
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %v, want one naming %s", err, path)
	}
}

// readHeader reads the header of a CSV report.
func readHeader(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := csv.NewReader(f).Read()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestValidateReportsTheRequestEachRowWouldSend(t *testing.T) {
	input := "external_id,name,relationship,email,country,onboarded_at\n" +
		"u-1,Ada,external, Ada@Example.com ,GB,2024-03-05T11:20:30+01:00\n" + // 2
		"u-2,Bo & Co,resold,,,\n" + // 3
		"u-3,Internal,internal,,,\n" + // 4: no GA equivalent
		"u-1,Ada again,,,,\n" + // 5: the identity of line 2
		"u-4,Tim,,,UK,\n" // 6: no such country
	// The hash of the trimmed, lower-cased address, computed here.
	sum := sha256.Sum256([]byte("ada@example.com"))
	emailHash := hex.EncodeToString(sum[:])
	for _, tc := range []struct {
		version profile.Version
		want    []string // the request column, by row
	}{
		{profile.Version20260324, []string{
			`{"external_id":"u-1","name":"Ada","relationship":"external"}`,
			`{"external_id":"u-2","name":"Bo \u0026 Co","relationship":"resold"}`,
			`{"external_id":"u-3","name":"Internal","relationship":"internal"}`,
			"",
			`{"external_id":"u-4","name":"Tim"}`,
		}},
		{profile.VersionGA, []string{
			`{"name":"Ada","access_type":"application","external_user_details":{"reference_id":"u-1","country":"GB","email_hash":"` +
				emailHash + `","onboarded_at":"2024-03-05T10:20:30Z"}}`,
			`{"name":"Bo \u0026 Co","access_type":"passthrough","external_user_details":{"reference_id":"u-2"}}`,
			"",
			"",
			"",
		}},
	} {
		t.Run(tc.version.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "report.csv")
			_, err := Validate(context.Background(), ValidateConfig{Input: openCSVFor(t, strings.NewReader(input), tc.version),
				Version: tc.version, ReportPath: path, ReportFormat: report.FormatCSV})
			if err != nil {
				t.Fatal(err)
			}
			wantHeader := "line,status,user_profile_id,error_type,error_message,attempts,request_id,request," +
				"external_id,name,relationship,email,country,onboarded_at"
			if h := strings.Join(readHeader(t, path), ","); h != wantHeader {
				t.Errorf("header\n got: %s\nwant: %s", h, wantHeader)
			}
			rows := readReport(t, path)
			if len(rows) != len(tc.want) {
				t.Fatalf("%d rows, want %d", len(rows), len(tc.want))
			}
			for i, want := range tc.want {
				got := rows[i]
				if got["request"] != want {
					t.Errorf("line %s (%s %s): request\n got: %s\nwant: %s", got["line"], got["status"], got["error_type"], got["request"], want)
				}
				if (want == "") != (got["status"] == string(profile.StatusInvalid)) {
					t.Errorf("line %s is %s with request %q", got["line"], got["status"], got["request"])
				}
				if strings.Contains(strings.ToLower(got["request"]), "example.com") {
					t.Errorf("line %s: the request carries the address: %s", got["line"], got["request"])
				}
				if got["external_id"] == "" || got["name"] == "" {
					t.Errorf("line %s: the input's own columns are missing: %v", got["line"], got)
				}
			}
		})
	}
}

func TestValidateRequestColumnInJSONL(t *testing.T) {
	input := `{"external_id":"u-1","name":"Ada","request":"mine"}` + "\n" + `{"external_id":"u-1"}` + "\n"
	rd, err := reader.Open(strings.NewReader(input), reader.Options{Format: reader.FormatJSONL, Version: profile.VersionGA})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "report.jsonl")
	if _, err := Validate(context.Background(), ValidateConfig{Input: rd, Version: profile.VersionGA,
		ReportPath: path, ReportFormat: report.FormatJSONL}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 {
		t.Fatalf("report:\n%s", b)
	}
	// The request is the first key of the row's input; the line's own
	// "request" key keeps its value under input.request.
	want := `"input":{"request":"{\"name\":\"Ada\",\"external_user_details\":{\"reference_id\":\"u-1\"}}",` +
		`"external_id":"u-1","name":"Ada","input.request":"mine"}}`
	if !strings.HasSuffix(lines[0], want) {
		t.Errorf("line 1:\n got: %s\nwant it to end with: %s", lines[0], want)
	}
	if !strings.Contains(lines[1], `"status":"invalid"`) || !strings.Contains(lines[1], `"input":{"request":"","external_id":"u-1"}}`) {
		t.Errorf("line 2, a duplicate, has a request: %s", lines[1])
	}
}

func TestValidateRenamesAnInputColumnNamedRequest(t *testing.T) {
	input := "request,external_id,input.request\nr-1,u-1,x-1\n"
	path := filepath.Join(t.TempDir(), "report.csv")
	if _, err := Validate(context.Background(), ValidateConfig{Input: openCSV(t, strings.NewReader(input)),
		ReportPath: path, ReportFormat: report.FormatCSV}); err != nil {
		t.Fatal(err)
	}
	wantHeader := "line,status,user_profile_id,error_type,error_message,attempts,request_id,request," +
		"input.input.request,external_id,input.request"
	if h := strings.Join(readHeader(t, path), ","); h != wantHeader {
		t.Errorf("header\n got: %s\nwant: %s", h, wantHeader)
	}
	rows := readReport(t, path)
	if len(rows) != 1 {
		t.Fatalf("%d rows", len(rows))
	}
	r := rows[0]
	if r["request"] != `{"external_id":"u-1"}` || r["input.input.request"] != "r-1" || r["input.request"] != "x-1" {
		t.Errorf("row %v", r)
	}
}

func openCSVFor(t *testing.T, r io.Reader, v profile.Version) *reader.Reader {
	t.Helper()
	rd, err := reader.Open(r, reader.Options{Format: reader.FormatCSV, Version: v})
	if err != nil {
		t.Fatal(err)
	}
	return rd
}

// Across many batches, every row is judged as a plain sequential check
// judges it: the first row of an identity is valid, with the body
// json.Marshal renders, and each later one names that first row's line.
func TestValidateAcrossBatchesMatchesASequentialCheck(t *testing.T) {
	var in strings.Builder
	in.WriteString("external_id,name,metadata.plan\n")
	type row struct {
		line     int
		id, name string
	}
	var rows []row
	line := 2
	for i := range 5 * validateBatch {
		r := row{line: line, id: fmt.Sprintf("u-%d", i*7%(2*validateBatch)), name: fmt.Sprintf("Name <%d>", i)}
		if i%97 == 0 {
			r.name = "Two\nlines" // a record over two lines
			fmt.Fprintf(&in, "%s,\"%s\",plan-%d\n", r.id, r.name, i%3)
			line += 2
		} else {
			fmt.Fprintf(&in, "%s,%s,plan-%d\n", r.id, r.name, i%3)
			line++
		}
		rows = append(rows, r)
	}
	path := filepath.Join(t.TempDir(), "report.csv")
	res, err := Validate(context.Background(), ValidateConfig{Input: openCSV(t, strings.NewReader(in.String())),
		ReportPath: path, ReportFormat: report.FormatCSV})
	if err != nil {
		t.Fatal(err)
	}
	got := readReport(t, path)
	if len(got) != len(rows) || res.Rows != int64(len(rows)) {
		t.Fatalf("%d report rows, %d counted, want %d", len(got), res.Rows, len(rows))
	}
	first := map[string]int{}
	valid := 0
	for i, r := range rows {
		g := got[i]
		if g["line"] != fmt.Sprint(r.line) || g["name"] != r.name {
			t.Fatalf("row %d: line %s name %q, want line %d name %q", i, g["line"], g["name"], r.line, r.name)
		}
		if f, dup := first[r.id]; dup {
			want := fmt.Sprintf("line %d: external_id: %q already appears on line %d", r.line, r.id, f)
			if g["status"] != "invalid" || g["error_message"] != want || g["request"] != "" {
				t.Fatalf("line %d: %s %q request %q, want the duplicate of line %d", r.line, g["status"], g["error_message"], g["request"], f)
			}
			continue
		}
		first[r.id] = r.line
		valid++
		body, err := json.Marshal(profile.Request{ExternalID: &r.id, Name: &r.name,
			Metadata: map[string]string{"plan": fmt.Sprintf("plan-%d", i%3)}}.Body(profile.DefaultVersion))
		if err != nil {
			t.Fatal(err)
		}
		if g["status"] != "valid" || g["request"] != string(body) {
			t.Fatalf("line %d: %s request %s, want valid with %s", r.line, g["status"], g["request"], body)
		}
	}
	if res.Counts[profile.StatusValid] != valid || res.Counts[profile.StatusInvalid] != len(rows)-valid {
		t.Errorf("counts %v, want %d valid of %d", res.Counts, valid, len(rows))
	}
}

// benchExport is an export like bench/gen's: the canonical columns, two
// metadata keys and a free-text column, quoted where it must be.
func benchExport(rows int) []byte {
	var b strings.Builder
	b.WriteString("external_id,name,relationship,metadata.plan,metadata.region,notes\n")
	names := []string{"Ada Lovelace", "Alan Turing", "Søren Kierkegaard", "Zoë O'Brien", "José Núñez"}
	rels := []string{"external", "external", "resold", "internal"}
	notes := []string{`"billing, via by email renewal trial"`, `"extended escalated ""soon"" legacy phone migrated request"`,
		"account migrated from legacy billing renewal due", "sales on request"}
	for i := range rows {
		fmt.Fprintf(&b, "bench-%d,%s,%s,%s,%s,%s\n", i, names[i%len(names)], rels[i%len(rels)],
			[]string{"free", "pro", "team"}[i%3], []string{"us", "eu", "apac", "latam"}[i%4], notes[i%len(notes)])
	}
	return []byte(b.String())
}

// BenchmarkValidate is validate's whole path over 100k rows, report
// written (to a temporary directory); with -cpu 1 it is its CPU cost.
func BenchmarkValidate(b *testing.B) {
	data := benchExport(100_000)
	dir := b.TempDir()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		rd, err := reader.Open(strings.NewReader(string(data)), reader.Options{Format: reader.FormatCSV})
		if err != nil {
			b.Fatal(err)
		}
		res, err := Validate(context.Background(), ValidateConfig{Input: rd,
			ReportPath: filepath.Join(dir, "report.csv"), ReportFormat: report.FormatCSV})
		if err != nil || res.Counts[profile.StatusValid] != 100_000 {
			b.Fatal(err, res.Counts)
		}
	}
}

// The cells Validate renders beside the check, the input's copied whole
// where the reader found them canonical, make the report the writer makes
// from the rows' fields, byte for byte: for every kind of cell, row and
// problem, a CSV or a JSONL input, under each contract.
func TestValidateEncodedCellsAreTheWritersCells(t *testing.T) {
	csvInput := "external_id,name,relationship,metadata.plan,notes,request,country,onboarded_at\n" +
		"u-1,Ada,external,pro,plain,r,GB,2024-05-01T09:30:00Z\n" +
		`u-2,"Lovelace, Ada",resold,"a,b","x ""y"" z","r,2",UK,2024-05-01` + "\n" +
		`"u-3","Ada",,pro,=SUM(A1),-5,,` + "\n" +
		`u-4, lead,external,"\.",\.,@x,GB,` + "\n" +
		"u-5,\"two\nlines\",internal,,\u00a0nbsp,\"\u2028\",,\r\n" +
		",,,,,,,\n" + // the empty request: its body is {}
		",,,,,,,\n" + // its duplicate
		"u-1,Ada again,external,,,,,\n" + // a duplicate external_id
		"u-6,Ann,bogus,pro,,,,\n" + // invalid in the check
		"u-7,Ann,external,pro\n" + // too few fields
		`u-8,"bad"quote,external,,,,,` + "\n" +
		"u-9," + strings.Repeat("é", profile.MaxName+1) + ",external,,,,,\n" +
		"u-10,\"<&>\",external,\"\u2028\",,,,\n" +
		`u-11,"a""b",external,"""",",",""",""",,` + "\n"
	jsonlInput := `{"external_id":"j-1","name":"Ada, \"A\"","request":"x","notes":"=1"}` + "\n" +
		`{"name":"No id","extra":" lead"}` + "\n" +
		`{"external_id":"j-1"}` + "\n" +
		`{"external_id":"j-2","relationship":"bogus","metadata":{"plan":"p"}}` + "\n" +
		`not json` + "\n"
	for _, in := range []struct {
		name   string
		text   string
		format reader.Format
	}{{"csv", csvInput, reader.FormatCSV}, {"jsonl", jsonlInput, reader.FormatJSONL}} {
		for _, v := range []profile.Version{profile.DefaultVersion, profile.VersionGA} {
			var reports [2][]byte
			for i, enc := range []bool{true, false} {
				encodeCells = enc
				rd, err := reader.Open(strings.NewReader(in.text), reader.Options{Format: in.format, Version: v})
				if err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(t.TempDir(), "report.csv")
				now := func() time.Time { return time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC) }
				if _, err := Validate(context.Background(), ValidateConfig{Input: rd, Version: v, ReportPath: path,
					ReportFormat: report.FormatCSV, Now: now}); err != nil {
					t.Fatal(err)
				}
				if reports[i], err = os.ReadFile(path); err != nil {
					t.Fatal(err)
				}
			}
			encodeCells = true
			if !bytes.Equal(reports[0], reports[1]) {
				t.Errorf("%s input, %s: cells rendered beside the check:\n%s\nthe writer's:\n%s", in.name, v, reports[0], reports[1])
			}
			if n := bytes.Count(reports[0], []byte(",valid,")); n < 2 {
				t.Errorf("%s input, %s: %d valid rows, want some of each kind", in.name, v, n)
			}
		}
	}
}

// A CSV export read with NextRaw, its records mapped in the checking
// goroutines, one or several, with Map or MapSorted, gives the report Next
// gives, byte for byte, in either report format, over batches of rows of
// every kind.
func TestValidateMapsInTheCheckingGoroutinesAsNextDoes(t *testing.T) {
	var in strings.Builder
	in.WriteString("external_id,name,relationship,metadata.plan,request,country\n")
	// Kinds of rows, in turn: each rule of the reader and of the check,
	// invalid UTF-8 in a field that feeds the request and in one that
	// does not.
	kinds := []string{
		"u-%d,Ada,external,pro,r,GB\n",
		"u-%d,\"Lovelace, \"\"Ada\"\"\",resold,\"a,b\",,UK\n",
		"u-%d,Ann,bogus,,,\n",
		"u-%d,Ann\n",
		"u-%d,\"bad\"quote,,,,\n",
		"u-%d,\"two\nlines\",internal,,\u2028,\n",
		",,,,,\n",
		"u-1,again,external,,,\n",
		"u-%d,Bad \xff name,external,,,\n",
		"u-%d,Ann,external,bad \xff plan,,\n",
		"u-%d\xfe,Ann,external,,,\n",
		"u-%d,Ann,external,pro,stray \xff byte,FR\n",
		"u-%d,\"Zoë \"\"Ø\"\"\",external,ü,,\xffR\n",
	}
	for i := range 3*validateBatch + 17 {
		fmt.Fprintf(&in, kinds[i%len(kinds)], i)
	}
	// Metadata columns out of the keys' order, rows without an
	// external_id whose identity is their content, metadata included, and
	// too many keys.
	var md strings.Builder
	md.WriteString("name,metadata.z,relationship,metadata.b,metadata.a,external_id")
	for k := range profile.MaxMetadataKeys - 2 {
		fmt.Fprintf(&md, ",metadata.k%02d", k)
	}
	md.WriteString("\n")
	extra := strings.Repeat(",", profile.MaxMetadataKeys-2)
	mdKinds := []string{
		"Ada,z,external,b,a,m-%d" + extra + "\n",
		"Ada,z,external,b,a," + extra + "\n", // content: the same each time
		"Ada,z,external,b,," + extra + "\n",  // content: differs in metadata.a only
		"Ada,,external,,," + extra + "\n",
		"Ann,z,external,b,a,m-%d" + strings.Repeat(",v", profile.MaxMetadataKeys-2) + "\n",     // 17 keys
		"Ann,z,external,b,a,m-%d" + strings.Repeat(",v", profile.MaxMetadataKeys-3) + ",\n",    // 16 keys
		"Ann,z,external,,a,m-%d,,\xff" + strings.Repeat(",", profile.MaxMetadataKeys-4) + "\n", // invalid UTF-8 in a value
	}
	for i := range 2*validateBatch + 5 {
		if k := mdKinds[i%len(mdKinds)]; strings.Contains(k, "%d") {
			fmt.Fprintf(&md, k, i)
		} else {
			md.WriteString(k)
		}
	}
	defer func() { readRaw, checkers, sortMetadata = true, 2, true }()
	for _, input := range []string{in.String(), md.String()} {
		for _, format := range []string{report.FormatCSV, report.FormatJSONL} {
			for _, v := range []profile.Version{profile.DefaultVersion, profile.VersionGA} {
				testMapsAsNextDoes(t, input, format, v)
			}
		}
	}
}

func testMapsAsNextDoes(t *testing.T, input, format string, v profile.Version) {
	t.Helper()
	var reports [][]byte
	for _, c := range []struct {
		raw, sorted bool
		checkers    int
	}{{false, false, 1}, {true, false, 1}, {true, true, 1}, {true, true, 2}, {true, false, 3}} {
		readRaw, checkers, sortMetadata = c.raw, c.checkers, c.sorted
		rd, err := reader.Open(strings.NewReader(input), reader.Options{Format: reader.FormatCSV, Version: v, Encoding: reader.EncodingUTF8})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "report."+format)
		if _, err := Validate(context.Background(), ValidateConfig{Input: rd, Version: v, ReportPath: path, ReportFormat: format}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		reports = append(reports, b)
	}
	for i := 1; i < len(reports); i++ {
		if !bytes.Equal(reports[i], reports[0]) {
			t.Errorf("%s report, %s: case %d differs from Next's:\n%s\nNext's:\n%s", format, v, i, reports[i], reports[0])
		}
	}
}
