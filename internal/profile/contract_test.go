package profile

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func TestParseVersion(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Version
		err  string
	}{
		{in: "2026-03-24", want: Version20260324},
		{in: "user-profiles-2026-03-24", want: Version20260324},
		{in: "2026-08-18", want: Version20260818},
		{in: "2026-09-04", want: Version20260904},
		{in: "ga", want: VersionGA},
		{in: " GA ", want: VersionGA},
		{in: "", err: `unknown API version ""; use --api 2026-03-24 (the default, the first beta) or --api ga`},
		{in: "2026-10-21", err: `unknown API version "2026-10-21"; use --api 2026-03-24 (the default, the first beta) or --api ga`},
		{in: "beta", err: `unknown API version "beta"; use --api 2026-03-24 (the default, the first beta) or --api ga`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseVersion(tc.in)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error %v, want %s", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseVersion = %v, %v; want %v", got, err, tc.want)
			}
			var fromText Version
			if err := fromText.UnmarshalText([]byte(tc.in)); err != nil || fromText != tc.want {
				t.Fatalf("UnmarshalText = %v, %v", fromText, err)
			}
		})
	}
	if DefaultVersion != Version(0) || Version(0).Beta() != BetaHeader {
		t.Error("the zero Version must be the seed's contract, whose beta is BetaHeader")
	}
	for v, beta := range map[Version]string{Version20260818: "user-profiles-2026-08-18", Version20260904: "user-profiles-2026-09-04", VersionGA: ""} {
		if v.Beta() != beta {
			t.Errorf("%v.Beta() = %q, want %q", v, v.Beta(), beta)
		}
	}
}

// gaRequest is a request with every field of the GA contract set.
func gaRequest() Request {
	return Request{
		ExternalID: Str("u-1"), Name: Str("Ada Lovelace"), AccessType: Str("application"),
		Metadata: map[string]string{"plan": "pro"}, Country: Str("GB"), EmailHash: Str(EmailHash("ada@example.com")),
		NameHash: Str(NameHash("Ada Lovelace")), OnboardedAt: Str("2024-01-02T03:04:05+02:00"),
		AccountStatus: Str("active"), EntityType: Str("individual"),
	}
}

func TestValidateGA(t *testing.T) {
	s := Str
	with := func(f func(*Request)) Request {
		r := gaRequest()
		f(&r)
		return r
	}
	for _, tc := range []struct {
		name    string
		req     Request
		v       Version
		rule    string
		field   string
		message string // the whole message after "line 42: ", when given
	}{
		{name: "every GA field", req: gaRequest(), v: VersionGA},
		{name: "empty request", req: Request{}, v: VersionGA},
		{name: "seed fields under GA", req: Request{ExternalID: s("u1"), Name: s("Ada"), Relationship: s("resold")}, v: VersionGA},
		{name: "reference_id too long", req: Request{ExternalID: s(strings.Repeat("é", 256))}, v: VersionGA, rule: RuleReferenceIDTooLong, field: "reference_id"},
		{name: "reference_id 255 code points", req: Request{ExternalID: s(strings.Repeat("é", 255))}, v: VersionGA},
		{name: "empty reference_id", req: Request{ExternalID: s("")}, v: VersionGA, rule: RuleReferenceIDEmpty, field: "reference_id"},
		{name: "external_id under 2026-08-18", req: Request{ExternalID: s("")}, v: Version20260818, rule: RuleExternalIDEmpty, field: "external_id"},
		{name: "internal has no GA equivalent", req: Request{Relationship: s("internal")}, v: VersionGA, rule: RuleRelationshipInternalNotInGA, field: "relationship",
			message: `relationship: "internal" has no equivalent under the GA contract, whose access_type is application or passthrough; the platform's own usage belongs in a separate organization`},
		{name: "internal under 2026-08-18", req: Request{Relationship: s("internal")}, v: Version20260818, rule: RuleRelationshipInternalNotInGA, field: "relationship"},
		{name: "internal under the seed", req: Request{Relationship: s("internal")}, v: Version20260324},
		{name: "unknown relationship under GA", req: Request{Relationship: s("partner")}, v: VersionGA, rule: RuleRelationshipInvalid, field: "relationship"},
		{name: "passthrough without a name is fine under GA", req: Request{AccessType: s("passthrough")}, v: VersionGA},
		{name: "resold without a name under GA", req: Request{Relationship: s("resold")}, v: VersionGA},
		{name: "passthrough without a name under the seed", req: Request{AccessType: s("passthrough")}, v: Version20260324, rule: RuleNameRequiredForResold, field: "name"},
		{name: "unknown access_type", req: Request{AccessType: s("Application")}, v: VersionGA, rule: RuleAccessTypeInvalid, field: "access_type",
			message: `access_type: "Application" is not one of application or passthrough`},
		{name: "access_type invalid UTF-8", req: Request{AccessType: s("\xff")}, v: VersionGA, rule: RuleInvalidUTF8, field: "access_type"},
		{name: "relationship and access_type agree", req: Request{Relationship: s("resold"), AccessType: s("passthrough")}, v: VersionGA},
		{name: "relationship and access_type disagree", req: Request{Relationship: s("external"), AccessType: s("passthrough")}, v: VersionGA,
			rule: RuleAccessTypeConflict, field: "access_type", message: `access_type: "passthrough" disagrees with relationship "external"; give one of the two`},
		{name: "internal and an access_type", req: Request{Relationship: s("internal"), AccessType: s("application")}, v: VersionGA, rule: RuleAccessTypeConflict, field: "access_type"},
		{name: "metadata rules hold under GA", req: Request{Metadata: map[string]string{"plan": ""}}, v: VersionGA, rule: RuleMetadataValueEmpty, field: "metadata.plan"},
		{name: "country UK", req: with(func(r *Request) { r.Country = s("UK") }), v: VersionGA, rule: RuleCountryInvalid, field: "country",
			message: `country: "UK" is not an ISO 3166-1 alpha-2 code; did you mean "GB"?`},
		{name: "country lower case", req: with(func(r *Request) { r.Country = s("gb") }), v: VersionGA, rule: RuleCountryInvalid, field: "country",
			message: `country: "gb" is not an ISO 3166-1 alpha-2 code; codes are upper case: did you mean "GB"?`},
		{name: "country alpha-3", req: with(func(r *Request) { r.Country = s("DEU") }), v: VersionGA, rule: RuleCountryInvalid, field: "country",
			message: `country: "DEU" is not an ISO 3166-1 alpha-2 code; did you mean "DE"?`},
		{name: "country unknown", req: with(func(r *Request) { r.Country = s("QQ") }), v: VersionGA, rule: RuleCountryInvalid, field: "country",
			message: `country: "QQ" is not an ISO 3166-1 alpha-2 code; use the country's two-letter code in upper case, e.g. "US" or "GB"`},
		{name: "country invalid UTF-8", req: with(func(r *Request) { r.Country = s("\xff") }), v: VersionGA, rule: RuleInvalidUTF8, field: "country"},
		{name: "email_hash 255", req: with(func(r *Request) { r.EmailHash = s(strings.Repeat("é", 255)) }), v: VersionGA},
		{name: "email_hash 256", req: with(func(r *Request) { r.EmailHash = s(strings.Repeat("é", 256)) }), v: VersionGA, rule: RuleEmailHashTooLong, field: "email_hash"},
		{name: "email_hash empty", req: with(func(r *Request) { r.EmailHash = s("") }), v: VersionGA, rule: RuleEmailHashEmpty, field: "email_hash"},
		{name: "name_hash 256", req: with(func(r *Request) { r.NameHash = s(strings.Repeat("x", 256)) }), v: VersionGA, rule: RuleNameHashTooLong, field: "name_hash"},
		{name: "name_hash empty", req: with(func(r *Request) { r.NameHash = s("") }), v: VersionGA, rule: RuleNameHashEmpty, field: "name_hash"},
		{name: "onboarded_at a date only", req: with(func(r *Request) { r.OnboardedAt = s("2024-01-02") }), v: VersionGA, rule: RuleOnboardedAtInvalid, field: "onboarded_at",
			message: `onboarded_at: "2024-01-02" is not a complete RFC 3339 timestamp such as 2024-05-01T09:30:00Z; give the export's layout with --map 'onboarded_at=COLUMN|LAYOUT'`},
		{name: "onboarded_at without a zone", req: with(func(r *Request) { r.OnboardedAt = s("2024-01-02T03:04:05") }), v: VersionGA, rule: RuleOnboardedAtInvalid, field: "onboarded_at"},
		{name: "onboarded_at with a space", req: with(func(r *Request) { r.OnboardedAt = s("2024-01-02 03:04:05Z") }), v: VersionGA, rule: RuleOnboardedAtInvalid, field: "onboarded_at"},
		{name: "onboarded_at with fractions", req: with(func(r *Request) { r.OnboardedAt = s("2024-01-02T03:04:05.123456Z") }), v: VersionGA},
		{name: "onboarded_at a minute ahead", req: with(func(r *Request) { r.OnboardedAt = s("2026-05-01T12:01:00Z") }), v: VersionGA},
		{name: "onboarded_at a minute and a second ahead", req: with(func(r *Request) { r.OnboardedAt = s("2026-05-01T12:01:01Z") }), v: VersionGA,
			rule: RuleOnboardedAtInFuture, field: "onboarded_at",
			message: "onboarded_at: 2026-05-01T12:01:01Z is in the future (now is 2026-05-01T12:00:00Z); at most 1m0s ahead is allowed"},
		{name: "onboarded_at ahead by its offset only", req: with(func(r *Request) { r.OnboardedAt = s("2026-05-01T13:30:00+02:00") }), v: VersionGA},
		{name: "onboarded_at under 2026-08-18", req: Request{OnboardedAt: s("2024-01-02T03:04:05Z")}, v: Version20260818},
		{name: "account_status", req: with(func(r *Request) { r.AccountStatus = s("ACTIVE") }), v: VersionGA, rule: RuleAccountStatusInvalid, field: "account_status",
			message: `account_status: "ACTIVE" is not one of active, suspended or blocked`},
		{name: "account_status blocked", req: with(func(r *Request) { r.AccountStatus = s("blocked") }), v: VersionGA},
		{name: "entity_type", req: with(func(r *Request) { r.EntityType = s("non-profit") }), v: VersionGA, rule: RuleEntityTypeInvalid, field: "entity_type",
			message: `entity_type: "non-profit" is not one of individual, business, non_profit or government`},
		{name: "entity_type government", req: with(func(r *Request) { r.EntityType = s("government") }), v: VersionGA},
		{name: "a detail under the seed", req: Request{Country: s("GB")}, v: Version20260324, rule: RuleNotInVersion, field: "country",
			message: "country: not part of the 2026-03-24 contract; send it with --api ga, or leave the column out"},
		{name: "onboarded_at under the seed", req: Request{OnboardedAt: s("2024-01-02T03:04:05Z")}, v: Version20260324, rule: RuleNotInVersion, field: "onboarded_at"},
		{name: "a detail under 2026-08-18", req: Request{EmailHash: s("x")}, v: Version20260818, rule: RuleNotInVersion, field: "email_hash"},
		{name: "access_type under the seed", req: Request{AccessType: s("application")}, v: Version20260324},
		{name: "every detail under 2026-09-04", req: gaRequest(), v: Version20260904},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := ValidateAt(tc.req, tc.v, testNow)
			if tc.rule == "" {
				if p != nil {
					t.Fatalf("want valid, got %v", p)
				}
				return
			}
			if p == nil || p.Rule != tc.rule || p.Field != tc.field {
				t.Fatalf("got %+v, want rule %s field %s", p, tc.rule, tc.field)
			}
			msg := p.At(42)
			if !strings.HasPrefix(msg, "line 42: "+tc.field+": ") {
				t.Errorf("message %q does not name the line and field", msg)
			}
			if tc.message != "" && msg != "line 42: "+tc.message {
				t.Errorf("message\n got: %s\nwant: line 42: %s", msg, tc.message)
			}
		})
	}
}

func TestValidateForUsesTheClock(t *testing.T) {
	r := Request{OnboardedAt: Str(time.Now().Add(time.Hour).UTC().Format(time.RFC3339))}
	if p := ValidateFor(r, VersionGA); p == nil || p.Rule != RuleOnboardedAtInFuture {
		t.Fatalf("an hour ahead: %v", p)
	}
	if p := Validate(Request{Country: Str("GB")}); p == nil || p.Rule != RuleNotInVersion {
		t.Fatalf("Validate is the seed's rules: %v", p)
	}
}

func TestCountryCodes(t *testing.T) {
	for _, tc := range []struct {
		in, suggest string
		valid       bool
	}{
		{in: "US", valid: true, suggest: "US"},
		{in: "GB", valid: true, suggest: "GB"},
		{in: "DE", valid: true, suggest: "DE"},
		{in: "XK", valid: true, suggest: "XK"},
		{in: "UK", suggest: "GB"},
		{in: "us", suggest: "US"},
		{in: " Fr ", suggest: "FR"},
		{in: "USA", suggest: "US"},
		{in: "GBR", suggest: "GB"},
		{in: "276", suggest: "DE"},
		{in: "Germany", suggest: "DE"},
		{in: "united kingdom", suggest: "GB"},
		{in: "The Netherlands", suggest: "NL"},
		{in: "ZR", suggest: "CD"},
		{in: "TP", suggest: "TL"},
		{in: "EU"},
		{in: "UN"},
		{in: "AC"},
		{in: "ZZ"},
		{in: "SU"},
		{in: "YU"},
		{in: "AA"},
		{in: "001"},
		{in: ""},
		{in: "Atlantis"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := IsCountryCode(tc.in); got != tc.valid {
				t.Errorf("IsCountryCode(%q) = %v", tc.in, got)
			}
			if got := SuggestCountry(tc.in); got != tc.suggest {
				t.Errorf("SuggestCountry(%q) = %q, want %q", tc.in, got, tc.suggest)
			}
		})
	}
	n := 0
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			if IsCountryCode(string([]rune{a, b})) {
				n++
			}
		}
	}
	if n != 250 { // the 249 codes ISO 3166-1 assigns, and XK
		t.Errorf("%d codes accepted, want 250", n)
	}
}

func marshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestBody(t *testing.T) {
	const emailHash = "b5fc85e55755f9e0d030a10ab4429b6b2944855f9a0d60077fe832becbc41d72"
	const nameHash = "177f85df57ad121d5aaac8076a4a0554a673182fe06cf65ee7d9f7d0961f947d"
	full := gaRequest()
	for _, tc := range []struct {
		name string
		req  Request
		v    Version
		want string
	}{
		{"seed: empty", Request{}, Version20260324, `{}`},
		{"seed: every field", Request{ExternalID: Str("u-1"), Name: Str("Ada"), Relationship: Str("resold"), Metadata: map[string]string{"b": "2", "a": "1"}},
			Version20260324, `{"external_id":"u-1","name":"Ada","relationship":"resold","metadata":{"a":"1","b":"2"}}`},
		{"seed: empty metadata left out", Request{Name: Str("Ada"), Metadata: map[string]string{}}, Version20260324, `{"name":"Ada"}`},
		{"seed: access_type translated", Request{Name: Str("Acme"), AccessType: Str("passthrough")}, Version20260324, `{"name":"Acme","relationship":"resold"}`},
		{"GA: empty", Request{}, VersionGA, `{}`},
		{"GA: seed fields translated", Request{ExternalID: Str("u-1"), Name: Str("Ada"), Relationship: Str("external"), Metadata: map[string]string{"plan": "pro"}},
			VersionGA, `{"name":"Ada","access_type":"application","metadata":{"plan":"pro"},"external_user_details":{"reference_id":"u-1"}}`},
		{"GA: resold is passthrough", Request{Relationship: Str("resold")}, VersionGA, `{"access_type":"passthrough"}`},
		{"GA: every field", full, VersionGA,
			`{"name":"Ada Lovelace","access_type":"application","metadata":{"plan":"pro"},"external_user_details":{"reference_id":"u-1","country":"GB",` +
				`"email_hash":"` + emailHash + `","name_hash":"` + nameHash + `","onboarded_at":"2024-01-02T01:04:05Z","account_status":"active","entity_type":"individual"}}`},
		{"GA: one detail", Request{Country: Str("FR")}, VersionGA, `{"external_user_details":{"country":"FR"}}`},
		{"2026-09-04 is GA's body", full, Version20260904, marshal(t, full.Body(VersionGA))},
		{"2026-08-18", Request{ExternalID: Str("u-1"), Name: Str("Ada"), Relationship: Str("resold"), OnboardedAt: Str("2024-01-02T03:04:05.5-01:00")},
			Version20260818, `{"external_id":"u-1","name":"Ada","access_type":"passthrough","external_user_onboarded_at":"2024-01-02T04:04:05.5Z"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := marshal(t, tc.req.Body(tc.v)); got != tc.want {
				t.Errorf("body\n got: %s\nwant: %s", got, tc.want)
			}
		})
	}
}

// A seed request's body is what marshalling the request gave before Body
// existed, which is what the ledger keeps.
func TestSeedBodyIsTheRequestJSON(t *testing.T) {
	for _, r := range []Request{
		{},
		{Name: Str("x")},
		{ExternalID: Str("u"), Name: Str("n"), Relationship: Str("internal"), Metadata: map[string]string{"k": "v"}},
	} {
		if a, b := marshal(t, r), marshal(t, r.Body(Version20260324)); a != b {
			t.Errorf("request %s, body %s", a, b)
		}
	}
}

func TestRequestLedgerJSON(t *testing.T) {
	old := `{"external_id":"u-1","name":"Ada","relationship":"resold","metadata":{"plan":"pro"}}`
	var r Request
	if err := json.Unmarshal([]byte(old), &r); err != nil {
		t.Fatal(err)
	}
	if got := marshal(t, r); got != old {
		t.Fatalf("a ledger entry of the seed does not round-trip: %s", got)
	}
	full := gaRequest()
	want := `{"external_id":"u-1","name":"Ada Lovelace","metadata":{"plan":"pro"},"access_type":"application","country":"GB",` +
		`"email_hash":"b5fc85e55755f9e0d030a10ab4429b6b2944855f9a0d60077fe832becbc41d72",` +
		`"name_hash":"177f85df57ad121d5aaac8076a4a0554a673182fe06cf65ee7d9f7d0961f947d",` +
		`"onboarded_at":"2024-01-02T03:04:05+02:00","account_status":"active","entity_type":"individual"}`
	if got := marshal(t, full); got != want {
		t.Fatalf("ledger JSON\n got: %s\nwant: %s", got, want)
	}
	var back Request
	if err := json.Unmarshal([]byte(want), &back); err != nil || back.ContentHash() != full.ContentHash() {
		t.Fatalf("round trip: %v", err)
	}
}

// Content hashes are identities in existing ledgers: a request of the seed's
// fields must hash as it did before the later contracts were known.
func TestSeedContentHashIsStable(t *testing.T) {
	for _, tc := range []struct {
		req  Request
		want string
	}{
		{Request{Name: Str("Ada"), Metadata: map[string]string{"plan": "pro"}}, "fe9d4c918c1f0f4a0033fba67b2336f6e1a0baf97dc1bfc393f0198a9ccb6f96"},
		{Request{ExternalID: Str("u1"), Name: Str("Ada"), Relationship: Str("resold")}, "71c8818818ddb3efd9671027e7cab2b71ec4f4afba93964d7980323492672d10"},
		{Request{}, "4593ab5c572f16882fb28fbcb4b14ea101f433d84facad8c16edb0c75195946e"},
	} {
		if got := tc.req.ContentHash(); got != tc.want {
			t.Errorf("%s hashes to %s, want %s", marshal(t, tc.req), got, tc.want)
		}
	}
}

func TestCrossContractEquality(t *testing.T) {
	s := Str
	for _, tc := range []struct {
		name string
		a, b Request
		same bool
	}{
		{"omitted = external = application", Request{Name: s("Ada")}, Request{Name: s("Ada"), AccessType: s("application")}, true},
		{"external = application", Request{Name: s("Ada"), Relationship: s("external")}, Request{Name: s("Ada"), AccessType: s("application")}, true},
		{"resold = passthrough", Request{Name: s("Acme"), Relationship: s("resold")}, Request{Name: s("Acme"), AccessType: s("passthrough")}, true},
		{"resold = both given", Request{Name: s("Acme"), Relationship: s("resold")}, Request{Name: s("Acme"), Relationship: s("resold"), AccessType: s("passthrough")}, true},
		{"resold != application", Request{Name: s("Acme"), Relationship: s("resold")}, Request{Name: s("Acme"), AccessType: s("application")}, false},
		{"internal != application", Request{Name: s("Ada"), Relationship: s("internal")}, Request{Name: s("Ada"), AccessType: s("application")}, false},
		{"an unknown access type is no relationship", Request{Name: s("Ada")}, Request{Name: s("Ada"), AccessType: s("external")}, false},
		{"onboarded_at in two offsets", Request{OnboardedAt: s("2024-01-02T03:04:05+02:00")}, Request{OnboardedAt: s("2024-01-02T01:04:05Z")}, true},
		{"onboarded_at one second apart", Request{OnboardedAt: s("2024-01-02T03:04:05Z")}, Request{OnboardedAt: s("2024-01-02T03:04:06Z")}, false},
		{"a detail added", Request{Name: s("Ada")}, Request{Name: s("Ada"), Country: s("GB")}, false},
		{"each detail counts", Request{EntityType: s("business")}, Request{EntityType: s("individual")}, false},
		{"empty metadata = none", Request{Metadata: map[string]string{}}, Request{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			same := tc.a.ContentHash() == tc.b.ContentHash()
			if same != tc.same {
				t.Errorf("hashes equal = %v, want %v", same, tc.same)
			}
			if (tc.a.Identity() == tc.b.Identity()) != tc.same {
				t.Errorf("identities %s and %s", tc.a.Identity(), tc.b.Identity())
			}
		})
	}
	// The same user read under both contracts: one identity, one content.
	seed := Request{ExternalID: s("u-1"), Name: s("Ada"), Relationship: s("external")}
	ga := Request{ExternalID: s("u-1"), Name: s("Ada"), AccessType: s("application")}
	if seed.Identity() != "external_id:u-1" || ga.Identity() != seed.Identity() || ga.ContentHash() != seed.ContentHash() {
		t.Fatalf("identities %s, %s", seed.Identity(), ga.Identity())
	}
}

func TestProfileDecodesEveryContract(t *testing.T) {
	const head = `"id":"uprof_011CZkZaBF1tNoB5wlCeusgy","type":"user_profile","created_at":"2026-04-01T10:00:00Z","updated_at":"2026-04-01T10:00:00Z"`
	for _, tc := range []struct {
		name string
		json string
		want string // the canonical request's ledger JSON
		rel  string
		at   AccessType
	}{
		{"2026-03-24",
			`{` + head + `,"external_id":"u-1","name":"Acme","relationship":"resold","metadata":{"plan":"pro"},"trust_grants":{}}`,
			`{"external_id":"u-1","name":"Acme","relationship":"resold","metadata":{"plan":"pro"}}`, "resold", AccessPassthrough},
		{"2026-03-24 internal",
			`{` + head + `,"external_id":null,"name":null,"relationship":"internal","metadata":{},"trust_grants":{}}`,
			`{"relationship":"internal"}`, "internal", ""},
		{"2026-08-18",
			`{` + head + `,"external_id":"u-1","name":"Acme","access_type":"passthrough","external_user_onboarded_at":"2024-01-02T01:04:05Z","metadata":{},"trust_grants":{}}`,
			`{"external_id":"u-1","name":"Acme","relationship":"resold","onboarded_at":"2024-01-02T01:04:05Z"}`, "resold", AccessPassthrough},
		{"2026-09-04",
			`{` + head + `,"name":"Ada","access_type":"application","external_user_details":{"reference_id":"u-1","country":"GB","email_hash":null,` +
				`"name_hash":null,"onboarded_at":"2024-01-02T01:04:05Z","account_status":"active","entity_type":null},"metadata":{},"trust_grants":{}}`,
			`{"external_id":"u-1","name":"Ada","relationship":"external","country":"GB","onboarded_at":"2024-01-02T01:04:05Z","account_status":"active"}`,
			"external", AccessApplication},
		{"GA, nulls until set",
			`{` + head + `,"access_type":"application","name":null,"metadata":{},"external_user_details":{"reference_id":null,"country":null,"email_hash":null,` +
				`"name_hash":null,"onboarded_at":null,"account_status":null,"entity_type":null},"programs":{"cyber":null,"efs":null},` +
				`"enforcement_status":"unrestricted","enforcement_actions":[]}`,
			`{"relationship":"external"}`, "external", AccessApplication},
		{"GA, every detail",
			`{` + head + `,"access_type":"passthrough","name":"Acme","metadata":{"plan":"pro"},"external_user_details":{"reference_id":"u-1","country":"GB",` +
				`"email_hash":"e","name_hash":"n","onboarded_at":"2024-01-02T01:04:05.5Z","account_status":"blocked","entity_type":"business"},` +
				`"programs":{"cyber":null,"efs":null},"enforcement_status":"unrestricted","enforcement_actions":[]}`,
			`{"external_id":"u-1","name":"Acme","relationship":"resold","metadata":{"plan":"pro"},"country":"GB","email_hash":"e","name_hash":"n",` +
				`"onboarded_at":"2024-01-02T01:04:05.5Z","account_status":"blocked","entity_type":"business"}`,
			"resold", AccessPassthrough},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p Profile
			if err := json.Unmarshal([]byte(tc.json), &p); err != nil {
				t.Fatal(err)
			}
			if p.ID != "uprof_011CZkZaBF1tNoB5wlCeusgy" || p.Type != "user_profile" || !p.CreatedAt.Equal(time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)) {
				t.Errorf("common fields: %+v", p)
			}
			if p.Relationship != tc.rel || p.AccessType != tc.at {
				t.Errorf("relationship %q, access type %q; want %q, %q", p.Relationship, p.AccessType, tc.rel, tc.at)
			}
			if got := marshal(t, p.Request()); got != tc.want {
				t.Errorf("request\n got: %s\nwant: %s", got, tc.want)
			}
			if !p.Request().Matches(p) {
				t.Error("a profile's own request must match it")
			}
			// A listing's page decodes each profile as one decoded alone.
			var list Profiles
			if err := json.Unmarshal([]byte("["+tc.json+","+tc.json+"]"), &list); err != nil {
				t.Fatal(err)
			}
			if len(list) != 2 || !reflect.DeepEqual(list[0], p) || !reflect.DeepEqual(list[1], p) {
				t.Errorf("in a list: %+v\nalone: %+v", list, p)
			}
		})
	}
	var list Profiles
	if err := json.Unmarshal([]byte(`[{"id":1}]`), &list); err == nil {
		t.Error("a wrong type in a list must be an error")
	}
	var p Profile
	if err := json.Unmarshal([]byte(`{"id":1}`), &p); err == nil {
		t.Error("a wrong type must be an error")
	}
}

// A profile created under the seed and read back under GA (and the other
// way round) matches the requests of both contracts for the same row.
func TestMatchesAcrossContracts(t *testing.T) {
	seedJSON := `{"id":"uprof_1","type":"user_profile","created_at":"2026-04-01T10:00:00Z","updated_at":"2026-04-01T10:00:00Z",` +
		`"external_id":"u-1","name":"Ada","relationship":"external","metadata":{"plan":"pro"},"trust_grants":{}}`
	gaJSON := `{"id":"uprof_1","type":"user_profile","access_type":"application","created_at":"2026-04-01T10:00:00Z","updated_at":"2026-04-01T10:00:00Z",` +
		`"name":"Ada","metadata":{"plan":"pro"},"external_user_details":{"reference_id":"u-1","country":null,"email_hash":null,"name_hash":null,` +
		`"onboarded_at":null,"account_status":null,"entity_type":null},"programs":{"cyber":null,"efs":null},"enforcement_status":"unrestricted","enforcement_actions":[]}`
	seedRow := Request{ExternalID: Str("u-1"), Name: Str("Ada"), Metadata: map[string]string{"plan": "pro"}}
	gaRow := Request{ExternalID: Str("u-1"), Name: Str("Ada"), AccessType: Str("application"), Metadata: map[string]string{"plan": "pro"}}
	withCountry := gaRow
	withCountry.Country = Str("GB")
	for _, js := range []string{seedJSON, gaJSON} {
		var p Profile
		if err := json.Unmarshal([]byte(js), &p); err != nil {
			t.Fatal(err)
		}
		if !seedRow.Matches(p) || !gaRow.Matches(p) {
			t.Errorf("%s: the same row under both contracts must match", js)
		}
		if withCountry.Matches(p) {
			t.Errorf("%s: a row with a country the profile lacks must not match", js)
		}
		if p.Request().ContentHash() != seedRow.ContentHash() || p.Request().Identity() != gaRow.Identity() {
			t.Errorf("%s: hash or identity differ", js)
		}
	}
}

func TestHashes(t *testing.T) {
	const ada = "b5fc85e55755f9e0d030a10ab4429b6b2944855f9a0d60077fe832becbc41d72" // sha256("ada@example.com")
	for _, in := range []string{"ada@example.com", " Ada@Example.COM\t"} {
		if got := EmailHash(in); got != ada {
			t.Errorf("EmailHash(%q) = %s", in, got)
		}
	}
	if EmailHash("ada@example.org") == ada {
		t.Error("another address must hash differently")
	}
	const lovelace = "177f85df57ad121d5aaac8076a4a0554a673182fe06cf65ee7d9f7d0961f947d" // sha256("ada lovelace")
	for _, in := range []string{"Ada Lovelace", "  ada   LOVELACE "} {
		if got := NameHash(in); got != lovelace {
			t.Errorf("NameHash(%q) = %s", in, got)
		}
	}
}

func TestDuplicateFor(t *testing.T) {
	r := Request{ExternalID: Str("u-1")}
	if p := DuplicateFor(r, 3, VersionGA); p.Rule != RuleDuplicateExternalID || p.At(9) != `line 9: reference_id: "u-1" already appears on line 3` {
		t.Errorf("GA: %s", p.At(9))
	}
	if p := Duplicate(r, 3); p.At(9) != `line 9: external_id: "u-1" already appears on line 3` {
		t.Errorf("seed: %s", p.At(9))
	}
	if p := DuplicateFor(Request{}, 3, VersionGA); p.Rule != RuleDuplicateRow || p.At(9) != "line 9: same content as line 3, which has no reference_id to tell them apart" {
		t.Errorf("GA content: %s", p.At(9))
	}
}

func TestVocabulary(t *testing.T) {
	for field, want := range map[string]string{
		"relationship":   "external resold internal",
		"access_type":    "application passthrough",
		"account_status": "active suspended blocked",
		"entity_type":    "individual business non_profit government",
		"name":           "",
	} {
		if got := strings.Join(Vocabulary(field), " "); got != want {
			t.Errorf("Vocabulary(%s) = %q, want %q", field, got, want)
		}
	}
	for _, rel := range Relationships() {
		a, ok := AccessTypeOf(rel)
		if back, _ := a.Relationship(); ok && back != rel {
			t.Errorf("%s -> %s -> %s", rel, a, back)
		}
	}
}

func TestChangesAcrossContracts(t *testing.T) {
	s := Str
	for _, tc := range []struct {
		name     string
		was, now Request
		want     string
	}{
		{"seed entry, same row under GA", Request{Name: s("Ada"), Relationship: s("external")}, Request{Name: s("Ada"), AccessType: s("application")}, ""},
		{"resold becomes application", Request{Relationship: s("resold")}, Request{AccessType: s("application")}, "relationship"},
		{"details added", Request{Name: s("Ada")}, Request{Name: s("Ada"), Country: s("GB"), OnboardedAt: s("2024-01-02T03:04:05Z")}, "country onboarded_at"},
		{"onboarded_at in another offset", Request{OnboardedAt: s("2024-01-02T03:04:05Z")}, Request{OnboardedAt: s("2024-01-02T05:04:05+02:00")}, ""},
		{"every detail", Request{}, Request{EmailHash: s("e"), NameHash: s("n"), AccountStatus: s("active"), EntityType: s("business"), Metadata: map[string]string{"k": "v"}},
			"email_hash name_hash account_status entity_type metadata.k"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Join(Changes(tc.was, tc.now), " "); got != tc.want {
				t.Errorf("Changes = %q, want %q", got, tc.want)
			}
		})
	}
}
