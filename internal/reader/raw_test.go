package reader

import (
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
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

// NextRawIn keeps the records' text in the arena it is given: read in
// batches, each in an arena written over once the batch is done with, the
// records are Next's (the filtered ones leave nothing in the arena), and a
// record splitFields splits costs no allocation.
func TestNextRawInKeepsTheTextInTheArena(t *testing.T) {
	in := "external_id,name,relationship,notes\n" +
		"u-1,Ada,external,plain\n" +
		"u-2,\"Ann \"\"the\"\" first\",resold,\"a, b\"\n" + // doubled quotes
		"u-3,Bob,internal,dropped by the filter\n" +
		"u-4,\"two\nlines\",external,\n" +
		"u-5,Cy\r,external,a CR: csv splits it\n" +
		"u-6,Dee\n" + // too few fields
		"u-7,Eve,external,\"x\"y\n" + // a quote out of place
		"u-8,Fay,external,last\n"
	// Past the read buffer, which is then read into again, and with
	// quotes doubled, which are taken out in a scratch buffer.
	var more strings.Builder
	for k := range 3000 {
		fmt.Fprintf(&more, "v-%d,\"N \"\"%d\"\"\",external,note %d\n", k, k, k)
	}
	in += more.String()
	where, err := ParseWhere([]string{"relationship!=internal"})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Format: FormatCSV, Where: where}
	_, want, err := readAll(t, []byte(in), opts)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(strings.NewReader(in), opts)
	if err != nil {
		t.Fatal(err)
	}
	const batch = 2
	arenas := [2][]byte{}
	var got []Raw // the current batch, values copied as slices only
	i := 0
	check := func() {
		for k, raw := range got {
			w := want[i-len(got)+k]
			var vals []string
			for _, f := range w.Fields {
				vals = append(vals, f.Value)
			}
			if raw.Line != w.Line || raw.CSV != w.CSV || !reflect.DeepEqual(raw.Values, vals) {
				t.Errorf("record %d: line %d, values %q, CSV %q; Next's line %d, values %q, CSV %q",
					i-len(got)+k, raw.Line, raw.Values, raw.CSV, w.Line, vals, w.CSV)
			}
		}
		got = got[:0]
	}
	for {
		a := &arenas[i/batch%2]
		if i%batch == 0 {
			check()
			for j := range *a {
				(*a)[j] = '#' // what a later batch would write over it
			}
			*a = (*a)[:0]
		}
		raw, err := r.NextRawIn(a)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		raw.Values = slices.Clone(raw.Values) // the slice is reused; the strings are the arena's
		got = append(got, raw)
		i++
	}
	check()
	if i != len(want) {
		t.Fatalf("%d records, Next gives %d", i, len(want))
	}

	// The text of records the filter drops does not stay in the arena.
	var many strings.Builder
	many.WriteString("external_id,relationship\n")
	for k := range 1000 {
		fmt.Fprintf(&many, "u-%d,internal\n", k)
	}
	many.WriteString("u-last,external\n")
	r, err = Open(strings.NewReader(many.String()), opts)
	if err != nil {
		t.Fatal(err)
	}
	var arena []byte
	if _, err := r.NextRawIn(&arena); err != nil {
		t.Fatal(err)
	}
	if string(arena) != "u-last,external" {
		t.Errorf("the arena holds %d bytes (%.40q), want only the record kept", len(arena), arena)
	}

	// A common record costs no allocation.
	var lines strings.Builder
	lines.WriteString("external_id,name,notes\n")
	for k := range 200 {
		fmt.Fprintf(&lines, "u-%d,\"Name \"\"%d\"\"\",a note\n", k, k)
	}
	r, err = Open(strings.NewReader(lines.String()), Options{Format: FormatCSV})
	if err != nil {
		t.Fatal(err)
	}
	arena = make([]byte, 0, 64<<10)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := r.NextRawIn(&arena); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("NextRawIn allocates %v times a record, want 0", n)
	}
}

// MapSorted gives what Map gives, its metadata as pairs sorted by key, when
// SortsMetadata says it can: each key from one column of its own.
func TestMapSortedIsMap(t *testing.T) {
	for _, c := range []struct {
		name   string
		header string
		maps   []string
		sorts  bool
	}{
		{"columns out of order", "external_id,metadata.z,name,metadata.b,metadata.a,metadata.B", nil, true},
		{"no metadata", "external_id,name", nil, true},
		{"a JSON column", "external_id,metadata,metadata.a", nil, false},
		{"a computed key", "external_id,name,metadata.a", []string{"metadata.k=name:x=y,*=z"}, false},
		{"a key mapped from a column", "external_id,name,other,metadata.a", []string{"metadata.b=other"}, true},
		{"a key mapped over its own column", "external_id,name,other,metadata.a", []string{"metadata.a=other"}, true},
	} {
		mapping, err := ParseMapping(c.maps)
		if err != nil {
			t.Fatal(err)
		}
		var in strings.Builder
		in.WriteString(c.header + "\n")
		cols := strings.Count(c.header, ",") + 1
		for i := range 1 << cols {
			for k := range cols {
				if k > 0 {
					in.WriteByte(',')
				}
				if i&(1<<k) != 0 {
					fmt.Fprintf(&in, "v%d", k)
				}
			}
			in.WriteByte('\n')
		}
		r, err := Open(strings.NewReader(in.String()), Options{Format: FormatCSV, Mapping: mapping})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if r.SortsMetadata() != c.sorts {
			t.Fatalf("%s: SortsMetadata %v, want %v", c.name, r.SortsMetadata(), c.sorts)
		}
		if !c.sorts {
			continue
		}
		md := []profile.Field{{Name: "before", Value: "x"}}
		for {
			raw, err := r.NextRaw()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			want, wantP := r.Map(raw.Values, nil)
			got, out, p := r.MapSorted(raw.Values, nil, md[:1])
			var pairs []profile.Field
			for _, k := range slices.Sorted(maps.Keys(want.Metadata)) {
				pairs = append(pairs, profile.Field{Name: k, Value: want.Metadata[k]})
			}
			want.Metadata = nil
			if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(p, wantP) || out[0] != md[0] || !reflect.DeepEqual(out[1:], pairs) && len(pairs)+len(out[1:]) > 0 {
				t.Errorf("%s, line %d: MapSorted %+v %q %v, Map %+v %q %v", c.name, raw.Line, got, out[1:], p, want, pairs, wantP)
			}
		}
	}
	r, err := Open(strings.NewReader(`{"external_id":"j"}`+"\n"), Options{Format: FormatJSONL})
	if err != nil {
		t.Fatal(err)
	}
	if r.SortsMetadata() {
		t.Error("SortsMetadata of JSONL, want false")
	}
}

// sortedMetaKeys sorts the key columns by key, and declines when two set
// one key, when a JSON column sets metadata or when a --map computes a key.
func TestSortedMetaKeys(t *testing.T) {
	cols := []metaColumn{{col: 4, key: "z"}, {col: 1, key: "b"}, {col: 7, key: "B"}, {col: 2, key: "ba"}}
	got := sortedMetaKeys(plan{metadata: -1, metaKeys: cols}, nil)
	want := []metaColumn{{col: 7, key: "B"}, {col: 1, key: "b"}, {col: 2, key: "ba"}, {col: 4, key: "z"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sorted %v, want %v", got, want)
	}
	if got := sortedMetaKeys(plan{metadata: -1}, nil); got == nil || len(got) != 0 {
		t.Errorf("no key columns: %#v, want an empty slice", got)
	}
	for name, pl := range map[string]plan{
		"two columns of one key": {metadata: -1, metaKeys: append(slices.Clone(cols), metaColumn{col: 9, key: "b"})},
		"a JSON column":          {metadata: 3, metaKeys: cols},
	} {
		if got := sortedMetaKeys(pl, nil); got != nil {
			t.Errorf("%s: %v, want nil", name, got)
		}
	}
	if got := sortedMetaKeys(plan{metadata: -1, metaKeys: cols}, []mapped{{field: field{kind: kindMetadataKey, key: "k"}}}); got != nil {
		t.Errorf("a computed key: %v, want nil", got)
	}
}

// A plan whose columns feed their fields directly maps every record as
// parts do, and only such a plan is direct.
func TestDirectColumnsAreParts(t *testing.T) {
	// Under the seed's contract, only its own fields' columns are read.
	seed, ga := profile.DefaultVersion, profile.VersionGA
	for _, c := range []struct {
		header string
		maps   []string
		v      profile.Version
		direct bool
	}{
		{"external_id,name,relationship,access_type,country,email_hash,name_hash,onboarded_at,account_status,entity_type,metadata.a", nil, ga, true},
		{"external_id,name,relationship,access_type,country,email_hash,name_hash,onboarded_at,account_status,entity_type,metadata.a", nil, seed, true},
		{"name,external_user_details.country,external_id", nil, ga, true},
		{"external_id,reference_id,name", nil, ga, false},
		{"reference_id,name", nil, ga, false},
		{"external_id,email,name", nil, ga, false},
		{"external_id,email,name", nil, seed, true},
		{"external_id,name,other", []string{"name={other} x"}, seed, false},
		{"external_id,other,name", []string{"name=other"}, seed, true},
		{"external_id,other,name", []string{"email=other"}, ga, false},
		{"external_id,country,external_user_details.country", nil, ga, false},
	} {
		mapping, err := ParseMapping(c.maps)
		if err != nil {
			t.Fatal(err)
		}
		cols := strings.Count(c.header, ",") + 1
		var in strings.Builder
		in.WriteString(c.header + "\n")
		values := []string{"", "v", "external", "application", "GB", " ", "a@b.c"}
		for i := range 4 * len(values) {
			for k := range cols {
				if k > 0 {
					in.WriteByte(',')
				}
				in.WriteString(values[(i+k*(i/len(values)+1))%len(values)])
			}
			in.WriteByte('\n')
		}
		v := c.v
		r, err := Open(strings.NewReader(in.String()), Options{Format: FormatCSV, Mapping: mapping, Version: v})
		if err != nil {
			t.Fatalf("%s: %v", c.header, err)
		}
		if r.plan.direct != c.direct {
			t.Fatalf("%s: direct %v, want %v", c.header, r.plan.direct, c.direct)
		}
		for {
			raw, err := r.NextRaw()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got, gotP := r.Map(raw.Values, nil)
			r.plan.direct = false
			want, wantP := r.Map(raw.Values, nil)
			r.plan.direct = c.direct
			if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gotP, wantP) {
				t.Errorf("%s, %s, line %d: %+v %v, parts give %+v %v", c.header, v, raw.Line, got, gotP, want, wantP)
			}
		}
	}
}
