package profile

import (
	"fmt"
	"sort"
	"unicode/utf8"
)

// Limits of the seed contract, in Unicode code points.
const (
	MaxExternalID       = 255
	MaxName             = 255
	MaxMetadataKeys     = 16
	MaxMetadataKey      = 64
	MaxMetadataValue    = 512
	maxShownValuePrefix = 40
)

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

// Validate checks r against the seed's rules and returns the first problem
// found, in a fixed field order, or nil when the request is valid. Every field
// is optional, so an empty request is valid.
func Validate(r Request) *Problem {
	if r.ExternalID != nil {
		if p := checkString("external_id", *r.ExternalID, MaxExternalID, RuleExternalIDEmpty, RuleExternalIDTooLong); p != nil {
			return p
		}
	}
	if r.Name != nil {
		if p := checkString("name", *r.Name, MaxName, RuleNameEmpty, RuleNameTooLong); p != nil {
			return p
		}
	}
	if r.Relationship != nil {
		switch rel := *r.Relationship; rel {
		case RelationshipExternal, RelationshipInternal:
		case RelationshipResold:
			if r.Name == nil {
				return problem(RuleNameRequiredForResold, "name", "required when relationship is %q", RelationshipResold)
			}
		default:
			if !utf8.ValidString(rel) {
				return problem(RuleInvalidUTF8, "relationship", "not valid UTF-8")
			}
			return problem(RuleRelationshipInvalid, "relationship", "%q is not one of external, resold, internal", shorten(rel))
		}
	}
	if len(r.Metadata) > MaxMetadataKeys {
		return problem(RuleMetadataTooManyKeys, "metadata", "%d keys, at most %d allowed", len(r.Metadata), MaxMetadataKeys)
	}
	keys := make([]string, 0, len(r.Metadata))
	for k := range r.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !utf8.ValidString(k) {
			return problem(RuleInvalidUTF8, "metadata", "a key is not valid UTF-8")
		}
		field := "metadata." + k
		if k == "" {
			return problem(RuleMetadataKeyEmpty, "metadata", "a key is empty")
		}
		if n := utf8.RuneCountInString(k); n > MaxMetadataKey {
			return problem(RuleMetadataKeyTooLong, field, "key is %d characters, at most %d allowed", n, MaxMetadataKey)
		}
		if p := checkString(field, r.Metadata[k], MaxMetadataValue, RuleMetadataValueEmpty, RuleMetadataValueTooLong); p != nil {
			return p
		}
	}
	return nil
}

func checkString(field, v string, max int, emptyRule, longRule string) *Problem {
	if !utf8.ValidString(v) {
		return problem(RuleInvalidUTF8, field, "not valid UTF-8")
	}
	if v == "" {
		return problem(emptyRule, field, "empty; leave the field out instead")
	}
	if n := utf8.RuneCountInString(v); n > max {
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
// one, the same content.
func Duplicate(r Request, firstLine int) *Problem {
	if r.ExternalID != nil {
		return problem(RuleDuplicateExternalID, "external_id", "%q already appears on line %d", *r.ExternalID, firstLine)
	}
	return problem(RuleDuplicateRow, "", "same content as line %d, which has no external_id to tell them apart", firstLine)
}
