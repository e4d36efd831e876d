package emulator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/provision/provision/internal/emulator"
)

// versionOpt selects a version by its beta value, "" for GA.
func versionOpt(beta string) option.RequestOption {
	if beta == "" {
		return option.WithHeaderDel("anthropic-beta")
	}
	return option.WithHeader("anthropic-beta", beta)
}

// postRaw sends body as is to path under a version and returns the decoded
// object, or the API error.
func (e *env) postRaw(beta, path, body string) (map[string]any, error) {
	var m map[string]any
	err := e.client.Post(context.Background(), path, []byte(body), &m, versionOpt(beta))
	return m, err
}

func TestUpdateSemantics(t *testing.T) {
	e := newEnv(t, emulator.Config{})
	ctx := context.Background()
	meta := map[string]string{}
	for i := range 16 {
		meta[fmt.Sprint("k", i)] = "v"
	}
	p, err := e.client.UserProfiles.New(ctx, anthropic.UserProfileNewParams{
		Name:                anthropic.String("Ada"),
		ExternalUserDetails: anthropic.UserProfileExternalUserDetailsParams{ReferenceID: anthropic.String("r1"), Country: anthropic.String("US")},
		Metadata:            meta,
	})
	if err != nil {
		t.Fatal(err)
	}
	path := "v1/user_profiles/" + p.ID

	// 16 keys stored: adding one is refused, replacing one with a new key
	// in the same update is not.
	_, err = e.postRaw("", path, `{"metadata":{"k16":"v"}}`)
	if ae := wantAPIError(t, err, 400, "invalid_request_error"); ae != nil && !strings.Contains(ae.Message, "metadata: the update would leave 17 keys") {
		t.Errorf("message %q", ae.Message)
	}
	m, err := e.postRaw("", path, `{"metadata":{"k0":"","k16":"new","k1":"changed"}}`)
	if err != nil {
		t.Fatal(err)
	}
	got := m["metadata"].(map[string]any)
	if len(got) != 16 || got["k0"] != nil || got["k16"] != "new" || got["k1"] != "changed" || got["k2"] != "v" {
		t.Errorf("merged metadata %v", got)
	}
	// Deleting every key leaves {}.
	all := map[string]string{}
	for k := range got {
		all[k] = ""
	}
	b, _ := json.Marshal(map[string]any{"metadata": all})
	if m, err = e.postRaw("", path, string(b)); err != nil || len(m["metadata"].(map[string]any)) != 0 {
		t.Errorf("delete every key: %v %v", err, m["metadata"])
	}

	// Omitted fields stay; sent ones replace.
	m, err = e.postRaw("", path, `{"external_user_details":{"email_hash":"h1"}}`)
	d := m["external_user_details"].(map[string]any)
	if err != nil || m["name"] != "Ada" || d["reference_id"] != "r1" || d["country"] != "US" || d["email_hash"] != "h1" || m["access_type"] != "application" {
		t.Errorf("partial update: %v %v", err, m)
	}
	m, _ = e.postRaw("", path, `{"name":"Ada L","access_type":"passthrough","external_user_details":{"reference_id":"r2","email_hash":"h2"}}`)
	d = m["external_user_details"].(map[string]any)
	if m["name"] != "Ada L" || m["access_type"] != "passthrough" || d["reference_id"] != "r2" || d["email_hash"] != "h2" || d["country"] != "US" {
		t.Errorf("replacing update: %v", m)
	}

	// null never clears: each field is refused by name, and nothing changes.
	st := e.srv.Stats()
	for _, tt := range []struct{ beta, body, field string }{
		{"", `{"external_user_details":{"reference_id":null}}`, "external_user_details.reference_id"},
		{"", `{"external_user_details":{"country":null}}`, "external_user_details.country"},
		{"", `{"external_user_details":{"email_hash":null}}`, "external_user_details.email_hash"},
		{"", `{"external_user_details":{"name_hash":null}}`, "external_user_details.name_hash"},
		{"", `{"external_user_details":{"onboarded_at":null}}`, "external_user_details.onboarded_at"},
		{"", `{"external_user_details":{"account_status":null}}`, "external_user_details.account_status"},
		{"", `{"external_user_details":{"entity_type":null}}`, "external_user_details.entity_type"},
		{emulator.Beta20260904, `{"external_user_details":{"country":null}}`, "external_user_details.country"},
		{"", `{"name":null}`, "name"},
		{"", `{"access_type":null}`, "access_type"},
		{"", `{"external_user_details":null}`, "external_user_details"},
		{"", `{"metadata":null}`, "metadata"},
		{emulator.Beta20260818, `{"external_user_onboarded_at":null}`, "external_user_onboarded_at"},
		{emulator.Beta20260818, `{"external_id":null}`, "external_id"},
		{emulator.Beta20260324, `{"relationship":null}`, "relationship"},
	} {
		_, err := e.postRaw(tt.beta, path, tt.body)
		if ae := wantAPIError(t, err, 400, "invalid_request_error"); ae != nil && !strings.HasPrefix(ae.Message, tt.field+": ") {
			t.Errorf("%s: message %q does not start with the field %s", tt.body, ae.Message, tt.field)
		}
	}
	if after := e.srv.Stats(); after.Updated != st.Updated {
		t.Errorf("refused updates were counted: %d -> %d", st.Updated, after.Updated)
	}
	if now := getAs(t, e, p.ID, ""); now["name"] != "Ada L" || now["external_user_details"].(map[string]any)["country"] != "US" {
		t.Errorf("a refused update changed the profile: %v", now)
	}

	// An empty update changes nothing but updated_at.
	before := getAs(t, e, p.ID, "")
	after, err := e.postRaw("", path, `{}`)
	if err != nil || after["updated_at"] == before["updated_at"] || after["created_at"] != before["created_at"] {
		t.Errorf("empty update: %v %v -> %v", err, before, after)
	}
	delete(before, "updated_at")
	delete(after, "updated_at")
	b1, _ := json.Marshal(before)
	b2, _ := json.Marshal(after)
	if string(b1) != string(b2) {
		t.Errorf("empty update changed %s into %s", b1, b2)
	}

	// 2026-03-24: resold needs a name, the stored one included.
	nameless := e.mustCreate(createReq{})
	_, err = e.postRaw(emulator.Beta20260324, "v1/user_profiles/"+nameless.ID, `{"relationship":"resold"}`)
	if ae := wantAPIError(t, err, 400, "invalid_request_error"); ae != nil && !strings.HasPrefix(ae.Message, "name: required") {
		t.Errorf("message %q", ae.Message)
	}
	if m, err := e.postRaw(emulator.Beta20260324, "v1/user_profiles/"+nameless.ID, `{"relationship":"resold","name":"Co"}`); err != nil || m["relationship"] != "resold" {
		t.Errorf("resold with a name: %v %v", err, m)
	}
	if m, err := e.postRaw(emulator.Beta20260324, "v1/user_profiles/"+nameless.ID, `{"relationship":"internal"}`); err != nil || m["relationship"] != "internal" || m["name"] != "Co" {
		t.Errorf("relationship internal: %v %v", err, m)
	}

	// Unknown ids.
	_, err = e.postRaw("", "v1/user_profiles/uprof_000000000000000000000000", `{"name":"x"}`)
	wantAPIError(t, err, 404, "not_found_error")
}

func TestDeleteSemantics(t *testing.T) {
	e := newEnv(t, emulator.Config{})
	ctx := context.Background()
	var ids []string
	for i := range 5 {
		ids = append(ids, e.mustCreate(createReq{Name: str(fmt.Sprint("n", i))}).ID)
	}
	for _, id := range ids[:2] {
		var raw *http.Response
		del, err := e.client.UserProfiles.Delete(ctx, id, anthropic.UserProfileDeleteParams{}, option.WithResponseInto(&raw))
		if err != nil || del.RawJSON() != `{"id":"`+id+`","type":"user_profile_deleted"}` || !isRequestID(raw.Header.Get("request-id")) {
			t.Fatalf("delete: %v %s", err, del.RawJSON())
		}
	}
	// The three newest are left: a page of three is the last, by either order.
	for _, by := range []string{"created_at", "name"} {
		for _, order := range []string{"asc", "desc"} {
			page, err := e.client.UserProfiles.List(ctx, anthropic.UserProfileListParams{
				Limit: anthropic.Int(3), Order: anthropic.UserProfileListOrder(order), OrderBy: anthropic.UserProfileListOrderBy(by),
			})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range page.Data {
				got = append(got, p.ID)
			}
			if len(got) != 3 || page.JSON.NextPage.Raw() != "null" || strings.Contains(strings.Join(got, ","), ids[0]) || strings.Contains(strings.Join(got, ","), ids[1]) {
				t.Errorf("%s %s: %v next %s", by, order, got, page.JSON.NextPage.Raw())
			}
		}
	}
	for _, beta := range []string{"", emulator.Beta20260324, emulator.Beta20260818, emulator.Beta20260904} {
		err := e.client.Get(ctx, "v1/user_profiles/"+ids[0], nil, nil, versionOpt(beta))
		wantAPIError(t, err, 404, "not_found_error")
		_, err = e.postRaw(beta, "v1/user_profiles/"+ids[0], `{"name":"back"}`)
		wantAPIError(t, err, 404, "not_found_error")
		err = e.client.Delete(ctx, "v1/user_profiles/"+ids[0], nil, nil, versionOpt(beta))
		wantAPIError(t, err, 404, "not_found_error")
	}
	if st := e.srv.Stats(); st.Deleted != 2 || st.Profiles != 3 || st.Created != 5 {
		t.Errorf("stats %+v", st)
	}
}

// TestCreateRulesPerVersion sends bodies each version refuses and checks the
// message names the field.
func TestCreateRulesPerVersion(t *testing.T) {
	e := newEnv(t, emulator.Config{})
	future := time.Now().Add(2 * time.Minute).UTC().Format(time.RFC3339)
	soon := time.Now().Add(30 * time.Second).UTC().Format(time.RFC3339)
	long := strings.Repeat("é", 256)
	ok255 := strings.Repeat("é", 255)
	for _, tt := range []struct {
		beta, body, want string // want "" = accepted
	}{
		{"", `{"external_id":"x"}`, `"external_id": unknown field; a create under GA`},
		{"", `{"external_id":"x"}`, "external_user_details.reference_id instead"},
		{"", `{"relationship":"external"}`, `"relationship": unknown field`},
		{"", `{"trust_grants":{}}`, `"trust_grants": unknown field`},
		{"", `{"access_type":"internal"}`, `access_type: "internal" is not one of application, passthrough`},
		{"", `{"access_type":"Application"}`, "access_type: "},
		{"", `{"name":"` + long + `"}`, "name: value is 256 characters, at most 255 allowed"},
		{"", `{"name":""}`, "name: empty"},
		{"", `{"external_user_details":[]}`, "external_user_details: must be an object, not an array"},
		{"", `{"external_user_details":{"ref":"x"}}`, `"external_user_details.ref": unknown field`},
		{"", `{"external_user_details":{"reference_id":""}}`, "external_user_details.reference_id: empty"},
		{"", `{"external_user_details":{"reference_id":"` + long + `"}}`, "external_user_details.reference_id: value is 256 characters"},
		{"", `{"external_user_details":{"reference_id":"` + ok255 + `"}}`, ""},
		{"", `{"external_user_details":{"country":"us"}}`, `external_user_details.country: "us" is not an ISO 3166-1 alpha-2 code`},
		{"", `{"external_user_details":{"country":"USA"}}`, "external_user_details.country: "},
		{"", `{"external_user_details":{"country":"É"}}`, "external_user_details.country: "},
		{"", `{"external_user_details":{"country":"ZZ"}}`, ""}, // only the form is checked
		{"", `{"external_user_details":{"country":1}}`, "external_user_details.country: must be a string"},
		{"", `{"external_user_details":{"email_hash":""}}`, "external_user_details.email_hash: empty"},
		{"", `{"external_user_details":{"name_hash":"` + long + `"}}`, "external_user_details.name_hash: value is 256 characters"},
		{"", `{"external_user_details":{"email_hash":"` + ok255 + `","name_hash":"` + ok255 + `"}}`, ""},
		{"", `{"external_user_details":{"onboarded_at":"2026-01-01"}}`, "external_user_details.onboarded_at: \"2026-01-01\" is not a complete RFC 3339 timestamp"},
		{"", `{"external_user_details":{"onboarded_at":"2026-01-01T00:00:00"}}`, "external_user_details.onboarded_at: "},
		{"", `{"external_user_details":{"onboarded_at":"` + future + `"}}`, "external_user_details.onboarded_at: " + future + " is more than 1 minute in the future"},
		{"", `{"external_user_details":{"onboarded_at":"` + soon + `"}}`, ""},
		{"", `{"external_user_details":{"account_status":"deleted"}}`, `external_user_details.account_status: "deleted" is not one of active, suspended, blocked`},
		{"", `{"external_user_details":{"entity_type":"person"}}`, `external_user_details.entity_type: "person" is not one of individual, business, non_profit, government`},
		{"", `{"external_user_details":{"country":null,"account_status":"active"}}`, ""},
		{"", `{"metadata":{"plan":""}}`, "metadata.plan: empty"},
		{"", `{"metadata":{"` + strings.Repeat("k", 65) + `":"v"}}`, "key is 65 characters, at most 64 allowed"},
		{"", `{"metadata":{"":"v"}}`, "metadata: a key is empty"},
		{emulator.Beta20260904, `{"external_id":"x"}`, `"external_id": unknown field; a create under user-profiles-2026-09-04`},
		{emulator.Beta20260904, `{"external_user_onboarded_at":"2020-01-01T00:00:00Z"}`, "external_user_details.onboarded_at instead"},
		{emulator.Beta20260904, `{"external_user_details":{"entity_type":"business"},"access_type":"passthrough"}`, ""},
		{emulator.Beta20260818, `{"external_user_details":{}}`, `"external_user_details": unknown field`},
		{emulator.Beta20260818, `{"relationship":"resold"}`, "access_type replaced relationship"},
		{emulator.Beta20260818, `{"external_user_onboarded_at":"yesterday"}`, "external_user_onboarded_at: \"yesterday\" is not a complete RFC 3339 timestamp"},
		{emulator.Beta20260818, `{"external_user_onboarded_at":"` + future + `"}`, "external_user_onboarded_at: " + future + " is more than 1 minute in the future"},
		{emulator.Beta20260818, `{"external_id":"","access_type":"application"}`, "external_id: empty"},
		{emulator.Beta20260818, `{"access_type":"passthrough"}`, ""}, // no name needed
		{emulator.Beta20260324, `{"access_type":"application"}`, `"access_type": unknown field`},
		{emulator.Beta20260324, `{"external_user_onboarded_at":"2020-01-01T00:00:00Z"}`, "accepted only under user-profiles-2026-08-18"},
		{emulator.Beta20260324, `{"external_user_details":{}}`, "this version takes external_id"},
	} {
		_, err := e.postRaw(tt.beta, "v1/user_profiles", tt.body)
		if tt.want == "" {
			if err != nil {
				t.Errorf("%q %s: %v, want it accepted", tt.beta, tt.body, err)
			}
			continue
		}
		if ae := wantAPIError(t, err, 400, "invalid_request_error"); ae != nil && !strings.Contains(ae.Message, tt.want) {
			t.Errorf("%q %s: message %q does not contain %q", tt.beta, tt.body, ae.Message, tt.want)
		}
	}
}

// TestListEnforcementFilter: GA lists filter by enforcement_status, which
// every emulated profile has as unrestricted; the betas refuse the filter.
func TestListEnforcementFilter(t *testing.T) {
	e := newEnv(t, emulator.Config{})
	ctx := context.Background()
	var want []string
	for i := range 25 {
		want = append(want, e.mustCreate(createReq{Name: str(fmt.Sprint("p", i))}).ID)
	}
	list := func(statuses ...anthropic.UserProfileEnforcementStatus) ([]string, error) {
		pager := e.client.UserProfiles.ListAutoPaging(ctx, anthropic.UserProfileListParams{
			Limit: anthropic.Int(4), Order: "asc", EnforcementStatus: statuses,
		})
		var ids []string
		for p := range pager.All() {
			ids = append(ids, p.ID)
		}
		return ids, pager.Err()
	}
	for _, tt := range []struct {
		statuses []anthropic.UserProfileEnforcementStatus
		all      bool
	}{
		{nil, true},
		{[]anthropic.UserProfileEnforcementStatus{"unrestricted"}, true},
		{[]anthropic.UserProfileEnforcementStatus{"banned", "unrestricted"}, true},
		{[]anthropic.UserProfileEnforcementStatus{"banned"}, false},
		{[]anthropic.UserProfileEnforcementStatus{"pending", "restricted"}, false},
	} {
		ids, err := list(tt.statuses...)
		if err != nil {
			t.Fatal(err)
		}
		if tt.all && strings.Join(ids, ",") != strings.Join(want, ",") || !tt.all && len(ids) != 0 {
			t.Errorf("enforcement_status %v: %d profiles", tt.statuses, len(ids))
		}
	}
	// Without the SDK's brackets too.
	page, err := e.client.UserProfiles.List(ctx, anthropic.UserProfileListParams{}, option.WithQuery("enforcement_status", "banned"))
	if err != nil || len(page.Data) != 0 {
		t.Errorf("enforcement_status=banned: %v %d", err, len(page.Data))
	}
	_, err = list("suspended")
	if ae := wantAPIError(t, err, 400, "invalid_request_error"); ae != nil && !strings.Contains(ae.Message, "enforcement_status") {
		t.Errorf("message %q", ae.Message)
	}
	for _, beta := range []string{emulator.Beta20260324, emulator.Beta20260818, emulator.Beta20260904} {
		_, err := e.client.Beta.UserProfiles.List(ctx, anthropic.BetaUserProfileListParams{Betas: []anthropic.AnthropicBeta{beta}},
			option.WithQuery("enforcement_status[]", "unrestricted"))
		if ae := wantAPIError(t, err, 400, "invalid_request_error"); ae != nil && !strings.Contains(ae.Message, "enforcement_status") {
			t.Errorf("%s: message %q", beta, ae.Message)
		}
	}
}

// TestReadsWriteNothing: gets and lists under every version leave the write
// counts alone, which is how a test proves a dry run sent no write.
func TestReadsWriteNothing(t *testing.T) {
	e := newEnv(t, emulator.Config{})
	p := e.mustCreate(createReq{})
	for _, beta := range []string{"", emulator.Beta20260324, emulator.Beta20260818, emulator.Beta20260904} {
		getAs(t, e, p.ID, beta)
		if err := e.client.Get(context.Background(), "v1/user_profiles", nil, nil, versionOpt(beta)); err != nil {
			t.Fatal(err)
		}
	}
	res, err := http.Get(e.ts.URL + "/_emulator/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var st map[string]any
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"requests": 9.0, "created": 1.0, "updated": 0.0, "deleted": 0.0, "rate_limited": 0.0, "profiles": 1.0}
	for k, v := range want {
		if st[k] != v {
			t.Errorf("stats %s = %v, want %v (%v)", k, st[k], v, st)
		}
	}
	if faults, ok := st["faults"].(map[string]any); !ok || len(faults) != 6 {
		t.Errorf("stats faults %v", st["faults"])
	}
	if len(st) != len(want)+1 {
		t.Errorf("stats keys %v", slicesSorted(st))
	}
}

func slicesSorted(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }
