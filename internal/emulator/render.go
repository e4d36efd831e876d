package emulator

import (
	"slices"
	"time"
)

// form is a shape a record is rendered in: the API's under each version
// (numbered like the versions), or the stored form of /_emulator/profiles.
type form uint8

const formStored form = form(vGA) + 1

// formOf is the form of the API's answers under v.
func formOf(v version) form { return form(v) }

// The API's answers are rendered by hand rather than through encoding/json:
// one record is shown in five shapes, and building a struct per shape for
// every profile of every list page would cost more than the store itself.

// appendProfile appends r rendered in f as one JSON object. Key order
// follows the official SDK's types.
func appendProfile(b []byte, r *record, f form) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, r.id)
	b = append(b, `,"type":"user_profile","created_at":`...)
	b = appendTime(b, microTime(r.created))
	b = append(b, `,"updated_at":`...)
	b = appendTime(b, microTime(r.updated))
	switch f {
	case formStored:
		b = append(b, `,"external_id":`...)
		b = appendOptString(b, r.referenceID)
		b = append(b, `,"name":`...)
		b = appendOptString(b, r.name)
		b = append(b, `,"relationship":"`...)
		b = append(b, r.access.relationship()...)
		b = append(b, `","access_type":`...)
		if r.access == accessInternal {
			b = append(b, "null"...)
		} else {
			b = appendString(b, r.access.accessType())
		}
		b = append(b, `,"metadata":`...)
		b = appendMetadata(b, r.metadata)
		b = append(b, `,"external_user_details":`...)
		b = appendDetails(b, r)
	case formOf(v20260324):
		b = append(b, `,"external_id":`...)
		b = appendOptString(b, r.referenceID)
		b = append(b, `,"name":`...)
		b = appendOptString(b, r.name)
		b = append(b, `,"relationship":"`...)
		b = append(b, r.access.relationship()...)
		b = append(b, `","metadata":`...)
		b = appendMetadata(b, r.metadata)
		b = append(b, `,"trust_grants":{}`...)
	case formOf(v20260818):
		b = append(b, `,"external_id":`...)
		b = appendOptString(b, r.referenceID)
		b = append(b, `,"name":`...)
		b = appendOptString(b, r.name)
		b = append(b, `,"access_type":"`...)
		b = append(b, r.access.accessType()...)
		b = append(b, `","external_user_onboarded_at":`...)
		if r.more != nil && r.more.hasOnboarded {
			b = appendTime(b, r.more.onboardedAt)
		} else {
			b = append(b, "null"...)
		}
		b = append(b, `,"metadata":`...)
		b = appendMetadata(b, r.metadata)
		b = append(b, `,"trust_grants":{}`...)
	case formOf(v20260904):
		b = append(b, `,"name":`...)
		b = appendOptString(b, r.name)
		b = append(b, `,"access_type":"`...)
		b = append(b, r.access.accessType()...)
		b = append(b, `","external_user_details":`...)
		b = appendDetails(b, r)
		b = append(b, `,"metadata":`...)
		b = appendMetadata(b, r.metadata)
		b = append(b, `,"trust_grants":{}`...)
	default: // GA
		b = append(b, `,"name":`...)
		b = appendOptString(b, r.name)
		b = append(b, `,"access_type":"`...)
		b = append(b, r.access.accessType()...)
		b = append(b, `","external_user_details":`...)
		b = appendDetails(b, r)
		b = append(b, `,"metadata":`...)
		b = appendMetadata(b, r.metadata)
		// No program has a status in the emulator, and no enforcement
		// action is ever opened.
		b = append(b, `,"programs":{"cyber":null,"efs":null},"enforcement_status":"`+enforcementUnrestricted+`","enforcement_actions":[]`...)
	}
	return append(b, '}')
}

// appendDetails renders external_user_details with every key present.
func appendDetails(b []byte, r *record) []byte {
	d := r.more
	if d == nil {
		d = &details{}
	}
	b = append(b, `{"reference_id":`...)
	b = appendOptString(b, r.referenceID)
	b = append(b, `,"country":`...)
	if d.country == [2]byte{} {
		b = append(b, "null"...)
	} else {
		b = append(b, '"', d.country[0], d.country[1], '"')
	}
	b = append(b, `,"email_hash":`...)
	b = appendOptString(b, d.emailHash)
	b = append(b, `,"name_hash":`...)
	b = appendOptString(b, d.nameHash)
	b = append(b, `,"onboarded_at":`...)
	if d.hasOnboarded {
		b = appendTime(b, d.onboardedAt)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"account_status":`...)
	b = appendOptString(b, accountStatuses[d.accountStatus])
	b = append(b, `,"entity_type":`...)
	b = appendOptString(b, entityTypes[d.entityType])
	return append(b, '}')
}

// appendMetadata renders metadata with its keys sorted, as encoding/json
// would, so that answers are reproducible.
func appendMetadata(b []byte, m map[string]string) []byte {
	var buf [maxMetadataKeys]string
	keys := buf[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, m[k])
	}
	return append(b, '}')
}

// appendTime renders t in UTC as RFC 3339 with as many fractional digits as
// it needs, as encoding/json renders a time.Time.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendOptString renders s, or null for "".
func appendOptString(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendString(b, s)
}

const hexDigits = "0123456789abcdef"

// appendString renders s as a JSON string. Stored strings are valid UTF-8
// (bodies are checked), so only quotes, backslashes and control characters
// need escaping; <, > and & are left as they are, as the real API leaves them.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
