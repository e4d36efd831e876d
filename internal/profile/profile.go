// Package profile holds the domain of provision: the create request for one
// user profile, the profile the API returns, the contracts (versions) of the
// API with their bodies and validation rules, and the identity and content
// of a row that the ledger and reconciliation rely on.
package profile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// BetaHeader is the anthropic-beta value of the seed's contract, the
// default one; Version.Beta gives every version's.
const BetaHeader = "user-profiles-2026-03-24"

// Relationship values accepted by the seed contract.
const (
	RelationshipExternal = "external"
	RelationshipResold   = "resold"
	RelationshipInternal = "internal"
)

// DefaultRelationship is what the server assumes when a request omits relationship.
const DefaultRelationship = RelationshipExternal

// Request is what one input row asks the server to store, in a form that
// serves every contract: Body renders it for one. A nil pointer is an absent
// field. Its JSON (kept in the ledger) uses the seed's keys, and the later
// contracts' fields under their own keys, omitted when absent, so that a
// ledger written before they existed reads the same.
//
// ExternalID is the seed's external_id and the GA contract's
// external_user_details.reference_id: one value under two names.
// Relationship and AccessType are each kept as given; a contract that speaks
// the other's word translates (external = application, resold =
// passthrough; internal has no GA equivalent).
type Request struct {
	ExternalID   *string           `json:"external_id,omitempty"`
	Name         *string           `json:"name,omitempty"`
	Relationship *string           `json:"relationship,omitempty"`
	Metadata     map[string]string `json:"metadata,omitempty"`

	AccessType *string `json:"access_type,omitempty"`
	// The external_user_details of the later contracts, reference_id aside.
	Country   *string `json:"country,omitempty"`
	EmailHash *string `json:"email_hash,omitempty"`
	NameHash  *string `json:"name_hash,omitempty"`
	// OnboardedAt is an RFC 3339 timestamp as given; Body and the content
	// hash use its UTC form.
	OnboardedAt   *string `json:"onboarded_at,omitempty"`
	AccountStatus *string `json:"account_status,omitempty"`
	EntityType    *string `json:"entity_type,omitempty"`

	// digested: the values are hashes (see Digest), never sent.
	digested bool
	// validUTF8: every string is known to be valid UTF-8 (WithValidUTF8).
	validUTF8 bool
}

// TrustGrant is one entry of a profile's trust_grants.
type TrustGrant struct {
	Status string `json:"status"`
}

// Profile is the user profile object the API returns and lists, decoded from
// any contract's shape into one form (see UnmarshalJSON). It marshals in the
// seed's shape: the fields of the later contracts are not part of it.
type Profile struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	ExternalID *string   `json:"external_id"` // external_id, or external_user_details.reference_id
	Name       *string   `json:"name"`
	// Relationship is the seed's relationship, or the one access_type
	// translates to; "" for an access type provision does not know.
	Relationship string                `json:"relationship"`
	Metadata     map[string]string     `json:"metadata"`
	TrustGrants  map[string]TrustGrant `json:"trust_grants"`

	// AccessType is access_type, or the one the seed's relationship
	// translates to; "" for internal.
	AccessType AccessType `json:"-"`
	// The external_user_details (and the 2026-08-18 contract's
	// external_user_onboarded_at); nil when null or not served.
	Country       *string    `json:"-"`
	EmailHash     *string    `json:"-"`
	NameHash      *string    `json:"-"`
	OnboardedAt   *time.Time `json:"-"`
	AccountStatus *string    `json:"-"`
	EntityType    *string    `json:"-"`
	// What only the GA contract serves, kept as sent.
	Programs           json.RawMessage `json:"-"`
	EnforcementStatus  string          `json:"-"`
	EnforcementActions json.RawMessage `json:"-"`
}

// wireProfile holds the keys of every contract's profile object.
type wireProfile struct {
	ID                      string                `json:"id"`
	Type                    string                `json:"type"`
	CreatedAt               time.Time             `json:"created_at"`
	UpdatedAt               time.Time             `json:"updated_at"`
	ExternalID              *string               `json:"external_id"`
	Name                    *string               `json:"name"`
	Relationship            *string               `json:"relationship"`
	AccessType              *string               `json:"access_type"`
	Metadata                map[string]string     `json:"metadata"`
	TrustGrants             map[string]TrustGrant `json:"trust_grants"`
	ExternalUserOnboardedAt *time.Time            `json:"external_user_onboarded_at"`
	Details                 *struct {
		ReferenceID   *string    `json:"reference_id"`
		Country       *string    `json:"country"`
		EmailHash     *string    `json:"email_hash"`
		NameHash      *string    `json:"name_hash"`
		OnboardedAt   *time.Time `json:"onboarded_at"`
		AccountStatus *string    `json:"account_status"`
		EntityType    *string    `json:"entity_type"`
	} `json:"external_user_details"`
	Programs           json.RawMessage `json:"programs"`
	EnforcementStatus  string          `json:"enforcement_status"`
	EnforcementActions json.RawMessage `json:"enforcement_actions"`
}

// UnmarshalJSON decodes a profile served under any contract: the seed's
// (external_id, relationship), 2026-08-18's (external_id, access_type,
// external_user_onboarded_at), 2026-09-04's and GA's (access_type,
// external_user_details with nulls). Relationship and AccessType are both
// filled, each translated from the other where the contract serves one.
func (p *Profile) UnmarshalJSON(b []byte) error {
	var w wireProfile
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*p = w.profile()
	return nil
}

// Profiles is a listing's page of profiles. It decodes the list in one
// pass: encoding/json hands a type with its own UnmarshalJSON its bytes
// after scanning them, and that Unmarshal scans them twice again, so a
// page of Profiles decoded one by one is read four times.
type Profiles []Profile

// UnmarshalJSON decodes a JSON array of profiles of any contract.
func (ps *Profiles) UnmarshalJSON(b []byte) error {
	var ws []wireProfile
	if err := json.Unmarshal(b, &ws); err != nil {
		return err
	}
	out := make(Profiles, len(ws))
	for i := range ws {
		out[i] = ws[i].profile()
	}
	*ps = out
	return nil
}

func (w *wireProfile) profile() Profile {
	p := Profile{
		ID: w.ID, Type: w.Type, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt,
		ExternalID: w.ExternalID, Name: w.Name, Metadata: w.Metadata, TrustGrants: w.TrustGrants,
		OnboardedAt: w.ExternalUserOnboardedAt,
		Programs:    w.Programs, EnforcementStatus: w.EnforcementStatus, EnforcementActions: w.EnforcementActions,
	}
	if d := w.Details; d != nil {
		if p.ExternalID == nil {
			p.ExternalID = d.ReferenceID
		}
		if p.OnboardedAt == nil {
			p.OnboardedAt = d.OnboardedAt
		}
		p.Country, p.EmailHash, p.NameHash = d.Country, d.EmailHash, d.NameHash
		p.AccountStatus, p.EntityType = d.AccountStatus, d.EntityType
	}
	switch {
	case w.Relationship != nil:
		p.Relationship = *w.Relationship
		p.AccessType, _ = AccessTypeOf(p.Relationship)
	case w.AccessType != nil:
		p.AccessType = AccessType(*w.AccessType)
		p.Relationship, _ = p.AccessType.Relationship()
	}
	return p
}

// Str returns a pointer to s; a helper for building requests.
func Str(s string) *string { return &s }

// content is the normalised form of a request used for hashing and matching:
// the server's default relationship is filled in, access_type is written as
// the relationship it means, onboarded_at is in UTC and an empty metadata
// map is nil. The later contracts' details are omitted when absent, so a
// request of the seed's fields hashes as it always has: content hashes are
// identities in existing ledgers.
type content struct {
	ExternalID    *string           `json:"external_id"`
	Name          *string           `json:"name"`
	Relationship  string            `json:"relationship"`
	Metadata      map[string]string `json:"metadata"`
	Country       *string           `json:"country,omitempty"`
	EmailHash     *string           `json:"email_hash,omitempty"`
	NameHash      *string           `json:"name_hash,omitempty"`
	OnboardedAt   *string           `json:"onboarded_at,omitempty"`
	AccountStatus *string           `json:"account_status,omitempty"`
	EntityType    *string           `json:"entity_type,omitempty"`
}

func (r Request) normalised() content {
	c := content{
		ExternalID: r.ExternalID, Name: r.Name, Relationship: r.relationship(),
		Country: r.Country, EmailHash: r.EmailHash, NameHash: r.NameHash,
		OnboardedAt: utcTimestamp(r.OnboardedAt), AccountStatus: r.AccountStatus, EntityType: r.EntityType,
	}
	if len(r.Metadata) > 0 {
		c.Metadata = r.Metadata
	}
	return c
}

// relationship is what r asks for in the seed's words: relationship as
// given, else access_type translated, else the server's default. An access
// type that is none keeps a form no relationship has, so it matches nothing.
func (r Request) relationship() string {
	switch {
	case r.Relationship != nil:
		return *r.Relationship
	case r.AccessType != nil:
		if rel, ok := AccessType(*r.AccessType).Relationship(); ok {
			return rel
		}
		return "access_type:" + *r.AccessType
	}
	return DefaultRelationship
}

// utcTimestamp renders an RFC 3339 timestamp in UTC, so that one instant
// written with two offsets compares equal; other text is left as it is.
func utcTimestamp(s *string) *string {
	if s == nil {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		return s
	}
	return Str(t.UTC().Format(time.RFC3339Nano))
}

// ContentHash is a stable hash of everything the request asks the server to
// store, normalised across contracts: an omitted relationship equals
// "external", access_type application equals relationship external and
// passthrough equals resold, and onboarded_at is compared in UTC. A ledger
// entry written under one contract and a row read under another hash alike
// when they mean the same. encoding/json sorts map keys, so equal requests
// hash equally.
func (r Request) ContentHash() string {
	b, _ := json.Marshal(r.normalised())
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Identity is the key of a row in the ledger: its external_id (the GA
// contract's reference_id) when it has one, otherwise the hash of its
// content. Two rows with the same identity are the same user, whichever
// contract each was read under.
func (r Request) Identity() string {
	if r.ExternalID != nil {
		return "external_id:" + *r.ExternalID
	}
	return "content:" + r.ContentHash()
}

// Matches reports whether p holds exactly what r asked for, normalised as
// ContentHash is: same external_id, name, relationship or access type (the
// default filled in), metadata and details.
func (r Request) Matches(p Profile) bool {
	return eqPtr(r.ExternalID, p.ExternalID) && SameContent(r, p.Request())
}

// Request returns the create request that would store what p holds; the
// inverse of creation, used to compare a ledger entry with a newer export.
// It speaks the seed's relationship, which Body translates for later
// contracts, and gives onboarded_at in UTC.
func (p Profile) Request() Request {
	r := Request{ExternalID: p.ExternalID, Name: p.Name,
		Country: p.Country, EmailHash: p.EmailHash, NameHash: p.NameHash,
		AccountStatus: p.AccountStatus, EntityType: p.EntityType}
	switch {
	case p.Relationship != "":
		r.Relationship = Str(p.Relationship)
	case p.AccessType != "":
		r.AccessType = Str(string(p.AccessType))
	}
	if len(p.Metadata) > 0 {
		r.Metadata = p.Metadata
	}
	if p.OnboardedAt != nil {
		r.OnboardedAt = Str(p.OnboardedAt.UTC().Format(time.RFC3339Nano))
	}
	return r
}

func eqPtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// Field is one of the input's own columns (CSV) or top-level keys (JSONL),
// carried verbatim from the input into the state and the report.
type Field struct {
	Name  string `json:"n"`
	Value string `json:"v"`
}
