package emulator_test

import "time"

// The tests speak the wire format with types of their own rather than the
// client's domain types, so that they check the server's contract and not
// whatever the client currently models.

// createReq is a user-profiles-2026-03-24 create body; nil fields are left out.
type createReq struct {
	ExternalID   *string           `json:"external_id,omitempty"`
	Name         *string           `json:"name,omitempty"`
	Relationship *string           `json:"relationship,omitempty"`
	Metadata     map[string]string `json:"metadata,omitempty"`
}

// wireProfile is a user-profile object as the 2026-03-24 contract and the
// stored form of /_emulator/profiles both name its fields.
type wireProfile struct {
	ID           string            `json:"id"`
	Type         string            `json:"type"`
	CreatedAt    time.Time         `json:"created_at"`
	UpdatedAt    time.Time         `json:"updated_at"`
	ExternalID   *string           `json:"external_id"`
	Name         *string           `json:"name"`
	Relationship string            `json:"relationship"`
	Metadata     map[string]string `json:"metadata"`
	TrustGrants  map[string]struct {
		Status string `json:"status"`
	} `json:"trust_grants"`
}

func str(s string) *string { return &s }
