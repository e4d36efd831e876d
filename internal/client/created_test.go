package client

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/provision/provision/internal/profile"
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

var pageAnswers = []string{
	`{"data":[{"id":"uprof_1","created_at":"2026-01-02T03:04:06Z","external_id":"a","name":"A","relationship":"external","metadata":{"created_at":"x"}},` +
		`{"id":"uprof_2","created_at":"2026-01-02T03:04:05Z","external_user_details":{"reference_id":"b","country":null},"access_type":"application"}],"next_page":"cur_2"}`,
	`{"next_page":null,"data":[]}`,
	`{"data":[{"id":"uprof_3"}],"next_page":"c"}`,
	`{"data":[{"id":"uprof_4","created_at":"2026-01-02T03:04:05\u005a"}],"next_page":"c\/d"}`,
	`{"data":[{"id":"uprof_5","Created_At":"2026-01-02T03:04:05Z"}],"Next_Page":"c"}`,
	`{"data":[{"id":5}],"next_page":null}`,
	`{"data":[{"id":"uprof_6","created_at":"2026-01-02T03:04:05Z","CREATED_AT":"2026-01-02T03:04:07Z"}],"next_page":"c"}`,
	`{"data":[{"id":"uprof_8","created_at":"2026-01-02T03:04:05Z","external_user_details":{"reference_id":"r8","country":"FR"}},` +
		`{"id":"uprof_9","created_at":"2026-01-02T03:04:05Z","external_id":null,"external_user_details":{"reference_id":"r9"}},` +
		`{"id":"uprof_10","created_at":"2026-01-02T03:04:05Z","external_id":"e10","external_user_details":{"reference_id":"r10"}},` +
		`{"id":"uprof_11","created_at":"2026-01-02T03:04:05Z","external_user_details":{"reference_id":"r11"},"external_user_details":{"country":"FR"}},` +
		`{"id":"uprof_12","created_at":"2026-01-02T03:04:05Z","External_User_Details":{"reference_id":"r12"}},` +
		`{"id":"uprof_13","created_at":"2026-01-02T03:04:05Z","external_id":"e13","external_id":null}],"next_page":null}`,
	`{"data":[{"id":"uprof_7","created_at":"2026-01-02T03:04:05Z","created\u005fat":"2026-01-02T03:04:07Z"}],"next_page":"c"}`,
	`{"data":null,"next_page":null}`,
	`{"data":[1],"next_page":null}`,
	`{"data":[{"id":"x"}],"next_page":null,}`,
	`{"data":[{"id":"x"}]`,
	`{"data":[{"id":"x","metadata":{"next_page":"y"}}],"next_page":"z"}`,
	`{"next_page":"a","data":[{"id":"x","metadata":{"k":"v","next_page":"y"}}]}`,
	`{"data":[],"x":"\"next_page\":null}"}`,
	`{"data":[], "next_page" : "c" } `,
	`{}`,
}

// TestScanPageIsUnmarshal checks a scanned page, once decoded, against
// encoding/json's reading of the whole answer, and its Oldest before
// Decode against the last profile's created_at after it.
func TestScanPageIsUnmarshal(t *testing.T) {
	scanned := 0
	for _, in := range pageAnswers {
		checkScanPage(t, []byte(in))
		if _, ok := scanPage([]byte(in)); ok {
			scanned++
		}
	}
	if scanned < 4 {
		t.Errorf("the scan read %d of the pages; want at least 4", scanned)
	}
	peeked := 0
	for _, in := range pageAnswers {
		if _, _, ok := peekPage([]byte(in)); ok {
			peeked++
		}
	}
	if peeked < 4 {
		t.Errorf("peekPage read %d of the pages; want at least 4", peeked)
	}
	if next, hint, ok := peekPage([]byte(pageAnswers[0])); !ok || next == nil || *next != "cur_2" || string(hint) != "2026-01-02T03:04:05Z" {
		t.Errorf("peekPage = %v %q %v; want cur_2 and the last profile's time", next, hint, ok)
	}
	p, ok := scanPage([]byte(pageAnswers[0]))
	at, known := p.Oldest()
	if !ok || !known || !at.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) || p.Data != nil {
		t.Errorf("scanPage = %+v %v, Oldest %v %v: want the second profile's time, Data left for Decode", p, ok, at, known)
	}
}

func checkScanPage(t *testing.T, in []byte) {
	t.Helper()
	var want Page
	werr := json.Unmarshal(in, &want)
	if next, hint, ok := peekPage(in); ok && werr == nil {
		// What ListNewest hands over when the end of the answer is read.
		peeked := Page{NextPage: next, body: in, hint: hint}
		if (next == nil) != (want.NextPage == nil) || next != nil && *next != *want.NextPage {
			t.Fatalf("%q: peekPage read next_page %v, encoding/json %v", in, next, want.NextPage)
		}
		if err := peeked.Decode(nil); err != nil || !reflect.DeepEqual(peeked.Data, want.Data) {
			t.Fatalf("%q: a peeked page decodes to %+v, %v; encoding/json %+v", in, peeked.Data, err, want.Data)
		}
	}
	got, ok := scanPage(in)
	if !ok {
		return
	}
	briefed := got // the same scan, decoded with every profile it can take brief
	before, knownBefore := got.Oldest()
	gerr := got.Decode(nil)
	if werr != nil {
		if gerr == nil {
			t.Fatalf("%q: scanned and decoded, but encoding/json says %v", in, werr)
		}
		return
	}
	if gerr != nil {
		t.Fatalf("%q: Decode: %v; encoding/json read it", in, gerr)
	}
	if !reflect.DeepEqual(got.Data, want.Data) || (got.NextPage == nil) != (want.NextPage == nil) ||
		got.NextPage != nil && *got.NextPage != *want.NextPage {
		t.Fatalf("%q: scanned %+v (next %v), encoding/json %+v (next %v)", in, got.Data, got.NextPage, want.Data, want.NextPage)
	}
	after, knownAfter := got.Oldest()
	if knownBefore && (!knownAfter || !before.Equal(after)) {
		t.Fatalf("%q: Oldest before Decode %v, after %v %v", in, before, after, knownAfter)
	}
	if err := briefed.Decode(func(profile.Profile) bool { return true }); err != nil {
		t.Fatalf("%q: Decode with every profile brief: %v", in, err)
	}
	for i, b := range briefed.Data {
		w := want.Data[i]
		if b.ID != w.ID || !b.CreatedAt.Equal(w.CreatedAt) || b.CreatedAt.IsZero() != w.CreatedAt.IsZero() ||
			(b.ExternalID == nil) != (w.ExternalID == nil) || b.ExternalID != nil && *b.ExternalID != *w.ExternalID {
			t.Fatalf("%q: profile %d brief %+v, encoding/json %+v", in, i, b, w)
		}
	}
}

func FuzzScanPage(f *testing.F) {
	for _, in := range pageAnswers {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) { checkScanPage(t, in) })
}
