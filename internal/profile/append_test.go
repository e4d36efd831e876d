package profile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// checkAppendBody fails unless AppendBody writes what json.Marshal writes
// for Body, under every contract and one that is none of them, appending
// after what dst already holds.
func checkAppendBody(t *testing.T, r Request) {
	t.Helper()
	for _, v := range append(Versions(), Version(9)) {
		want, err := json.Marshal(r.Body(v))
		if err != nil {
			t.Fatal(err)
		}
		got := r.AppendBody([]byte("prefix"), v)
		if !bytes.HasPrefix(got, []byte("prefix")) || !bytes.Equal(got[len("prefix"):], want) {
			t.Fatalf("%s, %+v:\n got %s\nwant %s", v, r, got, want)
		}
	}
}

// Every escape encoding/json makes, in every field, with every contract's
// translations, timestamps and metadata orders.
func TestAppendBodyIsMarshal(t *testing.T) {
	var every strings.Builder
	for b := range 0x80 {
		every.WriteByte(byte(b))
	}
	values := []string{
		"", "Ada Lovelace", "u-1", every.String(),
		`quote " backslash \ slash /`, "<script>&amp;</script>",
		"line\nfeed\rreturn\ttab\bbell\fform\x00nul\x1fus\x7fdel",
		"é日本語🙂", "\u2028\u2029 separators", "\u2027\u202a neighbours",
		"bad \xff utf-8 \xc3", "\xed\xa0\x80 surrogate", "trailing \xe6\x97",
		"\ufffd replacement itself",
	}
	times := []string{"2024-05-01T09:30:00Z", "2024-05-01T11:30:00.123456789+02:00",
		"2024-05-01T09:30:00.100-00:30", "not a time", "2024-05-01"}
	words := []string{"external", "resold", "internal", "application", "passthrough", "other"}
	metadata := []map[string]string{
		nil, {},
		{"plan": "pro"},
		{"z": "1", "a": "2", "m": "3", "B": "4", "_": "5", "é": "6", "aa": "7", "a\x00": "8"},
		{"<key>": `"v"`, "\u2028": "\xff", "": ""},
	}
	many := map[string]string{}
	for i := range 40 {
		many[fmt.Sprintf("k%02d", 39-i)] = fmt.Sprint(i)
	}
	metadata = append(metadata, many)

	checkAppendBody(t, Request{})
	for i, s := range values {
		p := Str(s)
		w := Str(words[i%len(words)])
		ts := Str(times[i%len(times)])
		md := metadata[i%len(metadata)]
		checkAppendBody(t, Request{ExternalID: p})
		checkAppendBody(t, Request{Name: p, Metadata: md})
		checkAppendBody(t, Request{Metadata: map[string]string{s: s}})
		checkAppendBody(t, Request{ExternalID: p, Name: p, Relationship: w, AccessType: w, Metadata: md,
			Country: p, EmailHash: p, NameHash: p, OnboardedAt: ts, AccountStatus: p, EntityType: p})
		checkAppendBody(t, Request{Relationship: w})
		checkAppendBody(t, Request{AccessType: w, OnboardedAt: ts})
		checkAppendBody(t, Request{Country: p})
		checkAppendBody(t, Request{EntityType: p, Metadata: md})
		checkAppendBody(t, Request{OnboardedAt: p})
	}
	for _, ts := range times {
		checkAppendBody(t, Request{OnboardedAt: Str(ts)})
	}
}

// The comparison must be able to fail: a body that differs is caught.
func TestAppendBodyDiffersFromAnotherRequest(t *testing.T) {
	a := Request{Name: Str("<a>")}
	want, _ := json.Marshal(Request{Name: Str("<b>")}.Body(DefaultVersion))
	if bytes.Equal(a.AppendBody(nil, DefaultVersion), want) {
		t.Fatal("two different names render alike")
	}
}

func FuzzAppendBody(f *testing.F) {
	f.Add("u-1", "Ada", "external", "plan", "pro", "2024-05-01T09:30:00Z", uint16(0xffff))
	f.Add("<&>", "\u2028\xff", "resold", "", "\x00", "2024-05-01T11:30:00.5+02:00", uint16(0x0f0f))
	f.Add("", "é", "passthrough", "é", "\"\\", "x", uint16(0x1234))
	f.Fuzz(func(t *testing.T, id, name, access, key, value, ts string, present uint16) {
		pick := func(bit int, s string) *string {
			if present&(1<<bit) == 0 {
				return nil
			}
			return Str(s)
		}
		r := Request{ExternalID: pick(0, id), Name: pick(1, name), Relationship: pick(2, access), AccessType: pick(3, access),
			Country: pick(4, name), EmailHash: pick(5, id), NameHash: pick(6, key), OnboardedAt: pick(7, ts),
			AccountStatus: pick(8, value), EntityType: pick(9, access)}
		if present&(1<<10) != 0 {
			r.Metadata = map[string]string{key: value, value: key, id: name}
		}
		checkAppendBody(t, r)
	})
}

func BenchmarkAppendBody(b *testing.B) {
	r := Request{ExternalID: Str("u-123456"), Name: Str("Frances Perlman"), Relationship: Str("external"),
		Metadata: map[string]string{"plan": "enterprise", "region": "latam"}}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = r.AppendBody(buf[:0], DefaultVersion)
	}
}
