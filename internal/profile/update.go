package profile

import (
	"maps"
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

// Diff computes the update from was (what the profile holds: the state's
// digest of it, or a request) to now (the row), under contract v. Fields v
// cannot carry are neither compared nor sent. Values are compared by their
// digests; Want is the digest of the result.
func Diff(was, now Request, v Version) Update {
	w, n := was.Digest(), now.Digest()
	u := Update{Want: w}
	u.Want.Metadata = maps.Clone(w.Metadata)
	str := func(field string, wd, nd, value *string, want **string, sent **string) {
		switch {
		case nd == nil && wd != nil:
			u.Uncleared = append(u.Uncleared, field)
		case nd != nil && (wd == nil || *wd != *nd):
			u.Fields = append(u.Fields, field)
			*want, *sent = nd, value
		}
	}
	str("name", w.Name, n.Name, now.Name, &u.Want.Name, &u.sent.Name)
	if *w.Relationship != *n.Relationship {
		field := "access_type"
		if v.hasRelationship() {
			field = "relationship"
		}
		u.Fields = append(u.Fields, field)
		u.Want.Relationship = n.Relationship
		u.sent.Relationship, u.sent.AccessType = now.Relationship, now.AccessType
		if now.Relationship == nil && now.AccessType == nil {
			// Back to the server's default, said explicitly.
			u.sent.Relationship = Str(DefaultRelationship)
		}
	}
	if v.Accepts("onboarded_at") {
		str("onboarded_at", w.OnboardedAt, n.OnboardedAt, utcTimestamp(now.OnboardedAt), &u.Want.OnboardedAt, &u.sent.OnboardedAt)
	}
	if v.hasDetails() {
		str("country", w.Country, n.Country, now.Country, &u.Want.Country, &u.sent.Country)
		str("email_hash", w.EmailHash, n.EmailHash, now.EmailHash, &u.Want.EmailHash, &u.sent.EmailHash)
		str("name_hash", w.NameHash, n.NameHash, now.NameHash, &u.Want.NameHash, &u.sent.NameHash)
		str("account_status", w.AccountStatus, n.AccountStatus, now.AccountStatus, &u.Want.AccountStatus, &u.sent.AccountStatus)
		str("entity_type", w.EntityType, n.EntityType, now.EntityType, &u.Want.EntityType, &u.sent.EntityType)
	}
	for _, f := range metadataChanges(w.Metadata, n.Metadata) {
		k := f[len("metadata."):]
		if u.sent.Metadata == nil {
			u.sent.Metadata = map[string]string{}
		}
		if u.Want.Metadata == nil {
			u.Want.Metadata = map[string]string{}
		}
		value, ok := now.Metadata[k]
		u.sent.Metadata[k] = value // "" deletes the key
		if ok {
			u.Want.Metadata[k] = n.Metadata[k]
		} else {
			delete(u.Want.Metadata, k)
		}
		u.Fields = append(u.Fields, f)
	}
	if len(u.Want.Metadata) == 0 {
		u.Want.Metadata = nil
	}
	return u
}

// Suspend is the update that sets a profile's account_status to status
// (suspended, or active again), from what it holds (a digest or a request).
func Suspend(was Request, status AccountStatus) Update {
	u := Update{Want: was.Digest()}
	s := string(status)
	u.Want.AccountStatus, u.sent.AccountStatus = hashPtr(&s), &s
	u.Fields = []string{"account_status"}
	return u
}
