package profile

import (
	"fmt"
	"strings"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

// reservedRegions are two-letter regions CLDR counts as countries that ISO
// 3166-1 only reserves (Ascension Island, Clipperton, Diego Garcia, Ceuta
// and Melilla, the Eurozone, the Canary Islands, Tristan da Cunha, the UN).
// XK (Kosovo) is user-assigned rather than reserved; it is accepted because
// exports use it for Kosovo everywhere and the server checks only the form.
const reservedRegions = "AC CP DG EA EZ IC TA UN"

// IsCountryCode reports whether s is an ISO 3166-1 alpha-2 code in use, in
// the upper case the API requires.
func IsCountryCode(s string) bool {
	if len(s) != 2 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z' || strings.Contains(reservedRegions, s) {
		return false
	}
	r, err := language.ParseRegion(s)
	if err != nil || !r.IsCountry() || r.Canonicalize().String() != s {
		return false // e.g. UK, whose canonical form is GB
	}
	// Withdrawn codes (AN, CS, SU, YU) have no replacement and no name.
	return display.English.Regions().Name(r) != ""
}

// SuggestCountry returns the code s most likely means: the same code in
// upper case ("gb"), the current code for a deprecated or reserved one
// ("UK" -> "GB"), the alpha-2 code for an alpha-3 or numeric one ("DEU",
// "276"), or the code of a country's English name ("Germany"). It returns
// "" when it has no guess.
func SuggestCountry(s string) string {
	t := strings.ToUpper(strings.TrimSpace(s))
	if IsCountryCode(t) {
		return t
	}
	if r, err := language.ParseRegion(t); err == nil {
		if c := r.Canonicalize().String(); IsCountryCode(c) {
			return c
		}
	}
	name := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "the ")
	if len(name) <= 3 {
		return ""
	}
	// Only a value that is already wrong gets here, so walking the 676
	// two-letter codes costs nothing on a valid row.
	names := display.English.Regions()
	for a := byte('A'); a <= 'Z'; a++ {
		for b := byte('A'); b <= 'Z'; b++ {
			code := string([]byte{a, b})
			if !IsCountryCode(code) {
				continue
			}
			r := language.MustParseRegion(code)
			if strings.EqualFold(names.Name(r), name) {
				return code
			}
		}
	}
	return ""
}

// checkCountry checks the country detail against the real list, naming the
// likely fix.
func checkCountry(s string) *Problem {
	if IsCountryCode(s) {
		return nil
	}
	msg := fmt.Sprintf("%q is not an ISO 3166-1 alpha-2 code", shorten(s))
	switch fix := SuggestCountry(s); {
	case fix == "":
		msg += `; use the country's two-letter code in upper case, e.g. "US" or "GB"`
	case fix == strings.ToUpper(s):
		msg += fmt.Sprintf("; codes are upper case: did you mean %q?", fix)
	default:
		msg += fmt.Sprintf("; did you mean %q?", fix)
	}
	return problem(RuleCountryInvalid, "country", "%s", msg)
}
