package profile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
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
		checkAppendValidBody(t, r, v)
	}
}

// checkAppendValidBody fails unless AppendValidBody finds the problem
// ValidateAt finds and, for a valid request, appends what AppendBody does;
// and so do AppendValidBodyDoubled, with the quotes doubled, and the Sorted
// forms of both, given the metadata as sorted pairs.
func checkAppendValidBody(t *testing.T, r Request, v Version) {
	t.Helper()
	now := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	got, p := r.AppendValidBody([]byte("prefix"), v, now)
	want := ValidateAt(r, v, now)
	if (p == nil) != (want == nil) || p != nil && *p != *want {
		t.Fatalf("%s, %+v: problem %+v, ValidateAt's %+v", v, r, p, want)
	}
	body := []byte("prefix")
	if p == nil {
		body = r.AppendBody(body, v)
	}
	if !bytes.Equal(got, body) {
		t.Fatalf("%s, %+v:\n got %s\nwant %s", v, r, got, body)
	}
	// Doubled: every quote of the same bytes twice, and nothing else.
	got, p = r.AppendValidBodyDoubled([]byte(`pre"fix`), v, now)
	if (p == nil) != (want == nil) || p != nil && *p != *want {
		t.Fatalf("%s, %+v: problem %+v, ValidateAt's %+v", v, r, p, want)
	}
	doubled := append([]byte(`pre"fix`), bytes.ReplaceAll(body[len("prefix"):], []byte(`"`), []byte(`""`))...)
	if !bytes.Equal(got, doubled) {
		t.Fatalf("%s, %+v, doubled:\n got %s\nwant %s", v, r, got, doubled)
	}
	// Sorted: the metadata as sorted pairs, r.Metadata ignored.
	var md []Field
	for _, k := range slices.Sorted(maps.Keys(r.Metadata)) {
		md = append(md, Field{Name: k, Value: r.Metadata[k]})
	}
	rs := r
	rs.Metadata = map[string]string{"ignored": "x"}
	got, p = rs.AppendValidBodySorted([]byte("prefix"), md, v, now)
	if (p == nil) != (want == nil) || p != nil && *p != *want {
		t.Fatalf("%s, %+v, sorted: problem %+v, ValidateAt's %+v", v, r, p, want)
	}
	if !bytes.Equal(got, body) {
		t.Fatalf("%s, %+v, sorted:\n got %s\nwant %s", v, r, got, body)
	}
	got, p = rs.AppendValidBodyDoubledSorted([]byte(`pre"fix`), md, v, now)
	if (p == nil) != (want == nil) || p != nil && *p != *want {
		t.Fatalf("%s, %+v, sorted, doubled: problem %+v, ValidateAt's %+v", v, r, p, want)
	}
	if !bytes.Equal(got, doubled) {
		t.Fatalf("%s, %+v, sorted, doubled:\n got %s\nwant %s", v, r, got, doubled)
	}
}

// AppendValidBody finds every problem ValidateAt finds, in the same order,
// worded alike: at the limits of each length, counted in characters, and
// in metadata whose keys are checked in order.
func TestAppendValidBodyIsValidateAt(t *testing.T) {
	rep := strings.Repeat
	strs := []string{"", "x", rep("x", MaxName), rep("x", MaxName+1), rep("é", MaxName), rep("é", MaxName+1),
		"\xff", rep("é", 200) + "\xff", "=1", "internal", "resold", "application", "GB", "UK",
		"2024-05-01T09:30:00Z", "2099-05-01T09:30:00Z", "not a time", "active", "business"}
	metadata := []map[string]string{
		nil, {}, {"plan": "pro"}, {"plan": ""}, {"": "x"}, {"\xff": "x"}, {"a": "\xff"},
		{rep("k", MaxMetadataKey): "v"}, {rep("k", MaxMetadataKey+1): "v"}, {rep("é", MaxMetadataKey+1): "v"},
		{"b": rep("v", MaxMetadataValue+1), "a": ""}, {"a": rep("é", MaxMetadataValue)}, {"z": "1", "y": rep("é", MaxMetadataValue+1)},
	}
	many := map[string]string{}
	for i := range MaxMetadataKeys + 1 {
		many[fmt.Sprint("k", i)] = "v"
	}
	metadata = append(metadata, many)
	for i, s := range strs {
		p := Str(s)
		md := metadata[i%len(metadata)]
		w := Str(strs[(i+9)%len(strs)])
		for _, v := range Versions() {
			checkAppendValidBody(t, Request{ExternalID: p, Metadata: md}, v)
			checkAppendValidBody(t, Request{Name: p, Relationship: w, Metadata: metadata[(i+3)%len(metadata)]}, v)
			checkAppendValidBody(t, Request{Relationship: p, AccessType: w}, v)
			checkAppendValidBody(t, Request{Country: p, EmailHash: p, NameHash: w, OnboardedAt: p, AccountStatus: w, EntityType: p}, v)
			checkAppendValidBody(t, Request{AccountStatus: p}, v)
			checkAppendValidBody(t, Request{EntityType: p, OnboardedAt: w}, v)
			checkAppendValidBody(t, Request{NameHash: p, EmailHash: w}, v)
		}
	}
	for _, md := range metadata {
		for _, v := range Versions() {
			checkAppendValidBody(t, Request{ExternalID: Str("u-1"), Metadata: md}, v)
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

// A request marked as holding valid UTF-8 is judged and rendered as it is
// unmarked, every rule but that one still checked.
func TestWithValidUTF8ChangesNothingForValidText(t *testing.T) {
	long := strings.Repeat("é", MaxName+1)
	s := func(v string) *string { return &v }
	now := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, r := range []Request{
		{ExternalID: s("u-1"), Name: s("Zoë <Ø>"), Metadata: map[string]string{"plan": "pro", "ключ": "значение"}},
		{Name: s(long)},
		{ExternalID: s("")},
		{Metadata: map[string]string{"k": strings.Repeat("ü", MaxMetadataValue+1)}},
		{Name: s("Ann"), Relationship: s("bogus")},
		{Name: s("Ann"), Country: s("UK"), NameHash: s("")},
	} {
		for _, v := range []Version{DefaultVersion, VersionGA} {
			b1, p1 := r.AppendValidBodyDoubled(nil, v, now)
			b2, p2 := r.WithValidUTF8().AppendValidBodyDoubled(nil, v, now)
			if string(b1) != string(b2) || (p1 == nil) != (p2 == nil) || p1 != nil && *p1 != *p2 {
				t.Errorf("%s, %+v: marked %s %v, unmarked %s %v", v, r, b2, p2, b1, p1)
			}
		}
	}
}

// plainString is true exactly when every byte is one encoding/json writes
// as it is: for every length up to three words, with each kind of byte at
// every offset.
func TestPlainString(t *testing.T) {
	for n := range 25 {
		for at := range max(n, 1) {
			for _, c := range []byte{'a', ' ', '~', 0x7f, '"', '\\', '<', '>', '&', 0, 0x1f, 0x80, 0xa0, 0xff} {
				b := bytes.Repeat([]byte("x"), n)
				if n > 0 {
					b[at] = c
				}
				want := true
				for _, c := range b {
					want = want && jsonSafe[c]
				}
				if got := plainString(string(b)); got != want {
					t.Errorf("plainString(%q) = %v, want %v", b, got, want)
				}
			}
		}
	}
}
