package profile

import "slices"

// Changes names the fields whose values differ between what a profile was
// made with (was) and what a row asks for now, as a report names them:
// "name", "relationship", "country", "metadata.plan". A sync sends exactly
// these. relationship and access_type are one field, compared by meaning.
func Changes(was, now Request) []string {
	var diff []string
	if !eqPtr(was.Name, now.Name) {
		diff = append(diff, "name")
	}
	w, n := was.normalised(), now.normalised()
	if w.Relationship != n.Relationship {
		diff = append(diff, "relationship")
	}
	// The GA details, compared as ContentHash does (onboarded_at in UTC),
	// so a ledger entry of one contract and a row of another differ only in
	// what they mean.
	for _, d := range []struct {
		name string
		a, b *string
	}{
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
	var keys []string
	for k, v := range was.Metadata {
		if w, ok := now.Metadata[k]; !ok || w != v {
			keys = append(keys, "metadata."+k)
		}
	}
	for k := range now.Metadata {
		if _, ok := was.Metadata[k]; !ok {
			keys = append(keys, "metadata."+k)
		}
	}
	slices.Sort(keys)
	return append(diff, keys...)
}
