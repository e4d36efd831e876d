package profile

import (
	"slices"
)

// Changes names the fields whose values differ between what a profile
// holds (was: a request or the state's digest of one) and what a row asks
// for now, as a report names them: "name", "relationship", "country",
// "metadata.plan". A sync sends exactly these. relationship and access_type
// are one field, compared by meaning, and onboarded_at in UTC, so a ledger
// entry of one contract and a row of another differ only in what they mean.
func Changes(was, now Request) []string {
	w, n := was.Digest(), now.Digest()
	var diff []string
	for _, d := range []struct {
		name string
		a, b *string
	}{
		{"name", w.Name, n.Name},
		{"relationship", w.Relationship, n.Relationship},
		{"country", w.Country, n.Country},
		{"email_hash", w.EmailHash, n.EmailHash},
		{"name_hash", w.NameHash, n.NameHash},
		{"onboarded_at", w.OnboardedAt, n.OnboardedAt},
		{"account_status", w.AccountStatus, n.AccountStatus},
		{"entity_type", w.EntityType, n.EntityType},
	} {
		if !eqPtr(d.a, d.b) {
			diff = append(diff, d.name)
		}
	}
	return append(diff, metadataChanges(w.Metadata, n.Metadata)...)
}

// metadataChanges are the keys whose values differ, or that only one of
// was and now has, in order.
func metadataChanges(was, now map[string]string) []string {
	var keys []string
	for k, v := range was {
		if w, ok := now[k]; !ok || w != v {
			keys = append(keys, k)
		}
	}
	for k := range now {
		if _, ok := was[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for i, k := range keys {
		keys[i] = "metadata." + k
	}
	return keys
}
