package profile

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestValidateRules(t *testing.T) {
	s := Str
	meta := func(n int) map[string]string {
		m := map[string]string{}
		for i := range n {
			m[fmt.Sprintf("k%d", i)] = "v"
		}
		return m
	}
	for _, tc := range []struct {
		name  string
		req   Request
		rule  string
		field string
	}{
		{"empty request is valid", Request{}, "", ""},
		{"255 code points of é", Request{Name: s(strings.Repeat("é", 255))}, "", ""},
		{"256 code points", Request{Name: s(strings.Repeat("é", 256))}, RuleNameTooLong, "name"},
		{"empty name", Request{Name: s("")}, RuleNameEmpty, "name"},
		{"external_id too long", Request{ExternalID: s(strings.Repeat("x", 256))}, RuleExternalIDTooLong, "external_id"},
		{"empty external_id", Request{ExternalID: s("")}, RuleExternalIDEmpty, "external_id"},
		{"resold without a name", Request{Relationship: s("resold")}, RuleNameRequiredForResold, "name"},
		{"resold with a name", Request{Relationship: s("resold"), Name: s("Acme")}, "", ""},
		{"internal", Request{Relationship: s("internal")}, "", ""},
		{"unknown relationship", Request{Relationship: s("partner")}, RuleRelationshipInvalid, "relationship"},
		{"relationship is case-sensitive", Request{Relationship: s("External")}, RuleRelationshipInvalid, "relationship"},
		{"16 keys", Request{Metadata: meta(16)}, "", ""},
		{"17 keys", Request{Metadata: meta(17)}, RuleMetadataTooManyKeys, "metadata"},
		{"empty key", Request{Metadata: map[string]string{"": "v"}}, RuleMetadataKeyEmpty, "metadata"},
		{"64-char key", Request{Metadata: map[string]string{strings.Repeat("k", 64): "v"}}, "", ""},
		{"65-char key", Request{Metadata: map[string]string{strings.Repeat("k", 65): "v"}}, RuleMetadataKeyTooLong, "metadata." + strings.Repeat("k", 65)},
		{"empty value", Request{Metadata: map[string]string{"plan": ""}}, RuleMetadataValueEmpty, "metadata.plan"},
		{"512-char value", Request{Metadata: map[string]string{"plan": strings.Repeat("v", 512)}}, "", ""},
		{"513-char value", Request{Metadata: map[string]string{"plan": strings.Repeat("v", 513)}}, RuleMetadataValueTooLong, "metadata.plan"},
		{"invalid UTF-8 name", Request{Name: s("a\xffb")}, RuleInvalidUTF8, "name"},
		{"invalid UTF-8 value", Request{Metadata: map[string]string{"k": "\xc3"}}, RuleInvalidUTF8, "metadata.k"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Validate(tc.req)
			if tc.rule == "" {
				if p != nil {
					t.Fatalf("want valid, got %v", p)
				}
				return
			}
			if p == nil || p.Rule != tc.rule || p.Field != tc.field {
				t.Fatalf("got %+v, want rule %s field %s", p, tc.rule, tc.field)
			}
			if msg := p.At(42); !strings.HasPrefix(msg, "line 42: "+tc.field+": ") {
				t.Errorf("message %q does not name the line and field", msg)
			}
		})
	}
}

func TestIdentityAndMatching(t *testing.T) {
	a := Request{ExternalID: Str("u1"), Name: Str("Ada")}
	if a.Identity() != "external_id:u1" {
		t.Fatal(a.Identity())
	}
	b := Request{Name: Str("Ada"), Metadata: map[string]string{"x": "1", "y": "2"}}
	c := Request{Name: Str("Ada"), Relationship: Str("external"), Metadata: map[string]string{"y": "2", "x": "1"}}
	if b.Identity() != c.Identity() || !strings.HasPrefix(b.Identity(), "content:") {
		t.Fatalf("an omitted relationship must equal the default: %s vs %s", b.Identity(), c.Identity())
	}
	p := Profile{ID: "uprof_1", ExternalID: Str("u1"), Name: Str("Ada"), Relationship: "external", Metadata: map[string]string{}}
	if !a.Matches(p) {
		t.Fatal("a should match p")
	}
	for _, other := range []Request{
		{ExternalID: Str("u1"), Name: Str("Ada L")},
		{ExternalID: Str("u1"), Name: Str("Ada"), Relationship: Str("internal")},
		{ExternalID: Str("u1"), Name: Str("Ada"), Metadata: map[string]string{"k": "v"}},
		{Name: Str("Ada")},
	} {
		if other.Matches(p) {
			t.Errorf("%+v must not match", other)
		}
	}
	if p.Request().Identity() != a.Identity() || p.Request().ContentHash() != a.ContentHash() {
		t.Fatal("a profile's request must hash like the request that made it")
	}
}

func TestRequestJSONOmitsAbsentFields(t *testing.T) {
	b, _ := json.Marshal(Request{Name: Str("x")})
	if string(b) != `{"name":"x"}` {
		t.Fatal(string(b))
	}
}

// FuzzValidate: the validator never panics, and a valid request's strings
// are valid UTF-8 within their limits.
func FuzzValidate(f *testing.F) {
	f.Add("u1", "Ada", "external", "plan", "pro")
	f.Add("", "", "resold", "", "")
	f.Add(strings.Repeat("x", 256), "\xff", "partner", strings.Repeat("k", 65), "")
	f.Fuzz(func(t *testing.T, ext, name, rel, key, value string) {
		r := Request{Metadata: map[string]string{key: value}}
		if ext != "" {
			r.ExternalID = &ext
		}
		if name != "" {
			r.Name = &name
		}
		if rel != "" {
			r.Relationship = &rel
		}
		if Validate(r) != nil {
			return
		}
		if r.Name != nil && (!utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxName) {
			t.Fatalf("accepted name %q", name)
		}
		if !utf8.ValidString(value) || value == "" || utf8.RuneCountInString(value) > MaxMetadataValue {
			t.Fatalf("accepted value %q", value)
		}
		_ = r.Identity()
	})
}
