package profile

import (
	"slices"
	"testing"
)

func TestDigestRoundTripsAndComparesByMeaning(t *testing.T) {
	full := Request{ExternalID: Str("u1"), Name: Str("Ada"), Relationship: Str("resold"),
		Metadata: map[string]string{"plan": "pro", "team": "a"}, Country: Str("GB"), EmailHash: Str("ab"),
		NameHash: Str("cd"), OnboardedAt: Str("2026-01-02T03:04:05+01:00"), AccountStatus: Str("active"), EntityType: Str("individual")}
	b := AppendDigest(nil, full)
	d, err := ParseDigest(b, full.ExternalID)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Digested() || *d.ExternalID != "u1" || string(AppendDigest(nil, d)) != string(b) {
		t.Fatalf("round trip: %x -> %+v -> %x", b, d, AppendDigest(nil, d))
	}
	if c := Changes(d, full); len(c) != 0 {
		t.Errorf("a digest and its request differ in %v", c)
	}
	// The same meaning under the GA contract: access_type passthrough is
	// relationship resold, onboarded_at in another offset.
	ga := full
	ga.Relationship, ga.AccessType = nil, Str("passthrough")
	ga.OnboardedAt = Str("2026-01-02T02:04:05Z")
	if !SameContent(d, ga) {
		t.Errorf("the GA form of the same content differs: %v", Changes(d, ga))
	}
	// Every field that changes is named, and a key dropped is named.
	now := full
	now.Name, now.Country = Str("Ada L"), Str("FR")
	now.Metadata = map[string]string{"plan": "pro", "tier": "x"}
	if got, want := Changes(d, now), []string{"name", "country", "metadata.team", "metadata.tier"}; !slices.Equal(got, want) {
		t.Errorf("Changes = %v, want %v", got, want)
	}
	if _, err := ParseDigest([]byte{digestMetadata, 9, 'x'}, nil); err == nil {
		t.Error("a truncated digest parsed")
	}
	if _, err := ParseDigest([]byte{42, 1, 2, 3, 4}, nil); err == nil {
		t.Error("an unknown field code parsed")
	}
}

// Diff from a digest sends the row's own values, only those that changed,
// "" for a dropped metadata key, and its Want is the digest of the result.
func TestDiffFromADigest(t *testing.T) {
	was := Request{ExternalID: Str("u1"), Name: Str("Ada"), Metadata: map[string]string{"plan": "pro", "team": "a"}, Country: Str("GB")}
	d, _ := ParseDigest(AppendDigest(nil, was), was.ExternalID)
	now := Request{ExternalID: Str("u1"), Name: Str("Ada L"), Metadata: map[string]string{"plan": "pro"}}
	u := Diff(d, now, VersionGA)
	if want := []string{"name", "metadata.team"}; !slices.Equal(u.Fields, want) {
		t.Errorf("Fields = %v, want %v", u.Fields, want)
	}
	if want := []string{"country"}; !slices.Equal(u.Uncleared, want) {
		t.Errorf("Uncleared = %v, want %v", u.Uncleared, want)
	}
	if *u.sent.Name != "Ada L" || u.sent.Metadata["team"] != "" || len(u.sent.Metadata) != 1 || u.sent.Country != nil {
		t.Errorf("sent %+v", u.sent)
	}
	result := now
	result.Country = Str("GB") // kept: the API cannot clear it
	if !SameContent(u.Want, result) {
		t.Errorf("Want differs from the result: %v", Changes(u.Want, result))
	}
	s := Suspend(d, AccountSuspended)
	result = was
	result.AccountStatus = Str(string(AccountSuspended))
	if !SameContent(s.Want, result) || *s.sent.AccountStatus != "suspended" {
		t.Errorf("Suspend: want %v", Changes(s.Want, result))
	}
}
