package emulator_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/anthropics/anthropic-sdk-go/v2/packages/respjson"

	"github.com/provision/provision/internal/emulator"
)

// checkDecoded asserts that the SDK decoded obj without loss: every field of
// its type present (but those named in absent, which must be missing), each
// either null or parsed into the field's Go type, and no key the type does
// not know (but those named in extra). It recurses into nested objects.
func checkDecoded(t *testing.T, what string, obj any, absent, extra []string) {
	t.Helper()
	v := reflect.ValueOf(obj)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	meta := v.FieldByName("JSON")
	if !meta.IsValid() {
		t.Fatalf("%s: %s has no JSON metadata", what, v.Type())
	}
	mt := meta.Type()
	for i := range mt.NumField() {
		sf := mt.Field(i)
		if !sf.IsExported() {
			continue
		}
		if sf.Name == "ExtraFields" {
			for _, k := range slices.Sorted(maps.Keys(meta.Field(i).Interface().(map[string]respjson.Field))) {
				if !slices.Contains(extra, k) {
					t.Errorf("%s: key %q is not in the SDK's %s", what, k, v.Type().Name())
				}
			}
			continue
		}
		f := meta.Field(i).Interface().(respjson.Field)
		if slices.Contains(absent, sf.Name) {
			if f.Raw() != "" {
				t.Errorf("%s.%s = %s, want it absent under this version", what, sf.Name, f.Raw())
			}
			continue
		}
		switch {
		case f.Raw() == "":
			t.Errorf("%s.%s is missing", what, sf.Name)
		case f.Raw() == "null":
		case !f.Valid():
			t.Errorf("%s.%s = %s does not decode into the SDK's type", what, sf.Name, f.Raw())
		default:
			sub := v.FieldByName(sf.Name)
			// The SDK decodes leniently (a number into a string field, say),
			// so check the JSON kind too.
			if want := jsonKindOf(sub.Type()); want != 0 && f.Raw()[0] != want {
				t.Errorf("%s.%s = %s, want a JSON value starting with %c for %s", what, sf.Name, f.Raw(), want, sub.Type())
			}
			switch sub.Kind() {
			case reflect.Struct:
				if sub.FieldByName("JSON").IsValid() {
					checkDecoded(t, what+"."+sf.Name, sub.Interface(), nil, nil)
				}
			case reflect.Map, reflect.Slice:
				if el := sub.Type().Elem(); el.Kind() == reflect.Struct && reflect.Zero(el).FieldByName("JSON").IsValid() {
					for _, item := range sub.Seq2() {
						checkDecoded(t, what+"."+sf.Name+"[]", item.Interface(), nil, nil)
					}
				}
			}
		}
	}
}

// jsonKindOf is the first byte of the JSON a Go type decodes from, or 0
// when several are possible.
func jsonKindOf(t reflect.Type) byte {
	if t == reflect.TypeFor[time.Time]() {
		return '"'
	}
	switch t.Kind() {
	case reflect.String:
		return '"'
	case reflect.Map, reflect.Struct:
		return '{'
	case reflect.Slice:
		return '['
	}
	return 0
}

// keysOf returns the top-level keys of a JSON object, sorted.
func keysOf(t *testing.T, raw string) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return slices.Sorted(maps.Keys(m))
}

func sortedStrings(s ...string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

var (
	gaKeys     = sortedStrings("id", "type", "access_type", "created_at", "updated_at", "name", "metadata", "external_user_details", "programs", "enforcement_status", "enforcement_actions")
	detailKeys = sortedStrings("reference_id", "country", "email_hash", "name_hash", "onboarded_at", "account_status", "entity_type")
	// Fields of the SDK's BetaUserProfile each beta version leaves out.
	betaAbsent = map[string][]string{
		emulator.Beta20260324: {"AccessType", "ExternalUserDetails", "ExternalUserOnboardedAt"},
		emulator.Beta20260818: {"ExternalUserDetails"},
		emulator.Beta20260904: {"ExternalID", "ExternalUserOnboardedAt"},
	}
	// Keys a beta version serves that the SDK's BetaUserProfile lacks.
	betaExtra = map[string][]string{emulator.Beta20260324: {"relationship"}}
)

// TestGAWithSDK drives create, retrieve, list, update and delete through
// the SDK's typed GA service and checks every field of every answer.
func TestGAWithSDK(t *testing.T) {
	e := newEnv(t, emulator.Config{})
	ctx := context.Background()
	onboarded := time.Date(2024, 2, 29, 23, 59, 58, 123456000, time.FixedZone("", 2*3600))
	before := time.Now().UTC().Truncate(time.Microsecond)
	var raw *http.Response
	p, err := e.client.UserProfiles.New(ctx, anthropic.UserProfileNewParams{
		Name:       anthropic.String("Acme <Corp> & Co"),
		AccessType: anthropic.UserProfileAccessTypePassthrough,
		ExternalUserDetails: anthropic.UserProfileExternalUserDetailsParams{
			ReferenceID:   anthropic.String("ref-1"),
			Country:       anthropic.String("FR"),
			EmailHash:     anthropic.String("e-hash"),
			NameHash:      anthropic.String("n-hash"),
			OnboardedAt:   anthropic.Time(onboarded),
			AccountStatus: anthropic.UserProfileExternalUserAccountStatusSuspended,
			EntityType:    anthropic.UserProfileExternalUserEntityTypeNonProfit,
		},
		Metadata: map[string]string{"plan": "pro", "region": "eu"},
	}, option.WithResponseInto(&raw))
	if err != nil {
		t.Fatal(err)
	}
	checkDecoded(t, "created", p, nil, nil)
	if got := keysOf(t, p.RawJSON()); !slices.Equal(got, gaKeys) {
		t.Errorf("GA keys %v, want %v", got, gaKeys)
	}
	if got := keysOf(t, p.ExternalUserDetails.RawJSON()); !slices.Equal(got, detailKeys) {
		t.Errorf("external_user_details keys %v, want %v", got, detailKeys)
	}
	d := p.ExternalUserDetails
	if !isProfileID(p.ID) || p.Type != "user_profile" || p.Name != "Acme <Corp> & Co" || p.AccessType != "passthrough" ||
		!maps.Equal(p.Metadata, map[string]string{"plan": "pro", "region": "eu"}) ||
		d.ReferenceID != "ref-1" || d.Country != "FR" || d.EmailHash != "e-hash" || d.NameHash != "n-hash" ||
		!d.OnboardedAt.Equal(onboarded) || d.AccountStatus != "suspended" || d.EntityType != "non_profit" ||
		p.EnforcementStatus != "unrestricted" || len(p.EnforcementActions) != 0 || p.JSON.EnforcementActions.Raw() != "[]" ||
		p.Programs.JSON.Cyber.Raw() != "null" || p.Programs.JSON.Efs.Raw() != "null" {
		t.Errorf("created profile does not hold the request: %s", p.RawJSON())
	}
	if !strings.HasSuffix(d.JSON.OnboardedAt.Raw(), `Z"`) || !strings.Contains(p.RawJSON(), `"Acme <Corp> & Co"`) {
		t.Errorf("onboarded_at %s is not UTC, or the name was escaped: %s", d.JSON.OnboardedAt.Raw(), p.RawJSON())
	}
	if p.CreatedAt.Before(before) || !p.UpdatedAt.Equal(p.CreatedAt) {
		t.Errorf("created_at %v updated_at %v", p.CreatedAt, p.UpdatedAt)
	}
	if raw.StatusCode != 200 || !isRequestID(raw.Header.Get("request-id")) {
		t.Errorf("status %d request-id %q", raw.StatusCode, raw.Header.Get("request-id"))
	}

	got, err := e.client.UserProfiles.Get(ctx, p.ID, anthropic.UserProfileGetParams{})
	if err != nil {
		t.Fatal(err)
	}
	checkDecoded(t, "retrieved", got, nil, nil)
	if got.RawJSON() != strings.TrimSpace(p.RawJSON()) {
		t.Errorf("retrieve %s\n differs from create %s", got.RawJSON(), p.RawJSON())
	}

	// A second, empty profile: every external_user_details key null.
	q, err := e.client.UserProfiles.New(ctx, anthropic.UserProfileNewParams{})
	if err != nil {
		t.Fatal(err)
	}
	checkDecoded(t, "empty", q, nil, nil)
	if q.AccessType != "application" || q.JSON.Name.Raw() != "null" || q.JSON.Metadata.Raw() != "{}" ||
		q.ExternalUserDetails.RawJSON() != `{"reference_id":null,"country":null,"email_hash":null,"name_hash":null,"onboarded_at":null,"account_status":null,"entity_type":null}` {
		t.Errorf("empty create: %s", q.RawJSON())
	}

	pager := e.client.UserProfiles.ListAutoPaging(ctx, anthropic.UserProfileListParams{Limit: anthropic.Int(1), Order: "asc"})
	var listed []anthropic.UserProfile
	for item := range pager.All() {
		checkDecoded(t, "listed", item, nil, nil)
		listed = append(listed, item)
	}
	if err := pager.Err(); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 2 || listed[0].RawJSON() != got.RawJSON() || listed[1].ID != q.ID {
		t.Errorf("listed %d profiles; first %s", len(listed), listed[0].RawJSON())
	}

	u, err := e.client.UserProfiles.Update(ctx, p.ID, anthropic.UserProfileUpdateParams{
		Name:                anthropic.String("Acme 2"),
		AccessType:          anthropic.UserProfileAccessTypeApplication,
		ExternalUserDetails: anthropic.UserProfileExternalUserDetailsParams{Country: anthropic.String("DE")},
		Metadata:            map[string]string{"plan": "", "tier": "gold"},
	})
	if err != nil {
		t.Fatal(err)
	}
	checkDecoded(t, "updated", u, nil, nil)
	ud := u.ExternalUserDetails
	if u.Name != "Acme 2" || u.AccessType != "application" || ud.Country != "DE" ||
		ud.ReferenceID != "ref-1" || ud.EmailHash != "e-hash" || ud.NameHash != "n-hash" || !ud.OnboardedAt.Equal(onboarded) ||
		ud.AccountStatus != "suspended" || ud.EntityType != "non_profit" ||
		!maps.Equal(u.Metadata, map[string]string{"region": "eu", "tier": "gold"}) {
		t.Errorf("update: %s", u.RawJSON())
	}
	if !u.CreatedAt.Equal(p.CreatedAt) || !u.UpdatedAt.After(p.UpdatedAt) {
		t.Errorf("update: created_at %v -> %v, updated_at %v -> %v", p.CreatedAt, u.CreatedAt, p.UpdatedAt, u.UpdatedAt)
	}

	del, err := e.client.UserProfiles.Delete(ctx, p.ID, anthropic.UserProfileDeleteParams{})
	if err != nil {
		t.Fatal(err)
	}
	checkDecoded(t, "deleted", del, nil, nil)
	if del.ID != p.ID || del.Type != "user_profile_deleted" || len(keysOf(t, del.RawJSON())) != 2 {
		t.Errorf("delete answered %s", del.RawJSON())
	}
	_, err = e.client.UserProfiles.Get(ctx, p.ID, anthropic.UserProfileGetParams{})
	wantAPIError(t, err, 404, "not_found_error")
	_, err = e.client.UserProfiles.Update(ctx, p.ID, anthropic.UserProfileUpdateParams{Name: anthropic.String("x")})
	wantAPIError(t, err, 404, "not_found_error")
	_, err = e.client.UserProfiles.Delete(ctx, p.ID, anthropic.UserProfileDeleteParams{})
	wantAPIError(t, err, 404, "not_found_error")
	page, err := e.client.UserProfiles.List(ctx, anthropic.UserProfileListParams{})
	if err != nil || len(page.Data) != 1 || page.Data[0].ID != q.ID || page.JSON.NextPage.Raw() != "null" {
		t.Errorf("list after delete: %v %s", err, page.RawJSON())
	}
	if st := e.statsOverHTTP(); st.Created != 2 || st.Updated != 1 || st.Deleted != 1 || st.Profiles != 1 || st.Requests != 11 {
		t.Errorf("stats %+v", st)
	}
}

// TestBetaVersionsWithSDK runs the same flow through the SDK's beta service
// with each Betas value, checking each answer has that version's shape.
func TestBetaVersionsWithSDK(t *testing.T) {
	onboarded := time.Date(2025, 6, 1, 8, 30, 0, 0, time.UTC)
	for _, beta := range []string{emulator.Beta20260324, emulator.Beta20260818, emulator.Beta20260904} {
		t.Run(beta, func(t *testing.T) {
			e := newEnv(t, emulator.Config{})
			ctx := context.Background()
			betas := []anthropic.AnthropicBeta{beta}
			params := anthropic.BetaUserProfileNewParams{Name: anthropic.String("Ada"), Metadata: map[string]string{"k": "v"}, Betas: betas}
			var opts []option.RequestOption
			switch beta {
			case emulator.Beta20260324:
				params.ExternalID = anthropic.String("ext-1")
				// The SDK's params no longer have relationship.
				opts = append(opts, option.WithJSONSet("relationship", "resold"))
			case emulator.Beta20260818:
				params.ExternalID = anthropic.String("ext-1")
				params.AccessType = anthropic.BetaUserProfileNewParamsAccessTypePassthrough
				params.ExternalUserOnboardedAt = anthropic.Time(onboarded)
			case emulator.Beta20260904:
				params.AccessType = anthropic.BetaUserProfileNewParamsAccessTypePassthrough
				params.ExternalUserDetails = anthropic.BetaUserProfileExternalUserDetailsParams{
					ReferenceID: anthropic.String("ext-1"), OnboardedAt: anthropic.Time(onboarded), Country: anthropic.String("JP"),
				}
			}
			p, err := e.client.Beta.UserProfiles.New(ctx, params, opts...)
			if err != nil {
				t.Fatal(err)
			}
			check := func(what string, p *anthropic.BetaUserProfile) {
				t.Helper()
				checkDecoded(t, what, p, betaAbsent[beta], betaExtra[beta])
				if p.Name != "Ada" || p.Metadata["k"] != "v" || p.JSON.TrustGrants.Raw() != "{}" {
					t.Errorf("%s: %s", what, p.RawJSON())
				}
				switch beta {
				case emulator.Beta20260324:
					if p.ExternalID != "ext-1" || !strings.Contains(p.RawJSON(), `"relationship":"resold"`) {
						t.Errorf("%s: %s", what, p.RawJSON())
					}
				case emulator.Beta20260818:
					if p.ExternalID != "ext-1" || p.AccessType != "passthrough" || !p.ExternalUserOnboardedAt.Equal(onboarded) {
						t.Errorf("%s: %s", what, p.RawJSON())
					}
				case emulator.Beta20260904:
					d := p.ExternalUserDetails
					if p.AccessType != "passthrough" || d.ReferenceID != "ext-1" || !d.OnboardedAt.Equal(onboarded) || d.Country != "JP" || d.JSON.EmailHash.Raw() != "null" {
						t.Errorf("%s: %s", what, p.RawJSON())
					}
				}
			}
			check("created", p)
			got, err := e.client.Beta.UserProfiles.Get(ctx, p.ID, anthropic.BetaUserProfileGetParams{Betas: betas})
			if err != nil {
				t.Fatal(err)
			}
			check("retrieved", got)
			pager := e.client.Beta.UserProfiles.ListAutoPaging(ctx, anthropic.BetaUserProfileListParams{Betas: betas})
			n := 0
			for item := range pager.All() {
				check("listed", &item)
				n++
			}
			if err := pager.Err(); err != nil || n != 1 {
				t.Fatalf("listed %d: %v", n, err)
			}
			u, err := e.client.Beta.UserProfiles.Update(ctx, p.ID, anthropic.BetaUserProfileUpdateParams{
				Metadata: map[string]string{"k2": "v2"}, Betas: betas,
			})
			if err != nil {
				t.Fatal(err)
			}
			check("updated", u)
			if !maps.Equal(u.Metadata, map[string]string{"k": "v", "k2": "v2"}) || !u.UpdatedAt.After(u.CreatedAt) {
				t.Errorf("update: %s", u.RawJSON())
			}
			del, err := e.client.Beta.UserProfiles.Delete(ctx, p.ID, anthropic.BetaUserProfileDeleteParams{Betas: betas})
			if err != nil || del.ID != p.ID || del.Type != "user_profile_deleted" {
				t.Fatalf("delete: %v %+v", err, del)
			}
			checkDecoded(t, "deleted", del, nil, nil)
			_, err = e.client.Beta.UserProfiles.Get(ctx, p.ID, anthropic.BetaUserProfileGetParams{Betas: betas})
			wantAPIError(t, err, 404, "not_found_error")
		})
	}
}

// getAs retrieves id under a version ("" for GA) and returns the object.
func getAs(t *testing.T, e *env, id, beta string) map[string]any {
	t.Helper()
	var m map[string]any
	opt := option.WithHeader("anthropic-beta", beta)
	if beta == "" {
		opt = option.WithHeaderDel("anthropic-beta")
	}
	if err := e.client.Get(context.Background(), "v1/user_profiles/"+id, nil, &m, opt); err != nil {
		t.Fatalf("get %s under %q: %v", id, beta, err)
	}
	return m
}

// TestCrossVersionReads writes under one version and reads under every
// other: the mapping relationship <-> access_type, external_id <->
// reference_id, external_user_onboarded_at <-> onboarded_at.
func TestCrossVersionReads(t *testing.T) {
	e := newEnv(t, emulator.Config{})
	ctx := context.Background()
	post := func(beta, path, body string) string {
		t.Helper()
		var m map[string]any
		opt := option.WithHeader("anthropic-beta", beta)
		if beta == "" {
			opt = option.WithHeaderDel("anthropic-beta")
		}
		if err := e.client.Post(ctx, path, []byte(body), &m, opt); err != nil {
			t.Fatalf("%s %s: %v", beta, body, err)
		}
		return m["id"].(string)
	}
	details := func(m map[string]any) map[string]any { return m["external_user_details"].(map[string]any) }

	resold := post(emulator.Beta20260324, "v1/user_profiles", `{"external_id":"u-1","name":"Acme","relationship":"resold"}`)
	internal := post(emulator.Beta20260324, "v1/user_profiles", `{"relationship":"internal"}`)
	ga := post("", "v1/user_profiles", `{"access_type":"passthrough","external_user_details":{"reference_id":"u-2","onboarded_at":"2025-01-02T03:04:05.5+01:00","country":"GB"}}`)
	august := post(emulator.Beta20260818, "v1/user_profiles", `{"external_id":"u-3","external_user_onboarded_at":"2025-05-05T05:05:05Z"}`)

	for _, tt := range []struct {
		id, beta, key string
		want          any
	}{
		{resold, emulator.Beta20260818, "access_type", "passthrough"},
		{resold, emulator.Beta20260818, "external_id", "u-1"},
		{resold, emulator.Beta20260818, "external_user_onboarded_at", nil},
		{resold, emulator.Beta20260904, "access_type", "passthrough"},
		{resold, "", "access_type", "passthrough"},
		{internal, emulator.Beta20260324, "relationship", "internal"},
		{internal, emulator.Beta20260818, "access_type", "application"},
		{internal, "", "access_type", "application"},
		{ga, emulator.Beta20260324, "relationship", "resold"},
		{ga, emulator.Beta20260324, "external_id", "u-2"},
		{ga, emulator.Beta20260818, "external_id", "u-2"},
		{ga, emulator.Beta20260818, "external_user_onboarded_at", "2025-01-02T02:04:05.5Z"},
		{august, emulator.Beta20260324, "relationship", "external"},
		{august, "", "access_type", "application"},
	} {
		if got := getAs(t, e, tt.id, tt.beta)[tt.key]; got != tt.want {
			t.Errorf("%s read under %q: %s = %v, want %v", tt.id, tt.beta, tt.key, got, tt.want)
		}
	}
	for _, tt := range []struct {
		id, beta, key string
		want          any
	}{
		{resold, "", "reference_id", "u-1"},
		{resold, emulator.Beta20260904, "reference_id", "u-1"},
		{resold, "", "onboarded_at", nil},
		{august, "", "onboarded_at", "2025-05-05T05:05:05Z"},
		{august, emulator.Beta20260904, "reference_id", "u-3"},
		{ga, emulator.Beta20260904, "country", "GB"},
	} {
		if got := details(getAs(t, e, tt.id, tt.beta))[tt.key]; got != tt.want {
			t.Errorf("%s read under %q: external_user_details.%s = %v, want %v", tt.id, tt.beta, tt.key, got, tt.want)
		}
	}

	// An update under one version keeps what another version set.
	post(emulator.Beta20260324, "v1/user_profiles/"+ga, `{"name":"Renamed","relationship":"external"}`)
	m := getAs(t, e, ga, "")
	if m["access_type"] != "application" || m["name"] != "Renamed" || details(m)["country"] != "GB" || details(m)["reference_id"] != "u-2" {
		t.Errorf("GA read after a 2026-03-24 update: %v", m)
	}
	post("", "v1/user_profiles/"+internal, `{"external_user_details":{"entity_type":"government"}}`)
	if got := getAs(t, e, internal, emulator.Beta20260324)["relationship"]; got != "internal" {
		t.Errorf("an update without access_type changed internal into %v", got)
	}
	post("", "v1/user_profiles/"+internal, `{"access_type":"passthrough"}`)
	if got := getAs(t, e, internal, emulator.Beta20260324)["relationship"]; got != "resold" {
		t.Errorf("access_type passthrough reads as relationship %v, want resold", got)
	}
	post(emulator.Beta20260818, "v1/user_profiles/"+august, `{"external_id":"u-3b","external_user_onboarded_at":"2025-06-06T06:06:06Z"}`)
	if d := details(getAs(t, e, august, "")); d["reference_id"] != "u-3b" || d["onboarded_at"] != "2025-06-06T06:06:06Z" {
		t.Errorf("GA read after a 2026-08-18 update: %v", d)
	}

	// The stored form names everything, in both vocabularies.
	stored := map[string]emulator.StoredProfile{}
	for _, p := range e.srv.Profiles() {
		stored[p.ID] = p
	}
	if p := stored[resold]; *p.ExternalID != "u-1" || *p.ExternalUserDetails.ReferenceID != "u-1" || p.Relationship != "resold" || *p.AccessType != "passthrough" {
		t.Errorf("stored %+v", p)
	}
	if p := stored[ga]; p.Relationship != "external" || *p.AccessType != "application" || *p.ExternalUserDetails.Country != "GB" ||
		!p.ExternalUserDetails.OnboardedAt.Equal(time.Date(2025, 1, 2, 2, 4, 5, 5e8, time.UTC)) {
		t.Errorf("stored %+v", p)
	}
	if p := stored[internal]; p.Relationship != "resold" {
		t.Errorf("stored %+v", p)
	}
}

// TestStoredForm checks /_emulator/profiles key by key against Profiles().
func TestStoredForm(t *testing.T) {
	e := newEnv(t, emulator.Config{})
	ctx := context.Background()
	if _, err := e.client.UserProfiles.New(ctx, anthropic.UserProfileNewParams{
		ExternalUserDetails: anthropic.UserProfileExternalUserDetailsParams{ReferenceID: anthropic.String("r"), EmailHash: anthropic.String("h")},
	}); err != nil {
		t.Fatal(err)
	}
	e.mustCreate(createReq{Relationship: str("internal"), Name: str("Self"), Metadata: map[string]string{"a": "b"}})
	gone := e.mustCreate(createReq{})
	if _, err := e.client.UserProfiles.Delete(ctx, gone.ID, anthropic.UserProfileDeleteParams{}); err != nil {
		t.Fatal(err)
	}
	res, err := http.Get(e.ts.URL + "/_emulator/profiles")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var raw []map[string]json.RawMessage
	if err := json.NewDecoder(res.Body).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	want := sortedStrings("id", "type", "created_at", "updated_at", "external_id", "name", "relationship", "access_type", "metadata", "external_user_details")
	if len(raw) != 2 {
		t.Fatalf("%d stored profiles, want 2 (the deleted one left out)", len(raw))
	}
	for _, m := range raw {
		if got := slices.Sorted(maps.Keys(m)); !slices.Equal(got, want) {
			t.Errorf("stored keys %v, want %v", got, want)
		}
		var d map[string]json.RawMessage
		if err := json.Unmarshal(m["external_user_details"], &d); err != nil || !slices.Equal(slices.Sorted(maps.Keys(d)), detailKeys) {
			t.Errorf("stored external_user_details %s", m["external_user_details"])
		}
	}
	if string(raw[0]["external_id"]) != `"r"` || string(raw[0]["access_type"]) != `"application"` || string(raw[0]["relationship"]) != `"external"` {
		t.Errorf("first stored profile %v", raw[0])
	}
	if string(raw[1]["access_type"]) != "null" || string(raw[1]["relationship"]) != `"internal"` {
		t.Errorf("an internal profile is stored with access_type %s", raw[1]["access_type"])
	}
	var typed []emulator.StoredProfile
	b, _ := json.Marshal(raw)
	if err := json.Unmarshal(b, &typed); err != nil {
		t.Fatal(err)
	}
	direct := e.srv.Profiles()
	for i := range direct {
		a, _ := json.Marshal(typed[i])
		b, _ := json.Marshal(direct[i])
		if string(a) != string(b) {
			t.Errorf("/_emulator/profiles %s\nProfiles()          %s", a, b)
		}
	}
}
