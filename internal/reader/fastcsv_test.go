package reader

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// checkSplit fails unless splitFields, when it splits text, gives the one
// record encoding/csv reads from it; it reports whether it split it.
func checkSplit(t *testing.T, text []byte, delim byte) bool {
	t.Helper()
	r := &Reader{delim: delim}
	if !r.splitFields(text) {
		return false
	}
	c := csv.NewReader(bytes.NewReader(text))
	c.Comma = rune(delim)
	c.FieldsPerRecord = -1
	want, err := c.Read()
	if err != nil {
		t.Fatalf("%q: split into %q, but encoding/csv says %v", text, r.fields, err)
	}
	if !slices.Equal(r.fields, want) {
		t.Fatalf("%q: split into %q, encoding/csv reads %q", text, r.fields, want)
	}
	if more, err := c.Read(); !errors.Is(err, io.EOF) {
		t.Fatalf("%q: split as one record, encoding/csv reads another: %q, %v", text, more, err)
	}
	checkCanonical(t, r.fields, r.canonical)
	if delim == ',' && r.canonical == "" && canonicalCSV(r.fields) == string(trimLineBreak(text)) {
		t.Fatalf("%q: written as encoding/csv writes it, yet not canonical", text)
	}
	return true
}

// canonicalCSV is fields as encoding/csv's Writer writes them, without the
// line break, or "" when a field starts like a formula.
func canonicalCSV(fields []string) string {
	for _, f := range fields {
		if f != "" && strings.ContainsRune("=+-@\t\r", rune(f[0])) {
			return ""
		}
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write(fields)
	w.Flush()
	return strings.TrimSuffix(buf.String(), "\n")
}

// checkCanonical fails unless canonical is "" or fields as encoding/csv
// writes them (Record.CSV).
func checkCanonical(t *testing.T, fields []string, canonical string) {
	t.Helper()
	if canonical != "" && canonical != canonicalCSV(fields) {
		t.Fatalf("fields %q: canonical text %q, encoding/csv writes %q", fields, canonical, canonicalCSV(fields))
	}
}

// trimLineBreak drops a record's final LF or CRLF.
func trimLineBreak(text []byte) []byte {
	text = bytes.TrimSuffix(text, []byte("\n"))
	return bytes.TrimSuffix(text, []byte("\r"))
}

// Records as encoding/csv writes them, with every kind of field: they are
// split, as csv reads them.
func TestSplitFieldsAgreesWithCSV(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	pieces := []string{"", "a", "plain text", `"`, `""`, `a"b`, ",", ";", "\t", " ", "\n", "x\ny", "é", "\xff", "long " + strings.Repeat("word ", 9),
		"=", "+", "-", "@", `\`, ".", "\u00a0", "\u2028", "\u3000"}
	for _, delim := range []byte{',', ';', '\t', '|'} {
		for range 2000 {
			rec := make([]string, 1+rng.IntN(8))
			for i := range rec {
				for range rng.IntN(4) {
					rec[i] += pieces[rng.IntN(len(pieces))]
				}
			}
			var buf bytes.Buffer
			w := csv.NewWriter(&buf)
			w.Comma = rune(delim)
			if err := w.Write(rec); err != nil {
				t.Fatal(err)
			}
			w.Flush()
			text := buf.Bytes()
			if isBlank(text) || text[0] == '\n' {
				continue // csv skips an empty line; the splitter never hands one out
			}
			if !checkSplit(t, text, delim) {
				t.Fatalf("%q, delimiter %q: well formed, yet left to csv", text, delim)
			}
			// The last record of an input need not end with a line break;
			// an export from Windows ends its lines with CRLF.
			checkSplit(t, bytes.TrimSuffix(text, []byte("\n")), delim)
			if crlf := append(bytes.TrimSuffix(text, []byte("\n")), "\r\n"...); !checkSplit(t, crlf, delim) {
				t.Fatalf("%q, delimiter %q: well formed with CRLF, yet left to csv", crlf, delim)
			}
		}
	}
}

// What splitFields leaves to csv: it must not split these.
func TestSplitFieldsLeavesOddRecordsToCSV(t *testing.T) {
	for _, text := range []string{
		"a\r,b\n", "a,b\r\r\n", "a,b\r", `a,b"c` + "\n", `"a"b,c` + "\n", `"a` + "\n", `a,"b` + "\n",
		"a\nb\n", `"a""` + "\n",
	} {
		if (&Reader{delim: ','}).splitFields([]byte(text)) {
			t.Errorf("%q: split, but csv must read it", text)
		}
	}
}

func FuzzSplitFields(f *testing.F) {
	for _, s := range []string{"a,b,c\n", `"a,b",c` + "\n", `"a""b",,"c` + "\n" + `d"` + "\n", "a;b\n", "\"\"\n", ",\n", "a\r\n"} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, text []byte, d uint8) {
		delim := [4]byte{',', ';', '\t', '|'}[d&3]
		if len(text) == 0 || isBlank(text) || text[0] == '\n' {
			return
		}
		checkSplit(t, text, delim)
	})
}

// A record is canonical when it is written as encoding/csv writes its
// fields and none starts like a formula; then its text is kept whole.
func TestSplitFieldsCanonicalText(t *testing.T) {
	for _, c := range []struct {
		text  string
		delim byte
		want  string
	}{
		{"a,b,c\n", ',', "a,b,c"},
		{"a,b,c\r\n", ',', "a,b,c"},
		{"a,b,c", ',', "a,b,c"},
		{",,\n", ',', ",,"},
		{"é,b\n", ',', "é,b"},
		{`"a,b",c` + "\n", ',', `"a,b",c`},
		{`"a""b",c` + "\n", ',', `"a""b",c`},
		{`"\.",b` + "\n", ',', `"\.",b`},
		{`" a",b` + "\n", ',', `" a",b`},
		{"\"\u00a0x\",b\n", ',', "\"\u00a0x\",b"},
		{"\"x\ny\",b\n", ',', "\"x\ny\",b"},
		{`\.,b` + "\n", ',', ""},
		{`"a",b` + "\n", ',', ""},
		{`"",b` + "\n", ',', ""},
		{"=1,b\n", ',', ""},
		{"a,-1\n", ',', ""},
		{"a,@x\n", ',', ""},
		{`"=a,b",c` + "\n", ',', ""},
		{`"+a""b",c` + "\n", ',', ""},
		{" a,b\n", ',', ""},
		{"\u00a0x,b\n", ',', ""},
		{"\u2028x,b\n", ',', ""},
		{"a;b\n", ';', ""},
		{`"a;b";c` + "\n", ';', ""},
	} {
		r := &Reader{delim: c.delim}
		if !r.splitFields([]byte(c.text)) {
			t.Fatalf("%q: not split", c.text)
		}
		if r.canonical != c.want {
			t.Errorf("%q: canonical %q, want %q", c.text, r.canonical, c.want)
		}
		checkCanonical(t, r.fields, r.canonical)
	}
}
