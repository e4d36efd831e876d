package profile

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of every contract, in Unicode code points.
const (
	MaxExternalID       = 255 // also reference_id's
	MaxName             = 255
	MaxMetadataKeys     = 16
	MaxMetadataKey      = 64
	MaxMetadataValue    = 512
	MaxHash             = 255 // email_hash and name_hash
	maxShownValuePrefix = 40
)

// MaxOnboardedAhead is how far in the future onboarded_at may be: the
// server allows for clocks that disagree by up to a minute.
const MaxOnboardedAhead = time.Minute

// Rule names: stable identifiers that reports, summaries and tests rely on.
const (
	RuleExternalIDEmpty       = "external_id_empty"
	RuleExternalIDTooLong     = "external_id_too_long"
	RuleNameEmpty             = "name_empty"
	RuleNameTooLong           = "name_too_long"
	RuleNameRequiredForResold = "name_required_for_resold"
	RuleRelationshipInvalid   = "relationship_invalid"
	RuleMetadataTooManyKeys   = "metadata_too_many_keys"
	RuleMetadataKeyEmpty      = "metadata_key_empty"
	RuleMetadataKeyTooLong    = "metadata_key_too_long"
	RuleMetadataValueEmpty    = "metadata_value_empty"
	RuleMetadataValueTooLong  = "metadata_value_too_long"
	RuleInvalidUTF8           = "invalid_utf8"
	RuleDuplicateExternalID   = "duplicate_external_id"
	RuleDuplicateRow          = "duplicate_row"

	// Rules of the later contracts.
	RuleReferenceIDEmpty            = "reference_id_empty"
	RuleReferenceIDTooLong          = "reference_id_too_long"
	RuleAccessTypeInvalid           = "access_type_invalid"
	RuleAccessTypeConflict          = "access_type_conflict" // relationship and access_type disagree
	RuleRelationshipInternalNotInGA = "relationship_internal_not_in_ga"
	RuleNotInVersion                = "not_in_api_version" // a field the chosen contract cannot carry
	RuleCountryInvalid              = "country_invalid"
	RuleEmailHashEmpty              = "email_hash_empty"
	RuleEmailHashTooLong            = "email_hash_too_long"
	RuleNameHashEmpty               = "name_hash_empty"
	RuleNameHashTooLong             = "name_hash_too_long"
	RuleOnboardedAtInvalid          = "onboarded_at_invalid"
	RuleOnboardedAtInFuture         = "onboarded_at_in_future"
	RuleAccountStatusInvalid        = "account_status_invalid"
	RuleEntityTypeInvalid           = "entity_type_invalid"
)

// Problem is one broken rule: which rule, which field, and a sentence for a
// person. It is an error so that readers and validators can return it as one.
type Problem struct {
	Rule    string // stable rule name, e.g. name_too_long
	Field   string // the field as the user knows it, e.g. metadata.plan
	Message string // what is wrong, without the line
}

func (p *Problem) Error() string {
	if p.Field == "" {
		return p.Message
	}
	return p.Field + ": " + p.Message
}

// At renders the problem with the line it was found on, the form users see:
// "line 42: metadata.plan: value longer than 512 characters".
func (p *Problem) At(line int) string {
	return fmt.Sprintf("line %d: %s", line, p.Error())
}

func problem(rule, field, format string, args ...any) *Problem {
	return &Problem{Rule: rule, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Validate checks r against the seed's rules; it is
// ValidateFor(r, Version20260324).
func Validate(r Request) *Problem {
	return ValidateFor(r, Version20260324)
}

// ValidateFor checks r against the rules of contract v, with the current
// time as the limit of onboarded_at; see ValidateAt.
func ValidateFor(r Request, v Version) *Problem {
	return ValidateAt(r, v, time.Now())
}

// ValidateAt checks r against every documented rule of contract v and
// returns the first problem found, in a fixed field order, or nil when the
// request is valid. now is the clock onboarded_at is checked against. Every
// field is optional, so an empty request is valid.
func ValidateAt(r Request, v Version, now time.Time) *Problem {
	return validate(r, v, now, nil)
}

// WithValidUTF8 returns r marked as holding only valid UTF-8 strings, as
// the caller has made sure (a reader that checked a whole record at once):
// ValidateAt and AppendValidBody then skip that check, field by field.
// Marking a request that holds invalid UTF-8 would let it pass as valid.
func (r Request) WithValidUTF8() Request {
	r.validUTF8 = true
	return r
}

// validate is ValidateAt; pairs, when not nil, are r.Metadata's keys and
// values already sorted (sortedMetadata).
func validate(r Request, v Version, now time.Time, pairs []keyValue) *Problem {
	known := r.validUTF8
	if r.ExternalID != nil {
		var p *Problem
		if v.hasExternalID() {
			p = checkStringUTF8("external_id", *r.ExternalID, MaxExternalID, RuleExternalIDEmpty, RuleExternalIDTooLong, known)
		} else {
			p = checkStringUTF8("reference_id", *r.ExternalID, MaxExternalID, RuleReferenceIDEmpty, RuleReferenceIDTooLong, known)
		}
		if p != nil {
			return p
		}
	}
	if r.Name != nil {
		if p := checkStringUTF8("name", *r.Name, MaxName, RuleNameEmpty, RuleNameTooLong, known); p != nil {
			return p
		}
	}
	if p := checkAccess(r, v); p != nil {
		return p
	}
	if pairs != nil {
		if p := checkPairs(pairs, known); p != nil {
			return p
		}
	} else if p := checkMetadata(r.Metadata); p != nil {
		return p
	}
	return checkDetails(r, v, now)
}

// checkAccess checks relationship and access_type, which are one field in
// two vocabularies: each must be a word of its own, they must agree when
// both are given, and the contract must have a word for what they mean.
func checkAccess(r Request, v Version) *Problem {
	if r.Relationship != nil {
		switch rel := *r.Relationship; rel {
		case RelationshipExternal, RelationshipResold, RelationshipInternal:
		default:
			if !utf8.ValidString(rel) {
				return problem(RuleInvalidUTF8, "relationship", "not valid UTF-8")
			}
			return problem(RuleRelationshipInvalid, "relationship", "%q is not one of external, resold, internal", shorten(rel))
		}
	}
	if r.AccessType != nil {
		a := *r.AccessType
		if !slices.Contains(AccessTypes(), AccessType(a)) {
			if !utf8.ValidString(a) {
				return problem(RuleInvalidUTF8, "access_type", "not valid UTF-8")
			}
			return problem(RuleAccessTypeInvalid, "access_type", "%q is not one of %s", shorten(a), oneOf(words(AccessTypes())))
		}
		if r.Relationship != nil {
			if want, _ := AccessTypeOf(*r.Relationship); want != AccessType(a) {
				return problem(RuleAccessTypeConflict, "access_type", "%q disagrees with relationship %q; give one of the two", a, *r.Relationship)
			}
		}
	}
	if r.Relationship != nil && *r.Relationship == RelationshipInternal && !v.hasRelationship() {
		return problem(RuleRelationshipInternalNotInGA, "relationship",
			"%q has no equivalent under %s, whose access_type is application or passthrough; the platform's own usage belongs in a separate organization",
			RelationshipInternal, v.Contract())
	}
	if v.hasRelationship() && r.Name == nil && r.relationship() == RelationshipResold {
		return problem(RuleNameRequiredForResold, "name", "required when relationship is %q", RelationshipResold)
	}
	return nil
}

func checkMetadata(md map[string]string) *Problem {
	if len(md) > MaxMetadataKeys {
		return problem(RuleMetadataTooManyKeys, "metadata", "%d keys, at most %d allowed", len(md), MaxMetadataKeys)
	}
	var small [MaxMetadataKeys]keyValue
	return checkPairs(sortedMetadata(md, &small), false)
}

// keyValue is one metadata key and its value.
type keyValue struct{ k, v string }

// sortedMetadata returns md's keys and values in the byte order of the
// keys, in small when they fit: a valid request has at most
// MaxMetadataKeys keys, so nothing is allocated for one.
func sortedMetadata(md map[string]string, small *[MaxMetadataKeys]keyValue) []keyValue {
	pairs := small[:0]
	for k, v := range md {
		pairs = append(pairs, keyValue{k, v})
	}
	if len(pairs) > MaxMetadataKeys {
		slices.SortFunc(pairs, func(a, b keyValue) int { return strings.Compare(a.k, b.k) })
		return pairs
	}
	// An insertion sort, for a few keys.
	for i := 1; i < len(pairs); i++ {
		for j := i; j > 0 && pairs[j].k < pairs[j-1].k; j-- {
			pairs[j], pairs[j-1] = pairs[j-1], pairs[j]
		}
	}
	return pairs
}

// checkPairs checks metadata keys and values, in key order; the field a
// problem names, metadata.KEY, is made only for a problem. known: every
// string is valid UTF-8.
func checkPairs(pairs []keyValue, known bool) *Problem {
	for _, kv := range pairs {
		k := kv.k
		if !known && !utf8.ValidString(k) {
			return problem(RuleInvalidUTF8, "metadata", "a key is not valid UTF-8")
		}
		if k == "" {
			return problem(RuleMetadataKeyEmpty, "metadata", "a key is empty")
		}
		if len(k) > MaxMetadataKey {
			if n := utf8.RuneCountInString(k); n > MaxMetadataKey {
				return problem(RuleMetadataKeyTooLong, "metadata."+k, "key is %d characters, at most %d allowed", n, MaxMetadataKey)
			}
		}
		if f, n := stringFaultOfUTF8(kv.v, MaxMetadataValue, known); f != stringFine {
			return f.problem("metadata."+k, n, MaxMetadataValue, RuleMetadataValueEmpty, RuleMetadataValueTooLong)
		}
	}
	return nil
}

// checkDetails checks the external_user_details, in the order of the body.
func checkDetails(r Request, v Version, now time.Time) *Problem {
	if r.Country == nil && r.EmailHash == nil && r.NameHash == nil && r.OnboardedAt == nil &&
		r.AccountStatus == nil && r.EntityType == nil {
		return nil
	}
	if p := checkDetail(v, "country", r.Country, r.validUTF8); p != nil {
		return p
	} else if r.Country != nil {
		if p := checkCountry(*r.Country); p != nil {
			return p
		}
	}
	if p := checkDetail(v, "email_hash", r.EmailHash, r.validUTF8); p != nil {
		return p
	} else if r.EmailHash != nil {
		if p := checkStringUTF8("email_hash", *r.EmailHash, MaxHash, RuleEmailHashEmpty, RuleEmailHashTooLong, r.validUTF8); p != nil {
			return p
		}
	}
	if p := checkDetail(v, "name_hash", r.NameHash, r.validUTF8); p != nil {
		return p
	} else if r.NameHash != nil {
		if p := checkStringUTF8("name_hash", *r.NameHash, MaxHash, RuleNameHashEmpty, RuleNameHashTooLong, r.validUTF8); p != nil {
			return p
		}
	}
	if p := checkDetail(v, "onboarded_at", r.OnboardedAt, r.validUTF8); p != nil {
		return p
	} else if r.OnboardedAt != nil {
		if p := checkOnboardedAt(*r.OnboardedAt, now); p != nil {
			return p
		}
	}
	if p := checkDetail(v, "account_status", r.AccountStatus, r.validUTF8); p != nil {
		return p
	} else if r.AccountStatus != nil && !slices.Contains(AccountStatuses(), AccountStatus(*r.AccountStatus)) {
		return checkWord("account_status", *r.AccountStatus, words(AccountStatuses()), RuleAccountStatusInvalid)
	}
	if p := checkDetail(v, "entity_type", r.EntityType, r.validUTF8); p != nil {
		return p
	} else if r.EntityType != nil && !slices.Contains(EntityTypes(), EntityType(*r.EntityType)) {
		return checkWord("entity_type", *r.EntityType, words(EntityTypes()), RuleEntityTypeInvalid)
	}
	return nil
}

// checkDetail checks what every detail given must be: part of contract v,
// and valid UTF-8.
func checkDetail(v Version, field string, value *string, known bool) *Problem {
	if value == nil {
		return nil
	}
	if !v.Accepts(field) {
		return problem(RuleNotInVersion, field, "not part of %s; send it with --api ga, or leave the column out", v.Contract())
	}
	if !known && !utf8.ValidString(*value) {
		return problem(RuleInvalidUTF8, field, "not valid UTF-8")
	}
	return nil
}

// checkWord checks a field whose value is one of a closed set of words.
func checkWord(field, s string, vocab []string, rule string) *Problem {
	if slices.Contains(vocab, s) {
		return nil
	}
	return problem(rule, field, "%q is not one of %s", shorten(s), oneOf(vocab))
}

// checkOnboardedAt checks that s is a complete RFC 3339 timestamp at most
// MaxOnboardedAhead after now.
func checkOnboardedAt(s string, now time.Time) *Problem {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return problem(RuleOnboardedAtInvalid, "onboarded_at",
			"%q is not a complete RFC 3339 timestamp such as 2024-05-01T09:30:00Z; give the export's layout with --map 'onboarded_at=COLUMN|LAYOUT'", shorten(s))
	}
	if limit := now.Add(MaxOnboardedAhead); t.After(limit) {
		return problem(RuleOnboardedAtInFuture, "onboarded_at", "%s is in the future (now is %s); at most %s ahead is allowed",
			t.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), MaxOnboardedAhead)
	}
	return nil
}

// checkStringUTF8 checks a string field of at most max characters; known:
// v is valid UTF-8.
func checkStringUTF8(field, v string, max int, emptyRule, longRule string, known bool) *Problem {
	if f, n := stringFaultOfUTF8(v, max, known); f != stringFine {
		return f.problem(field, n, max, emptyRule, longRule)
	}
	return nil
}

// stringFault is what is wrong with a string field, if anything.
type stringFault uint8

const (
	stringFine stringFault = iota
	stringNotUTF8
	stringEmpty
	stringTooLong
)

// stringFaultOfUTF8 checks a string field of at most max characters: valid
// UTF-8, not empty, not too long; n is its length in characters when it is
// too long. A string of at most max bytes is never too long, so most are
// not counted.
// known: v is valid UTF-8, as the caller made sure.
func stringFaultOfUTF8(v string, max int, known bool) (f stringFault, n int) {
	switch {
	case !known && !utf8.ValidString(v):
		return stringNotUTF8, 0
	case v == "":
		return stringEmpty, 0
	case len(v) <= max:
		return stringFine, 0
	}
	if n = utf8.RuneCountInString(v); n > max {
		return stringTooLong, n
	}
	return stringFine, 0
}

// problem is the Problem of a string field with fault f, as checkString
// words it.
func (f stringFault) problem(field string, n, max int, emptyRule, longRule string) *Problem {
	switch f {
	case stringNotUTF8:
		return problem(RuleInvalidUTF8, field, "not valid UTF-8")
	case stringEmpty:
		return problem(emptyRule, field, "empty; leave the field out instead")
	case stringTooLong:
		return problem(longRule, field, "value is %d characters, at most %d allowed", n, max)
	}
	return nil
}

// shorten keeps a quoted bad value readable in a message.
func shorten(s string) string {
	if utf8.RuneCountInString(s) <= maxShownValuePrefix {
		return s
	}
	r := []rune(s)
	return string(r[:maxShownValuePrefix]) + "…"
}

// Duplicate is the problem of a row whose identity an earlier row of the
// same input (on firstLine) already has: the same external_id, or, without
// one, the same content. It names the seed's field; see DuplicateFor.
func Duplicate(r Request, firstLine int) *Problem {
	return DuplicateFor(r, firstLine, Version20260324)
}

// DuplicateFor is Duplicate naming the identity field as contract v does
// (external_id, or reference_id); the rule is duplicate_external_id under
// every contract, as the identity is one.
func DuplicateFor(r Request, firstLine int, v Version) *Problem {
	if r.ExternalID != nil {
		field := "external_id"
		if !v.hasExternalID() {
			field = "reference_id"
		}
		return problem(RuleDuplicateExternalID, field, "%q already appears on line %d", *r.ExternalID, firstLine)
	}
	return problem(RuleDuplicateRow, "", "same content as line %d, which has no %s to tell them apart", firstLine, idName(v))
}

func idName(v Version) string {
	if v.hasExternalID() {
		return "external_id"
	}
	return "reference_id"
}
