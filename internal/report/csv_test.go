package report

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/provision/provision/internal/profile"
)

// referenceCSV is the report as encoding/csv writes it: the header and
// every row's cells neutralised and placed by name, as the writer did
// before it wrote its own quoting.
func referenceCSV(t testing.TB, inputColumns []string, rows []Row) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	own := reportColumns()
	header := append([]string(nil), own...)
	renamed := map[string]bool{}
	for _, name := range inputColumns {
		header = append(header, inputHeader(name, own, inputColumns, renamed))
	}
	for i := range header {
		header[i] = Neutralise(header[i])
	}
	if err := w.Write(header); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		rec := make([]string, len(header))
		if r.Line > 0 {
			rec[0] = strconv.Itoa(r.Line)
		}
		rec[1] = Neutralise(string(r.Status))
		rec[2] = Neutralise(r.UserProfileID)
		rec[3] = Neutralise(r.ErrorType)
		rec[4] = Neutralise(r.ErrorMessage)
		rec[5] = Neutralise(strconv.Itoa(r.Attempts))
		rec[6] = Neutralise(r.RequestID)
		used := map[string]int{}
		for _, f := range r.Fields {
			k := 0
			for i, name := range inputColumns {
				if name != f.Name {
					continue
				}
				if k == used[f.Name] {
					rec[len(own)+i] = Neutralise(f.Value)
					used[f.Name]++
					break
				}
				k++
			}
		}
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	return buf.Bytes()
}

// writeCSV is the report as NewCSV writes it.
func writeCSV(t testing.TB, inputColumns []string, rows []Row) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewCSV(&buf, inputColumns)
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// csvCells are values that take every branch of encoding/csv's quoting
// and of Neutralise.
func csvCells() []string {
	cells := []string{
		"", "plain", `\.`, `\.x`, `x\.`, "'quoted already", `"`, `""`, `a"b`, "a,b", "a\nb", "a\rb", "a\r\nb",
		" lead", "trail ", "\tlead", "\vlead", "\flead", "\u00a0nbsp", "\u0085nel", "\u2028ls", "\u3000ideo", "\u200bzwsp",
		"=1+2", "+1", "-5", "@sum", "\t=x", "\r=x", "=a,b", "=\"q\"", "-\n", "é", "\xffbad", "\xc2", "\xc2\xa0",
		`{"external_id":"u-1","name":"Ann \"the\" Smith","metadata":{"plan":"pro"}}`,
		strings.Repeat("x", 100), strings.Repeat(`"`, 17),
		// A byte one above a quote's, after one: bit tricks that borrow
		// across bytes take it for another quote.
		`"#"#"#"#"#"#"#"#"#`, `ab"#cd"#ef"#`, `"!"#"$`,
	}
	// A special byte at every offset of the first three words.
	for _, special := range []string{",", `"`, "\r", "\n"} {
		for at := range 24 {
			cells = append(cells, strings.Repeat("a", at)+special+strings.Repeat("b", 24-at))
		}
	}
	return cells
}

// The writer's bytes are encoding/csv's, for every kind of cell in every
// column, header included, with columns placed by position and by name.
func TestCSVFieldIsEncodingCSV(t *testing.T) {
	cells := csvCells()
	columns := []string{"name", "status", "=formula", " spaced", "dup", "dup", "a,b"}
	var rows []Row
	for i, c := range cells {
		next := cells[(i+1)%len(cells)]
		rows = append(rows,
			// In the input's order: placed by position.
			Row{Line: i + 2, Status: profile.StatusValid, UserProfileID: c, ErrorType: next, ErrorMessage: c, Attempts: i - 3,
				RequestID: next, Fields: fields("name", c, "status", next, "=formula", c, " spaced", c, "dup", next, "dup", c, "a,b", c)},
			// Out of order, missing and unknown names: placed by name.
			Row{Line: i % 3, Status: profile.Status(c), Fields: fields("dup", c, "a,b", next, "unknown", c, "dup", next, "name", c)},
			Row{Status: profile.StatusInvalid, ErrorMessage: next, Fields: fields("dup", c)},
		)
	}
	want := referenceCSV(t, columns, rows)
	got := writeCSV(t, columns, rows)
	if !bytes.Equal(got, want) {
		gotLines, wantLines := strings.SplitAfter(string(got), "\n"), strings.SplitAfter(string(want), "\n")
		for i := range min(len(gotLines), len(wantLines)) {
			if gotLines[i] != wantLines[i] {
				t.Fatalf("line %d:\n got %q\nwant %q", i+1, gotLines[i], wantLines[i])
			}
		}
		t.Fatalf("got %d lines, want %d", len(gotLines), len(wantLines))
	}
	// And each cell on its own, so that a difference names its cell.
	for _, c := range cells {
		if got, want := appendCSVCell(nil, c), referenceField(t, Neutralise(c)); !bytes.Equal(got, want) {
			t.Errorf("cell %q: got %q, want %q", c, got, want)
		}
	}
}

// referenceField is one field as encoding/csv writes it, without the
// record's line break.
func referenceField(t testing.TB, s string) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write([]string{s}); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// A report longer than the writer's buffer comes out whole and in order.
func TestCSVLongerThanTheBuffer(t *testing.T) {
	var rows []Row
	for i := range 3 * csvFlushSize / 50 {
		rows = append(rows, Row{Line: i + 2, Status: profile.StatusValid,
			Fields: fields("note", fmt.Sprintf("row %d, \"quoted\"", i))})
	}
	if got, want := writeCSV(t, []string{"note"}, rows), referenceCSV(t, []string{"note"}, rows); !bytes.Equal(got, want) {
		t.Fatalf("%d bytes, want %d", len(got), len(want))
	}
}

func FuzzCSVCell(f *testing.F) {
	for _, c := range csvCells() {
		f.Add(c, "x")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if got, want := appendCSVCell(nil, a), referenceField(t, Neutralise(a)); !bytes.Equal(got, want) {
			t.Fatalf("cell %q: got %q, want %q", a, got, want)
		}
		rows := []Row{{Line: 2, Status: profile.Status(b), ErrorMessage: a, Fields: fields("x", a, b, b, "x", b)}}
		if got, want := writeCSV(t, []string{"x", b}, rows), referenceCSV(t, []string{"x", b}, rows); !bytes.Equal(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
}

func BenchmarkCSVWrite(b *testing.B) {
	columns := []string{"request", "external_id", "name", "relationship", "metadata.plan", "metadata.region", "notes"}
	row := Row{Line: 123456, Status: profile.StatusValid, Fields: fields(
		"request", `{"external_id":"u-123456","name":"Frances Perlman","relationship":"external","metadata":{"plan":"pro","region":"latam"}}`,
		"external_id", "u-123456", "name", "Frances Perlman", "relationship", "external", "metadata.plan", "pro",
		"metadata.region", "latam", "notes", "billing, via by email renewal trial")}
	w := NewCSV(nopWriter{}, columns)
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Write(row); err != nil {
			b.Fatal(err)
		}
	}
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

// A row whose input cells come encoded is written as the same row with
// its Fields; the JSONL writer ignores Encoded.
func TestCSVEncodedCellsAreTheFieldsCells(t *testing.T) {
	cells := csvCells()
	columns := []string{"a", "b", "c"}
	var plain, encoded []Row
	for i, c := range cells {
		r := Row{Line: i + 2, Status: profile.StatusValid, ErrorMessage: c,
			Fields: fields("a", c, "b", cells[(i+1)%len(cells)], "c", cells[(i+7)%len(cells)])}
		plain = append(plain, r)
		var enc []byte
		for j, f := range r.Fields {
			if j > 0 {
				enc = append(enc, ',')
			}
			enc = AppendCSVCell(enc, f.Value)
		}
		r.Encoded = enc
		encoded = append(encoded, r)
	}
	if got, want := writeCSV(t, columns, encoded), referenceCSV(t, columns, plain); !bytes.Equal(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	var a, b bytes.Buffer
	for i, w := range []Writer{NewJSONL(&a), NewJSONL(&b)} {
		rows := [][]Row{plain, encoded}[i]
		for _, r := range rows {
			if err := w.Write(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("the JSONL writer wrote Encoded")
	}
}
