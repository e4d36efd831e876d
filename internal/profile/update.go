package profile

import (
	"maps"
	"slices"
)

// Update is the partial update that takes a profile from what it holds to
// what a row asks for, under one contract: only the fields that changed are
// sent, a metadata key the row no longer has is sent as "" (which deletes
// it), and a field the row leaves empty that the contract cannot clear is
// kept and named.
type Update struct {
	// Fields are the changed fields as a report names them: "name",
	// "access_type", "metadata.plan", "country".
	Fields []string
	// Uncleared are fields the row leaves empty that hold a value the API
	// cannot clear (an external_user_details field once set, a name).
	Uncleared []string
	// Want is what the profile holds once the update is applied.
	Want Request
	sent Request // the changed fields only, metadata with "" for deletions
}

// Empty reports whether nothing needs sending.
func (u Update) Empty() bool { return len(u.Fields) == 0 }

// Body is the JSON body of POST /v1/user_profiles/{id} under v.
func (u Update) Body(v Version) any { return u.sent.Body(v) }

// Diff computes the update from was (what the profile holds, as far as the
// ledger knows) to now (the row), under contract v. Fields v cannot carry
// are neither compared nor sent.
func Diff(was, now Request, v Version) Update {
	u := Update{Want: was}
	u.Want.Metadata = maps.Clone(was.Metadata)
	str := func(field string, w, n *string, want **string, sent **string) {
		switch {
		case n == nil && w != nil:
			u.Uncleared = append(u.Uncleared, field)
		case n != nil && (w == nil || *w != *n):
			u.Fields = append(u.Fields, field)
			*want, *sent = n, n
		}
	}
	str("name", was.Name, now.Name, &u.Want.Name, &u.sent.Name)
	if was.relationship() != now.relationship() {
		field := "access_type"
		if v.hasRelationship() {
			field = "relationship"
		}
		u.Fields = append(u.Fields, field)
		u.Want.Relationship, u.Want.AccessType = now.Relationship, now.AccessType
		u.sent.Relationship, u.sent.AccessType = now.Relationship, now.AccessType
		if now.Relationship == nil && now.AccessType == nil {
			// Back to the server's default, said explicitly.
			u.sent.Relationship = Str(DefaultRelationship)
		}
	}
	if v.Accepts("onboarded_at") {
		if w, n := utcTimestamp(was.OnboardedAt), utcTimestamp(now.OnboardedAt); !eqPtr(w, n) {
			str("onboarded_at", w, n, &u.Want.OnboardedAt, &u.sent.OnboardedAt)
		}
	}
	if v.hasDetails() {
		str("country", was.Country, now.Country, &u.Want.Country, &u.sent.Country)
		str("email_hash", was.EmailHash, now.EmailHash, &u.Want.EmailHash, &u.sent.EmailHash)
		str("name_hash", was.NameHash, now.NameHash, &u.Want.NameHash, &u.sent.NameHash)
		str("account_status", was.AccountStatus, now.AccountStatus, &u.Want.AccountStatus, &u.sent.AccountStatus)
		str("entity_type", was.EntityType, now.EntityType, &u.Want.EntityType, &u.sent.EntityType)
	}
	var keys []string
	for _, k := range slices.Sorted(maps.Keys(was.Metadata)) {
		if n, ok := now.Metadata[k]; !ok || n != was.Metadata[k] {
			keys = append(keys, k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(now.Metadata)) {
		if _, ok := was.Metadata[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if u.sent.Metadata == nil {
			u.sent.Metadata = map[string]string{}
		}
		if u.Want.Metadata == nil {
			u.Want.Metadata = map[string]string{}
		}
		n, ok := now.Metadata[k]
		u.sent.Metadata[k] = n // "" deletes the key
		if ok {
			u.Want.Metadata[k] = n
		} else {
			delete(u.Want.Metadata, k)
		}
		u.Fields = append(u.Fields, "metadata."+k)
	}
	if len(u.Want.Metadata) == 0 {
		u.Want.Metadata = nil
	}
	return u
}

// Suspend is the update that sets a profile's account_status to status
// (suspended, or active again), from what it holds.
func Suspend(was Request, status AccountStatus) Update {
	u := Update{Want: was}
	s := string(status)
	u.Want.AccountStatus, u.sent.AccountStatus = &s, &s
	u.Fields = []string{"account_status"}
	return u
}
