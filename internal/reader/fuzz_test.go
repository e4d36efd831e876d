package reader

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/provision/provision/internal/profile"
)

// addSeeds adds every testdata file with one of the extensions as a seed,
// under each of the option bytes given.
func addSeeds(f *testing.F, opts []uint8, exts ...string) {
	files, err := filepath.Glob(filepath.Join("testdata", "*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		if !slices.Contains(exts, filepath.Ext(name)) {
			continue
		}
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for _, o := range opts {
			f.Add(data, o)
		}
	}
}

// fuzzEncoding picks one of the encodings by number.
func fuzzEncoding(n uint8) string {
	return [4]string{"", "utf-8", "windows-1252", "utf-16"}[n&3]
}

// checkRecords reads r to the end and checks what holds for any input:
// Next terminates, lines start at 1 and go up, and every record either has
// a problem or a request the validator can judge.
func checkRecords(t *testing.T, r *Reader, limit int) []Record {
	t.Helper()
	var recs []Record
	last := 0
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Next failed on an in-memory input: %v", err)
		}
		if rec.Line < 1 || rec.Line <= last {
			t.Fatalf("record on line %d after line %d", rec.Line, last)
		}
		last = rec.Line
		if rec.Problem == nil {
			profile.Validate(rec.Request)
		} else if rec.Problem.Rule == "" || rec.Problem.Message == "" {
			t.Fatalf("line %d: incomplete problem %+v", rec.Line, rec.Problem)
		}
		recs = append(recs, rec)
		if len(recs) > limit {
			t.Fatalf("more records (%d) than the input has lines", len(recs))
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next after the end: %v", err)
	}
	return recs
}

func openFuzz(t *testing.T, data []byte, opts Options) *Reader {
	r, err := Open(bytes.NewReader(data), opts)
	if err != nil {
		var ue *UsageError
		if !errors.As(err, &ue) || ue.Message == "" {
			t.Fatalf("Open failed with %T %v; only usage errors are expected", err, err)
		}
		return nil
	}
	return r
}

// FuzzCSV checks the CSV reader on any input, and that its record
// boundaries, lines and fields agree with a plain encoding/csv read of the
// same text: the record splitter must follow csv exactly.
//
// opt bits: 0-1 delimiter (auto , ; tab), 2 small record limit, 3-4
// encoding, 5-7 the small limit (1 to 29 bytes).
func FuzzCSV(f *testing.F) {
	addSeeds(f, []uint8{0, 0x04, 0x24, 0x08, 0x10, 0x18}, ".csv", ".tsv")
	f.Fuzz(func(t *testing.T, data []byte, opt uint8) {
		opts := Options{Format: FormatCSV, Encoding: fuzzEncoding(opt >> 3)}
		opts.Delimiter = [4]rune{0, ',', ';', '\t'}[opt&3]
		if opt&4 != 0 {
			opts.MaxRecordBytes = 1 + int(opt>>5)*4
		}
		r := openFuzz(t, data, opts)
		if r == nil {
			return
		}
		recs := checkRecords(t, r, bytes.Count(data, []byte{'\n'})+1)
		if r.resyncs != 0 {
			t.Fatalf("csv lost step with the splitter %d times", r.resyncs)
		}
		if opts.Encoding != "" && opts.Encoding != "utf-8" {
			return
		}
		if opts.Encoding == "" && (bytes.HasPrefix(data, []byte("\xff\xfe")) || bytes.HasPrefix(data, []byte("\xfe\xff"))) {
			return // read as UTF-16 by its mark: not comparable with encoding/csv
		}
		if r.header == nil {
			if len(recs) != 0 {
				t.Fatal("records without a header")
			}
			return
		}
		compareCSV(t, bytes.TrimPrefix(data, []byte(bomUTF8)), r, recs)
	})
}

// compareCSV checks recs against encoding/csv reading text on its own.
func compareCSV(t *testing.T, text []byte, r *Reader, recs []Record) {
	t.Helper()
	plain := csv.NewReader(bytes.NewReader(text))
	plain.Comma = r.Delimiter()
	plain.FieldsPerRecord = -1
	if _, err := plain.Read(); err != nil {
		t.Fatalf("encoding/csv cannot read the header that was accepted: %v", err)
	}
	byLine := make(map[int]Record, len(recs))
	for _, rec := range recs {
		byLine[rec.Line] = rec
	}
	seen := 0
	for {
		fields, err := plain.Read()
		if err == io.EOF {
			break
		}
		var line int
		var pe *csv.ParseError
		switch {
		case errors.As(err, &pe):
			line = pe.StartLine
		case err != nil:
			t.Fatal(err)
		default:
			line, _ = plain.FieldPos(0)
		}
		rec, ok := byLine[line]
		if !ok {
			t.Fatalf("encoding/csv has a record on line %d, the reader has none (it has %s)", line, dump(recs))
		}
		seen++
		if rec.Problem != nil && rec.Problem.Rule == RuleRecordTooLong {
			continue
		}
		switch {
		case pe != nil:
			if rec.Problem == nil || rec.Problem.Rule != RuleCSVSyntax {
				t.Fatalf("line %d: encoding/csv says %v, the reader has %s", line, err, dump([]Record{rec}))
			}
		case len(fields) != len(r.header):
			if rec.Problem == nil || rec.Problem.Rule != RuleFieldCount {
				t.Fatalf("line %d: %d fields, the reader has %s", line, len(fields), dump([]Record{rec}))
			}
		default:
			for i, f := range rec.Fields {
				if f.Value != fields[i] {
					t.Fatalf("line %d field %d: %q, encoding/csv has %q", line, i, f.Value, fields[i])
				}
			}
			checkCanonical(t, fields, rec.CSV)
		}
	}
	if seen != len(recs) {
		t.Fatalf("the reader has %d records, encoding/csv %d", len(recs), seen)
	}
}

// FuzzJSONL checks the JSONL reader on any input, and that every object it
// accepts has the keys and values encoding/json finds in the same line.
//
// opt bits: 0 small record limit, 1-2 encoding, 3 a mapping (with 4, the
// GA one), 4-7 the small limit (1 to 31 bytes).
func FuzzJSONL(f *testing.F) {
	addSeeds(f, []uint8{0, 0x01, 0x02, 0x08, 0x18}, ".jsonl")
	f.Fuzz(func(t *testing.T, data []byte, opt uint8) {
		opts := Options{Format: FormatJSONL, Encoding: fuzzEncoding(opt >> 1)}
		if opt&1 != 0 {
			opts.MaxRecordBytes = 1 + int(opt>>4)*2
		}
		if opt&8 != 0 {
			specs := []string{"name=n", "metadata=m", "metadata.plan=p", "external_id=metadata.x"}
			if opt&16 != 0 {
				// The GA columns, every form of --map, and a filter.
				specs = []string{"name={n} {m.x:local}|e", "metadata.plan=p.q", "account_status=s:a=active,*=blocked",
					"onboarded_at=d|unix", "name_hash=sha256({n})", "reference_id=i"}
				opts.Version = profile.VersionGA
				w, err := ParseWhere([]string{"w!=x"})
				if err != nil {
					t.Fatal(err)
				}
				opts.Where = w
			}
			m, err := ParseMapping(specs)
			if err != nil {
				t.Fatal(err)
			}
			opts.Mapping = m
		}
		r := openFuzz(t, data, opts)
		if r == nil {
			return
		}
		recs := checkRecords(t, r, bytes.Count(data, []byte{'\n'})+1)
		if opts.Encoding != "" && opts.Encoding != "utf-8" {
			return
		}
		lines := bytes.Split(bytes.TrimPrefix(data, []byte(bomUTF8)), []byte{'\n'})
		for _, rec := range recs {
			line := trimJSONSpace(lines[rec.Line-1])
			if len(line) == 0 {
				t.Fatalf("record on blank line %d", rec.Line)
			}
			if rec.Problem != nil {
				switch rec.Problem.Rule {
				case RuleInvalidJSON:
					if json.Valid(line) {
						t.Fatalf("line %d: valid JSON reported invalid", rec.Line)
					}
				case RuleNotAnObject:
					var v map[string]any
					if json.Unmarshal(line, &v) == nil && v != nil {
						t.Fatalf("line %d: an object reported as not one", rec.Line)
					}
				}
				if rec.Problem.Rule != RuleWrongType && rec.Problem.Rule != RuleMetadataConflict {
					continue
				}
			}
			compareJSON(t, rec, line)
		}
	})
}

// compareJSON checks a record's fields, in order and duplicates included,
// against encoding/json's tokens for the same line, wherever json's
// replacement of invalid UTF-8 does not get in the way.
func compareJSON(t *testing.T, rec Record, line []byte) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("line %d: accepted as an object, but encoding/json reads %v, %v", rec.Line, tok, err)
	}
	for i := 0; dec.More(); i++ {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("line %d: encoding/json: %v", rec.Line, err)
		}
		var value any
		if err := dec.Decode(&value); err != nil {
			t.Fatalf("line %d: encoding/json: %v", rec.Line, err)
		}
		if i >= len(rec.Fields) {
			t.Fatalf("line %d: %d fields, encoding/json has more", rec.Line, len(rec.Fields))
		}
		f := rec.Fields[i]
		if name := tok.(string); utf8.ValidString(f.Name) && name != f.Name {
			t.Fatalf("line %d field %d: name %q, encoding/json has %q", rec.Line, i, f.Name, name)
		}
		if s, isString := value.(string); isString {
			if utf8.ValidString(f.Value) && s != f.Value {
				t.Fatalf("line %d field %q: %q, encoding/json has %q", rec.Line, f.Name, f.Value, s)
			}
			continue
		}
		var got any
		if err := json.Unmarshal([]byte(f.Value), &got); err != nil {
			t.Fatalf("line %d field %q: %q is not JSON: %v", rec.Line, f.Name, f.Value, err)
		}
		if !reflect.DeepEqual(got, value) {
			t.Fatalf("line %d field %q: %q, encoding/json has %v", rec.Line, f.Name, f.Value, value)
		}
	}
}

// TestSplitterAgreesWithCSV runs the fuzz property on inputs that walk the
// corners of csv's quoting rules, under several record limits.
func TestSplitterAgreesWithCSV(t *testing.T) {
	inputs := []string{
		"a,b\n\"x\"\r\r\n1,2\n",
		"a,b\n\"x\"\rX,1\n1,2\n",
		"a,b\n\"x\"\r",
		"a,b\n\"x\"y\"z\n\"p\nq\",r\n",
		"a,b\nx,\"multi\r\nline\"\"\r\n\",z\r\n1,2",
		"a,b\n1,\"never closed\n2,3\n",
		"a,b\nx\"y,\"z\n1,2\n",
		"a,b\n\"\"\"\",\"\"\n",
		"a,b\n\r\n\n\r\r\n1,2\n",
		"\n\na,b\n,\n",
		"a;b\n\"1;2\";3\n",
		"a\tb\n\"1\t2\"\t3\n\"\t\"\n",
	}
	for i, in := range inputs {
		for _, max := range []int{0, 1, 2, 3, 4, 8, 12, 16, 32} {
			t.Run(fmt.Sprintf("%d/max=%d", i, max), func(t *testing.T) {
				r := openFuzz(t, []byte(in), Options{Format: FormatCSV, MaxRecordBytes: max})
				if r == nil {
					return
				}
				recs := checkRecords(t, r, strings.Count(in, "\n")+1)
				if r.resyncs != 0 {
					t.Fatalf("csv lost step with the splitter %d times", r.resyncs)
				}
				if r.header != nil {
					compareCSV(t, []byte(in), r, recs)
				}
			})
		}
	}
}

// FuzzMapping parses any --map and --where value and reads an input with
// them under GA: parsing fails only with a usage error, and reading and
// CheckMapping hold the properties of any input.
func FuzzMapping(f *testing.F) {
	for _, spec := range []string{
		"name={First name} {Last name}", "name={Name}|{email:local}", "name_hash=sha256({First name} {Last name})",
		"account_status=Status:ACTIVE=active,SUSPENDED=suspended,DEPROVISIONED=blocked", "onboarded_at=Created|2006-01-02",
		"onboarded_at=created|unix", "metadata.plan=app_metadata.plan", "country={c:upper}", "name={a{b}}", "metadata={a}",
	} {
		f.Add(spec, "Status!=DEPROVISIONED", []byte("First name,Last name,Status,Created\nAda,Lovelace,ACTIVE,2024-01-02\n"), false)
		f.Add(spec, "enabled=true", []byte(`{"app_metadata":{"plan":"pro"},"created":1680893993,"Status":"ACTIVE","enabled":true}`+"\n"), true)
	}
	f.Fuzz(func(t *testing.T, spec, where string, data []byte, jsonl bool) {
		m, err := ParseMapping([]string{spec})
		var ue *UsageError
		if err != nil {
			if !errors.As(err, &ue) || ue.Message == "" {
				t.Fatalf("ParseMapping(%q) failed with %T %v", spec, err, err)
			}
			return
		}
		w, err := ParseWhere([]string{where})
		if err != nil {
			if !errors.As(err, &ue) || ue.Message == "" {
				t.Fatalf("ParseWhere(%q) failed with %T %v", where, err, err)
			}
			return
		}
		opts := Options{Format: FormatCSV, Version: profile.VersionGA, Mapping: m, Where: w}
		if jsonl {
			opts.Format = FormatJSONL
		}
		r := openFuzz(t, data, opts)
		if r == nil {
			return
		}
		checkRecords(t, r, bytes.Count(data, []byte{'\n'})+1)
		if err := r.CheckMapping(); err != nil && (!errors.As(err, &ue) || ue.Message == "") {
			t.Fatalf("CheckMapping failed with %T %v", err, err)
		}
	})
}
