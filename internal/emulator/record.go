package emulator

import (
	"maps"
	"time"
)

// access is a profile's relationship (2026-03-24) and access_type (later
// versions) in one value. The zero value is the server's default.
type access uint8

const (
	// accessApplication is relationship external, access_type application:
	// an individual end-user of the platform's product.
	accessApplication access = iota
	// accessPassthrough is relationship resold, access_type passthrough: a
	// company the platform resells Claude access to.
	accessPassthrough
	// accessInternal is relationship internal, the platform's own use. The
	// later contracts have no such access_type; they render it as
	// application, the default every profile without a stated access type
	// has, because a null or invented value would break their required enum.
	accessInternal
)

// Wire names of access.
const (
	relExternal       = "external"
	relResold         = "resold"
	relInternal       = "internal"
	accessTypeApp     = "application"
	accessTypePassthr = "passthrough"
)

func (a access) relationship() string {
	switch a {
	case accessPassthrough:
		return relResold
	case accessInternal:
		return relInternal
	}
	return relExternal
}

func (a access) accessType() string {
	if a == accessPassthrough {
		return accessTypePassthr
	}
	return accessTypeApp
}

// Enumerations of external_user_details, indexed by their stored code; code
// 0 is null.
var (
	accountStatuses = [...]string{"", "active", "suspended", "blocked"}
	entityTypes     = [...]string{"", "individual", "business", "non_profit", "government"}
)

// enumCode returns the stored code of value in names, or 0 when it is none
// of them.
func enumCode(names []string, value string) uint8 {
	for i, n := range names {
		if i > 0 && n == value {
			return uint8(i)
		}
	}
	return 0
}

// enforcementUnrestricted is every profile's enforcement_status: the
// emulator opens no enforcement actions.
const enforcementUnrestricted = "unrestricted"

// record is the one stored form of a profile, whatever version created or
// last updated it; each version renders it in its own shape. A record is
// immutable once stored: an update stores a new one in its place, so that
// readers never need a lock. Strings the API limits to 1..255 characters use
// "" for null, and times are Unix microseconds, to keep a million profiles
// small.
type record struct {
	id          string
	name        string            // "" = null
	referenceID string            // external_id, external_user_details.reference_id; "" = null
	metadata    map[string]string // never nil; never written once stored
	more        *details          // nil while every other external_user_details field is null
	created     int64             // Unix µs, unique and increasing along the log
	updated     int64             // Unix µs
	access      access
	deleted     bool // a tombstone: id and created only
}

// details holds the external_user_details fields that most profiles never
// set, out of line so that they cost nothing until one is.
type details struct {
	emailHash     string    // "" = null
	nameHash      string    // "" = null
	onboardedAt   time.Time // UTC; valid when hasOnboarded
	hasOnboarded  bool
	country       [2]byte // zero = null
	accountStatus uint8   // index into accountStatuses; 0 = null
	entityType    uint8   // index into entityTypes; 0 = null
}

func (d *details) isZero() bool { return d == nil || *d == details{} }

func microTime(us int64) time.Time { return time.UnixMicro(us).UTC() }

// StoredProfile is the stored form of a profile as GET /_emulator/profiles
// and Server.Profiles give it: every field any version reads, with both the
// 2026-03-24 names (external_id, relationship) and the later ones
// (access_type, external_user_details.reference_id). A relationship of
// internal has access_type null here; the API renders it as application.
type StoredProfile struct {
	// ID is the profile's uprof_ id.
	ID string `json:"id"`
	// Type is always user_profile.
	Type string `json:"type"`
	// CreatedAt is when the profile was created, on the server's clock.
	CreatedAt time.Time `json:"created_at"`
	// UpdatedAt is when it was last created or updated, on the server's clock.
	UpdatedAt time.Time `json:"updated_at"`
	// ExternalID equals ExternalUserDetails.ReferenceID.
	ExternalID *string `json:"external_id"`
	// Name is nil until set.
	Name *string `json:"name"`
	// Relationship is external, resold or internal.
	Relationship string `json:"relationship"`
	// AccessType is application, passthrough, or nil for internal.
	AccessType *string `json:"access_type"`
	// Metadata is never nil.
	Metadata map[string]string `json:"metadata"`
	// ExternalUserDetails has every field, nil until set.
	ExternalUserDetails StoredDetails `json:"external_user_details"`
}

// StoredDetails is the external_user_details part of StoredProfile.
type StoredDetails struct {
	// ReferenceID is the platform's own id, the 2026-03-24 external_id.
	ReferenceID *string `json:"reference_id"`
	// Country is two upper-case letters.
	Country *string `json:"country"`
	// EmailHash is opaque.
	EmailHash *string `json:"email_hash"`
	// NameHash is opaque.
	NameHash *string `json:"name_hash"`
	// OnboardedAt is in UTC.
	OnboardedAt *time.Time `json:"onboarded_at"`
	// AccountStatus is active, suspended or blocked.
	AccountStatus *string `json:"account_status"`
	// EntityType is individual, business, non_profit or government.
	EntityType *string `json:"entity_type"`
}

func optStr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// stored converts r to its exported stored form, sharing nothing with r.
func (r *record) stored() StoredProfile {
	p := StoredProfile{
		ID:           r.id,
		Type:         "user_profile",
		CreatedAt:    microTime(r.created),
		UpdatedAt:    microTime(r.updated),
		ExternalID:   optStr(r.referenceID),
		Name:         optStr(r.name),
		Relationship: r.access.relationship(),
		Metadata:     maps.Clone(r.metadata),
	}
	if p.Metadata == nil {
		p.Metadata = map[string]string{}
	}
	if r.access != accessInternal {
		p.AccessType = optStr(r.access.accessType())
	}
	p.ExternalUserDetails.ReferenceID = optStr(r.referenceID)
	if d := r.more; d != nil {
		if d.country != [2]byte{} {
			p.ExternalUserDetails.Country = optStr(string(d.country[:]))
		}
		p.ExternalUserDetails.EmailHash = optStr(d.emailHash)
		p.ExternalUserDetails.NameHash = optStr(d.nameHash)
		if d.hasOnboarded {
			t := d.onboardedAt
			p.ExternalUserDetails.OnboardedAt = &t
		}
		p.ExternalUserDetails.AccountStatus = optStr(accountStatuses[d.accountStatus])
		p.ExternalUserDetails.EntityType = optStr(entityTypes[d.entityType])
	}
	return p
}
