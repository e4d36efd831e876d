package reader

import (
	"io"
	"maps"
	"strings"
	"testing"
)

// A record filled into a recycled map has its own keys and no other, and
// no map when it sets none, whatever the map held before.
func TestRecycledMapsHoldOnlyTheirRecordsKeys(t *testing.T) {
	in := "external_id,metadata.a,metadata.b\n" +
		"u-1,1,2\n" +
		"u-2,,3\n" +
		"u-3,,\n" +
		"u-4,4,\n" +
		"u-5,5,6\n"
	want := []map[string]string{
		{"a": "1", "b": "2"},
		{"b": "3"},
		nil,
		{"a": "4"},
		{"a": "5", "b": "6"},
	}
	for _, foreign := range []map[string]string{nil, {"x": "stale", "a": "stale"}, {"b": "stale"}} {
		Recycle(foreign)
		r, err := Open(strings.NewReader(in), Options{Format: FormatCSV})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; ; i++ {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil || rec.Problem != nil {
				t.Fatal(err, rec.Problem)
			}
			if got := rec.Request.Metadata; !maps.Equal(got, want[i]) || (got == nil) != (want[i] == nil) {
				t.Fatalf("after recycling %v, record %d: metadata %v, want %v", foreign, i+1, got, want[i])
			}
			Recycle(rec.Request.Metadata)
			Recycle(map[string]string{"a": "stale", "b": "stale", "z": "stale"})
		}
	}
}

// settle keeps exactly the keys set, also when one is set twice.
func TestSettle(t *testing.T) {
	md := map[string]string{"a": "new", "b": "stale", "c": "stale"}
	if got := settle(md, []string{"a", "a"}); !maps.Equal(got, map[string]string{"a": "new"}) {
		t.Errorf("got %v", got)
	}
	if got := settle(map[string]string{"a": "stale"}, nil); got != nil {
		t.Errorf("no key set: got %v, want nil", got)
	}
}
