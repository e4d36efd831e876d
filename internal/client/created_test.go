package client

import (
	"encoding/json"
	"testing"
	"time"
)

var createdAnswers = []string{
	`{"id":"uprof_01","created_at":"2026-01-02T03:04:05.123456Z","external_id":"e","metadata":{"a":"b"},"n":-1.5e+3,"ok":true,"x":null,"l":[1,{"k":[]}]}`,
	` { "created_at" : "2026-01-02T03:04:05+02:00" , "id" : "uprof_02" } `,
	`{"id":"uprof_03","id":"uprof_04"}`,
	`{"id":"a\"b","created_at":"2026-01-02T03:04:05Z"}`,
	`{"ID":"uprof_05"}`,
	`{"id":null,"created_at":null}`,
	`{"id":"uprof_06","created_at":"yesterday"}`,
	`{"id":"uprof_07","name":"Zoë \u00e9 \n"}`,
	`{"id":"uprof_08","bad":"\q"}`,
	`{"id":"uprof_09","n":01}`,
	`{"id":"uprof_10"`,
	`{"id":"uprof_11"} x`,
	`{}`,
	`[]`,
	``,
}

// TestDecodeCreatedIsUnmarshal checks the scan against encoding/json on
// answers of every shape it must read or hand over.
func TestDecodeCreatedIsUnmarshal(t *testing.T) {
	scanned := 0
	for _, in := range createdAnswers {
		checkDecodeCreated(t, []byte(in))
		if _, ok := scanCreated([]byte(in)); ok {
			scanned++
		}
	}
	// The plain answers must take the fast path, or it is dead code.
	if scanned < 4 {
		t.Errorf("the scan read %d of the answers; want at least 4", scanned)
	}
	c, err := decodeCreated([]byte(createdAnswers[0]))
	if err != nil || c.ID != "uprof_01" || !c.CreatedAt.Equal(time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)) {
		t.Errorf("decodeCreated = %+v, %v", c, err)
	}
}

func checkDecodeCreated(t *testing.T, in []byte) {
	t.Helper()
	var want created
	werr := json.Unmarshal(in, &want)
	got, gerr := decodeCreated(in)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%q: decodeCreated error %v, encoding/json error %v", in, gerr, werr)
	}
	if werr == nil && (got.ID != want.ID || !got.CreatedAt.Equal(want.CreatedAt) || got.CreatedAt.IsZero() != want.CreatedAt.IsZero()) {
		t.Fatalf("%q: decodeCreated = %+v, encoding/json = %+v", in, got, want)
	}
}

func FuzzDecodeCreated(f *testing.F) {
	for _, in := range createdAnswers {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) { checkDecodeCreated(t, in) })
}
