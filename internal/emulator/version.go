package emulator

import (
	"fmt"
	"net/http"
	"strings"
)

// anthropic-beta values that select a User Profiles contract. Without any
// of them a request gets the GA contract.
const (
	// Beta20260324 selects the first beta contract: relationship,
	// external_id and trust_grants.
	Beta20260324 = "user-profiles-2026-03-24"
	// Beta20260818 selects access_type, external_id and
	// external_user_onboarded_at; the official SDK's beta service sends it
	// by default.
	Beta20260818 = "user-profiles-2026-08-18"
	// Beta20260904 selects access_type, external_user_details and
	// trust_grants.
	Beta20260904 = "user-profiles-2026-09-04"
)

// BetaHeaderAugust is Beta20260818 under the name earlier code used.
const BetaHeaderAugust = Beta20260818

// betaBilling is a user-profiles-* beta of another feature (billing): it
// selects no contract, so it is neither a version nor refused.
const betaBilling = "user-profiles-billing-"

// version is the contract a request is served under.
type version uint8

const (
	v20260324 version = iota
	v20260818
	v20260904
	vGA
)

// String names the version as a client selects it.
func (v version) String() string {
	switch v {
	case v20260324:
		return Beta20260324
	case v20260818:
		return Beta20260818
	case v20260904:
		return Beta20260904
	}
	return "GA (no user-profiles beta header)"
}

// hasAccessType reports whether the version speaks access_type rather than
// relationship.
func (v version) hasAccessType() bool { return v != v20260324 }

// hasDetails reports whether the version takes and serves
// external_user_details rather than external_id.
func (v version) hasDetails() bool { return v == v20260904 || v == vGA }

// selectVersion reads the version headers: anthropic-version must be one the
// API knows, and the first user-profiles-* value of anthropic-beta picks the
// contract (none: GA). The first wins because the SDK's Betas parameter puts
// its values before the service's default user-profiles-2026-08-18. Other
// betas are ignored, as they belong to other features; an unknown
// user-profiles-* value is refused rather than guessed at.
func selectVersion(h http.Header) (version, string) {
	switch v := h.Get("anthropic-version"); v {
	case "", "2023-06-01", "2026-10-21":
	default:
		return 0, fmt.Sprintf("anthropic-version: %q is not a version the emulator knows; send 2023-06-01 or 2026-10-21", v)
	}
	chosen, found := vGA, false
	for _, line := range h.Values("anthropic-beta") {
		for b := range strings.SplitSeq(line, ",") {
			b = strings.TrimSpace(b)
			if !strings.HasPrefix(b, "user-profiles-") || strings.HasPrefix(b, betaBilling) {
				continue
			}
			var v version
			switch b {
			case Beta20260324:
				v = v20260324
			case Beta20260818:
				v = v20260818
			case Beta20260904:
				v = v20260904
			default:
				return 0, fmt.Sprintf("anthropic-beta: %q is not a User Profiles version; send %s, %s or %s, or no user-profiles beta for the GA contract",
					b, Beta20260324, Beta20260818, Beta20260904)
			}
			if !found {
				chosen, found = v, true
			}
		}
	}
	return chosen, ""
}
