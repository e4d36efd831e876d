// Package profile holds the domain of provision: the create request for one
// user profile, the profile the API returns, the seed's validation rules, and
// the identity and content of a row that the ledger and reconciliation rely on.
package profile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"time"
)

// BetaHeader is the anthropic-beta value of the contract this project targets.
const BetaHeader = "user-profiles-2026-03-24"

// Relationship values accepted by the seed contract.
const (
	RelationshipExternal = "external"
	RelationshipResold   = "resold"
	RelationshipInternal = "internal"
)

// DefaultRelationship is what the server assumes when a request omits relationship.
const DefaultRelationship = RelationshipExternal

// Request is the body of POST /v1/user_profiles. A nil pointer is an absent
// field; absent fields are omitted from the JSON body.
type Request struct {
	ExternalID   *string           `json:"external_id,omitempty"`
	Name         *string           `json:"name,omitempty"`
	Relationship *string           `json:"relationship,omitempty"`
	Metadata     map[string]string `json:"metadata,omitempty"`
}

// TrustGrant is one entry of a profile's trust_grants.
type TrustGrant struct {
	Status string `json:"status"`
}

// Profile is the user profile object the API returns and lists.
type Profile struct {
	ID           string                `json:"id"`
	Type         string                `json:"type"`
	CreatedAt    time.Time             `json:"created_at"`
	UpdatedAt    time.Time             `json:"updated_at"`
	ExternalID   *string               `json:"external_id"`
	Name         *string               `json:"name"`
	Relationship string                `json:"relationship"`
	Metadata     map[string]string     `json:"metadata"`
	TrustGrants  map[string]TrustGrant `json:"trust_grants"`
}

// Str returns a pointer to s; a helper for building requests.
func Str(s string) *string { return &s }

// content is the normalised form of a request used for hashing and matching:
// the server's default relationship is filled in and an empty metadata map is nil.
type content struct {
	ExternalID   *string           `json:"external_id"`
	Name         *string           `json:"name"`
	Relationship string            `json:"relationship"`
	Metadata     map[string]string `json:"metadata"`
}

func (r Request) normalised() content {
	c := content{ExternalID: r.ExternalID, Name: r.Name, Relationship: DefaultRelationship}
	if r.Relationship != nil {
		c.Relationship = *r.Relationship
	}
	if len(r.Metadata) > 0 {
		c.Metadata = r.Metadata
	}
	return c
}

// ContentHash is a stable hash of everything the request asks the server to
// store, normalised so that an omitted relationship equals "external".
// encoding/json sorts map keys, so equal requests hash equally.
func (r Request) ContentHash() string {
	b, _ := json.Marshal(r.normalised())
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Identity is the key of a row in the ledger: its external_id when it has one,
// otherwise the hash of its content. Two rows with the same identity are the
// same user.
func (r Request) Identity() string {
	if r.ExternalID != nil {
		return "external_id:" + *r.ExternalID
	}
	return "content:" + r.ContentHash()
}

// Matches reports whether p holds exactly what r asked for: same external_id,
// name, relationship (the default filled in) and metadata.
func (r Request) Matches(p Profile) bool {
	c := r.normalised()
	if !eqPtr(c.ExternalID, p.ExternalID) || !eqPtr(c.Name, p.Name) || c.Relationship != p.Relationship {
		return false
	}
	if len(c.Metadata) != len(p.Metadata) {
		return false
	}
	return len(c.Metadata) == 0 || maps.Equal(c.Metadata, p.Metadata)
}

// Request returns the create request that would store what p holds; the
// inverse of creation, used to compare a ledger entry with a newer export.
func (p Profile) Request() Request {
	r := Request{ExternalID: p.ExternalID, Name: p.Name}
	if p.Relationship != "" {
		r.Relationship = Str(p.Relationship)
	}
	if len(p.Metadata) > 0 {
		r.Metadata = p.Metadata
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
