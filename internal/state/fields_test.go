package state

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/provision/provision/internal/profile"
)

func TestFieldsRoundTrip(t *testing.T) {
	cases := [][]profile.Field{
		nil,
		{{Name: "", Value: ""}},
		{{Name: "external_id", Value: "u1"}, {Name: "name", Value: "Zoë \"Q\", O'Brien\r\nline two"}, {Name: "plan", Value: ""}},
		{{Name: "nul\x00name", Value: "\x00\x01\xff"}, {Name: "long", Value: strings.Repeat("é", 70_000)}},
	}
	var dec fieldDecoder
	for _, want := range cases {
		got, err := dec.decode(encodeFields(nil, want, nil))
		if err != nil || len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
			t.Errorf("round trip of %q: got %q, %v", want, got, err)
		}
	}
}

// State files written before the binary encoding hold JSON arrays.
func TestFieldsReadsJSON(t *testing.T) {
	want := []profile.Field{{Name: "external_id", Value: "u1"}, {Name: "name", Value: "Ada"}}
	b, _ := json.Marshal(want)
	var dec fieldDecoder
	if got, err := dec.decode(b); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("legacy JSON: got %q, %v", got, err)
	}
}

func TestFieldsCorrupt(t *testing.T) {
	good := encodeFields(nil, []profile.Field{{Name: "name", Value: "Ada Lovelace"}}, nil)
	var dec fieldDecoder
	for i := 2; i < len(good); i++ {
		if _, err := dec.decode(good[:i]); err == nil {
			t.Errorf("truncated to %d of %d bytes: no error", i, len(good))
		}
	}
	if _, err := dec.decode([]byte{fieldsVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}); err == nil {
		t.Error("an overflowing length: no error")
	}
}
