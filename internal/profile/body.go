package profile

// The create bodies of each contract. Field order follows the official
// SDK's parameter types, so a body reads as the API's documentation does.

type body20260324 struct {
	ExternalID   *string           `json:"external_id,omitempty"`
	Name         *string           `json:"name,omitempty"`
	Relationship *string           `json:"relationship,omitempty"`
	Metadata     map[string]string `json:"metadata,omitempty"`
}

type body20260818 struct {
	ExternalID  *string           `json:"external_id,omitempty"`
	Name        *string           `json:"name,omitempty"`
	AccessType  *string           `json:"access_type,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	OnboardedAt *string           `json:"external_user_onboarded_at,omitempty"`
}

type bodyGA struct {
	Name       *string           `json:"name,omitempty"`
	AccessType *string           `json:"access_type,omitempty"`
	Metadata   map[string]string `json:"metadata,omitempty"`
	Details    *detailsBody      `json:"external_user_details,omitempty"`
}

type detailsBody struct {
	ReferenceID   *string `json:"reference_id,omitempty"`
	Country       *string `json:"country,omitempty"`
	EmailHash     *string `json:"email_hash,omitempty"`
	NameHash      *string `json:"name_hash,omitempty"`
	OnboardedAt   *string `json:"onboarded_at,omitempty"`
	AccountStatus *string `json:"account_status,omitempty"`
	EntityType    *string `json:"entity_type,omitempty"`
}

// Body is the JSON body of POST /v1/user_profiles for r under v, with absent
// fields left out: under 2026-03-24 {external_id, name, relationship,
// metadata}; under 2026-08-18 {external_id, name, access_type, metadata,
// external_user_onboarded_at}; under 2026-09-04 and GA {name, access_type,
// metadata, external_user_details{reference_id, country, email_hash,
// name_hash, onboarded_at, account_status, entity_type}}. relationship and
// access_type are translated into the word v speaks, and onboarded_at is
// sent in UTC. Body assumes ValidateFor(r, v) passed: fields v cannot carry
// are left out rather than refused.
func (r Request) Body(v Version) any {
	switch {
	case v.hasRelationship():
		return body20260324{ExternalID: r.ExternalID, Name: r.Name, Relationship: r.relationshipFor(), Metadata: r.Metadata}
	case v.hasExternalID():
		return body20260818{ExternalID: r.ExternalID, Name: r.Name, AccessType: r.accessTypeFor(),
			Metadata: r.Metadata, OnboardedAt: utcTimestamp(r.OnboardedAt)}
	}
	b := bodyGA{Name: r.Name, AccessType: r.accessTypeFor(), Metadata: r.Metadata}
	d := detailsBody{ReferenceID: r.ExternalID, Country: r.Country, EmailHash: r.EmailHash, NameHash: r.NameHash,
		OnboardedAt: utcTimestamp(r.OnboardedAt), AccountStatus: r.AccountStatus, EntityType: r.EntityType}
	if d != (detailsBody{}) {
		b.Details = &d
	}
	return b
}

// relationshipFor is the relationship to send under the seed's contract:
// as given, else the one access_type means.
func (r Request) relationshipFor() *string {
	if r.Relationship != nil || r.AccessType == nil {
		return r.Relationship
	}
	if rel, ok := AccessType(*r.AccessType).Relationship(); ok {
		return &rel
	}
	return nil
}

// accessTypeFor is the access_type to send under the later contracts: as
// given, else the one relationship means (none for internal).
func (r Request) accessTypeFor() *string {
	if r.AccessType != nil || r.Relationship == nil {
		return r.AccessType
	}
	if a, ok := AccessTypeOf(*r.Relationship); ok {
		return Str(string(a))
	}
	return nil
}
