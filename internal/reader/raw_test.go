package reader

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/provision/provision/internal/profile"
)

// NextRaw then Map, on other goroutines, gives what Next gives: for every
// CSV of testdata and the hostile records below, under each contract, with
// a mapping and a filter or without.
func TestNextRawThenMapIsNext(t *testing.T) {
	inputs := map[string]string{
		"hostile": "external_id,name,relationship,metadata,metadata.plan,country,email\n" +
			"u-1,Ada,external,\"{\"\"a\"\":\"\"1\"\"}\",pro,GB,ada@example.com\n" +
			"u-2,Ann\n" + // too few fields
			"u-3,Ann,resold,,,,,extra\n" + // too many
			"u-4,\"bad\"quote,,,,,\n" +
			"u-5,,bogus,\"{\"\"plan\"\":\"\"x\"\"}\",pro,UK,\n" +
			"u-6,\"two\nlines\",internal,,,,\n" +
			",,,,,,\n",
	}
	files, _ := filepath.Glob("testdata/*.csv")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs[filepath.Base(f)] = string(b)
	}
	mapping, err := ParseMapping([]string{"name={name} x", "metadata.k=relationship:external=e,*=o"})
	if err != nil {
		t.Fatal(err)
	}
	where, err := ParseWhere([]string{"relationship!=internal"})
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range inputs {
		for _, v := range []profile.Version{profile.DefaultVersion, profile.VersionGA} {
			for _, opts := range []Options{{Format: FormatCSV, Version: v}, {Format: FormatCSV, Version: v, Mapping: mapping, Where: where}} {
				_, want, wantErr := readAll(t, []byte(in), opts)
				r, err := Open(strings.NewReader(in), opts)
				if err != nil {
					if wantErr == nil && want != nil {
						t.Fatalf("%s: Open: %v", name, err)
					}
					continue
				}
				var got []*Record
				var gotErr error
				var wg sync.WaitGroup
				for {
					raw, err := r.NextRaw()
					if err == io.EOF {
						break
					}
					if err != nil {
						gotErr = err
						break
					}
					rec := Record{Line: raw.Line, CSV: raw.CSV, Problem: raw.Problem}
					if raw.Values != nil {
						for i, c := range r.Columns() {
							rec.Fields = append(rec.Fields, profile.Field{Name: c, Value: raw.Values[i]})
						}
					}
					got = append(got, &rec)
					if raw.Problem == nil {
						vals := append([]string(nil), raw.Values...)
						wg.Go(func() { rec.Request, rec.Problem = r.Map(vals, nil) })
					}
				}
				wg.Wait()
				if (gotErr == nil) != (wantErr == nil) {
					t.Fatalf("%s, %s: error %v, Next's %v", name, v, gotErr, wantErr)
				}
				var recs []Record
				for _, g := range got {
					recs = append(recs, *g)
				}
				for i := range want {
					want[i].Fields = want[i].Fields[:len(want[i].Fields):len(want[i].Fields)]
				}
				if len(recs) == 0 && len(want) == 0 {
					continue
				}
				if !reflect.DeepEqual(recs, want) {
					t.Errorf("%s, %s, %+v:\nNextRaw+Map %s\nNext        %s", name, v, opts, dump(recs), dump(want))
				}
			}
		}
	}
}

func TestNextRawRefusesJSONL(t *testing.T) {
	r, err := Open(strings.NewReader(`{"name":"a"}`+"\n"), Options{Format: FormatJSONL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.NextRaw(); err == nil || err == io.EOF {
		t.Fatalf("NextRaw of JSONL: %v, want an error", err)
	}
}
