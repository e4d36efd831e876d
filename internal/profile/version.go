package profile

import (
	"fmt"
	"strings"
)

// Version is a contract of the User Profiles API: the shape of a create body
// and of a profile, and the rules a create must keep. The zero value is the
// seed's contract, so options left unset keep the behaviour provision had
// before it knew other versions.
type Version uint8

// The contracts, oldest first. The anthropic-beta header selects a beta one;
// with no user-profiles beta the API speaks GA.
const (
	// Version20260324 is the seed's contract: external_id, relationship.
	Version20260324 Version = iota
	// Version20260818 replaces relationship with access_type and adds
	// external_user_onboarded_at; external_id stays.
	Version20260818
	// Version20260904 moves external_id and onboarded_at into
	// external_user_details, with the other details.
	Version20260904
	// VersionGA is the API without a beta header: the create body of
	// Version20260904.
	VersionGA
)

// DefaultVersion is the contract used when none is chosen.
const DefaultVersion = Version20260324

// Versions returns every contract, oldest first.
func Versions() []Version {
	return []Version{Version20260324, Version20260818, Version20260904, VersionGA}
}

// String is the name --api takes: "2026-03-24", "2026-08-18",
// "2026-09-04" or "ga".
func (v Version) String() string {
	switch v {
	case Version20260324:
		return "2026-03-24"
	case Version20260818:
		return "2026-08-18"
	case Version20260904:
		return "2026-09-04"
	case VersionGA:
		return "ga"
	}
	return fmt.Sprintf("Version(%d)", uint8(v))
}

// Contract names the version in a sentence: "the 2026-03-24 contract",
// "the GA contract".
func (v Version) Contract() string {
	if v == VersionGA {
		return "the GA contract"
	}
	return "the " + v.String() + " contract"
}

// Beta is the anthropic-beta value that selects v, or "" for GA, which is
// selected by sending none.
func (v Version) Beta() string {
	if v == VersionGA {
		return ""
	}
	return "user-profiles-" + v.String()
}

// ParseVersion reads the value of --api. It takes a version's name, with
// or without the user-profiles- prefix of its beta header, in any case.
func ParseVersion(s string) (Version, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	name = strings.TrimPrefix(name, "user-profiles-")
	for _, v := range Versions() {
		if name == v.String() {
			return v, nil
		}
	}
	return 0, fmt.Errorf("unknown API version %q; use --api 2026-03-24 (the default, the first beta) or --api ga", s)
}

// UnmarshalText lets a configuration file name the version.
func (v *Version) UnmarshalText(b []byte) error {
	parsed, err := ParseVersion(string(b))
	if err != nil {
		return err
	}
	*v = parsed
	return nil
}

// MarshalText is the inverse of UnmarshalText.
func (v Version) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// hasRelationship reports whether v's body carries relationship; later
// versions carry access_type instead.
func (v Version) hasRelationship() bool { return v == Version20260324 }

// hasExternalID reports whether v's body carries a top-level external_id;
// later versions carry external_user_details.reference_id.
func (v Version) hasExternalID() bool { return v <= Version20260818 }

// hasDetails reports whether v takes external_user_details.
func (v Version) hasDetails() bool { return v >= Version20260904 }

// Accepts reports whether a create under v can carry the field named as a
// column is: external_id, reference_id, name, relationship, access_type,
// metadata, metadata.KEY, country, email, email_hash, name_hash,
// onboarded_at, account_status or entity_type. external_id and
// reference_id are one field under every version, and relationship and
// access_type translate into each other, so only the details depend on v.
func (v Version) Accepts(field string) bool {
	switch field {
	case "external_id", "reference_id", "name", "relationship", "access_type", "metadata":
		return true
	case "onboarded_at":
		return v >= Version20260818
	case "country", "email", "email_hash", "name_hash", "account_status", "entity_type":
		return v.hasDetails()
	}
	return strings.HasPrefix(field, "metadata.")
}
