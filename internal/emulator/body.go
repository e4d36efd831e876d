package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// The server's limits, in Unicode code points. They are the API's own, kept
// here rather than shared with the client, whose rules may differ.
const (
	maxText          = 255 // external_id, name, reference_id, email_hash, name_hash
	maxMetadataKeys  = 16
	maxMetadataKey   = 64
	maxMetadataValue = 512
	maxShownValue    = 40 // of a refused value quoted in a message
	// onboardedLeeway is how far in the future an onboarded_at may be.
	onboardedLeeway = time.Minute
)

// op is what a body is for: create and update differ in what null and an
// empty metadata value mean.
type op uint8

const (
	opCreate op = iota
	opUpdate
)

func (o op) String() string {
	if o == opUpdate {
		return "an update"
	}
	return "a create"
}

// body is a decoded create or update body. A nil field was not sent (or, in
// a create, was sent as null, which means the same there).
type body struct {
	externalID   *string
	name         *string
	relationship *string
	accessType   *string
	onboardedAt  *string // external_user_onboarded_at
	details      *detailsBody
	metadata     map[string]string // nil when not sent
	// onboarded is the parsed onboarded_at of either name; validate sets it.
	onboarded *time.Time
}

// detailsBody is a sent external_user_details object.
type detailsBody struct {
	referenceID, country, emailHash, nameHash, onboardedAt, accountStatus, entityType *string
}

// Top-level fields of a create or update body under each version.
var bodyFields = [...][]string{
	v20260324: {"external_id", "name", "relationship", "metadata"},
	v20260818: {"external_id", "name", "access_type", "external_user_onboarded_at", "metadata"},
	v20260904: {"name", "access_type", "external_user_details", "metadata"},
	vGA:       {"name", "access_type", "external_user_details", "metadata"},
}

var detailFields = []string{"reference_id", "country", "email_hash", "name_hash", "onboarded_at", "account_status", "entity_type"}

// decodeBody parses a create or update body strictly: one JSON object with
// only the version's keys, each of the right JSON type. It checks the shape
// only; validate checks the values.
func decodeBody(data []byte, v version, o op) (*body, error) {
	// encoding/json would silently turn invalid UTF-8 into U+FFFD and store
	// something the client never sent, so check the raw bytes first.
	if !utf8.Valid(data) {
		return nil, errors.New("request body is not valid UTF-8")
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("request body is empty; send a JSON object")
	}
	b := &body{}
	err := eachMember(data, "request body", func(key string, raw json.RawMessage) error {
		if !slices.Contains(bodyFields[v], key) {
			return unknownField(key, v, o)
		}
		var err error
		switch key {
		case "external_id":
			b.externalID, err = scalar(key, raw, o)
		case "name":
			b.name, err = scalar(key, raw, o)
		case "relationship":
			b.relationship, err = scalar(key, raw, o)
		case "access_type":
			b.accessType, err = scalar(key, raw, o)
		case "external_user_onboarded_at":
			b.onboardedAt, err = scalar(key, raw, o)
		case "external_user_details":
			b.details, err = decodeDetails(raw, o)
		case "metadata":
			b.metadata, err = decodeMetadata(raw)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	// Lone surrogate escapes ("\ud800") are valid JSON that decodes to U+FFFD
	// in Go; they stand for no character, so treat them as invalid UTF-8.
	if hasLoneSurrogate(data) {
		return nil, errors.New("request body is not valid UTF-8: it has an unpaired \\u surrogate escape")
	}
	return b, nil
}

func unknownField(key string, v version, o op) error {
	msg := fmt.Sprintf("%q: unknown field; %s under %s takes only %s", key, o, v, joinAnd(bodyFields[v]))
	var hint string
	switch key {
	case "relationship":
		hint = "access_type replaced relationship in " + Beta20260818
	case "access_type":
		hint = "access_type replaces relationship from " + Beta20260818 + " on"
	case "external_id":
		if v.hasDetails() {
			hint = "send external_user_details.reference_id instead"
		}
	case "external_user_onboarded_at":
		if v.hasDetails() {
			hint = "send external_user_details.onboarded_at instead"
		} else {
			hint = "it is accepted only under " + Beta20260818
		}
	case "external_user_details":
		hint = "it is accepted under " + Beta20260904 + " and GA; this version takes external_id"
	}
	if hint != "" {
		msg += " (" + hint + ")"
	}
	return errors.New(msg)
}

// joinAnd renders a list as "a, b and c".
func joinAnd(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// scalar decodes a string field. In a create null means absent; in an update
// it would mean "clear the value", which the API does not allow.
func scalar(field string, raw json.RawMessage, o op) (*string, error) {
	switch raw[0] {
	case 'n':
		if o == opUpdate {
			return nil, fmt.Errorf("%s: null is refused: a value once set cannot be cleared; leave the field out to keep the stored value", field)
		}
		return nil, nil
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%s: %v", field, err)
		}
		return &s, nil
	}
	if o == opUpdate {
		return nil, fmt.Errorf("%s: must be a string, not %s", field, jsonKind(raw))
	}
	return nil, fmt.Errorf("%s: must be a string or null, not %s", field, jsonKind(raw))
}

func decodeDetails(raw json.RawMessage, o op) (*detailsBody, error) {
	if raw[0] != '{' {
		return nil, fmt.Errorf("external_user_details: must be an object, not %s", jsonKind(raw))
	}
	d := &detailsBody{}
	err := eachMember(raw, "external_user_details", func(key string, v json.RawMessage) error {
		field := "external_user_details." + key
		p, err := scalar(field, v, o)
		switch key {
		case "reference_id":
			d.referenceID = p
		case "country":
			d.country = p
		case "email_hash":
			d.emailHash = p
		case "name_hash":
			d.nameHash = p
		case "onboarded_at":
			d.onboardedAt = p
		case "account_status":
			d.accountStatus = p
		case "entity_type":
			d.entityType = p
		default:
			return fmt.Errorf("%q: unknown field; external_user_details takes only %s", field, joinAnd(detailFields))
		}
		return err
	})
	return d, err
}

// decodeMetadata decodes an object of strings; null is not accepted (send
// {} or leave the field out).
func decodeMetadata(raw json.RawMessage) (map[string]string, error) {
	if raw[0] != '{' {
		return nil, fmt.Errorf("metadata: must be an object of string values, not %s", jsonKind(raw))
	}
	m := make(map[string]string)
	err := eachMember(raw, "metadata", func(key string, v json.RawMessage) error {
		if v[0] != '"' {
			return fmt.Errorf("metadata.%s: value must be a string, not %s", key, jsonKind(v))
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return fmt.Errorf("metadata.%s: %v", key, err)
		}
		m[key] = s
		return nil
	})
	return m, err
}

// validate checks the values of b in a fixed field order and returns the
// first problem as "field: what is wrong". now is the server's clock, for
// onboarded_at.
func (b *body) validate(o op, now time.Time) error {
	if b.externalID != nil {
		if err := checkText("external_id", *b.externalID, maxText); err != nil {
			return err
		}
	}
	if b.name != nil {
		if err := checkText("name", *b.name, maxText); err != nil {
			return err
		}
	}
	if b.relationship != nil {
		switch rel := *b.relationship; rel {
		case relExternal, relInternal:
		case relResold:
			// An update may rely on the stored name; applyUpdate checks it.
			if o == opCreate && b.name == nil {
				return fmt.Errorf("name: required when relationship is %q", relResold)
			}
		default:
			return fmt.Errorf("relationship: %q is not one of external, resold, internal", shorten(rel))
		}
	}
	if b.accessType != nil {
		if a := *b.accessType; a != accessTypeApp && a != accessTypePassthr {
			return fmt.Errorf("access_type: %q is not one of application, passthrough", shorten(a))
		}
	}
	if b.onboardedAt != nil {
		t, err := checkTimestamp("external_user_onboarded_at", *b.onboardedAt, now)
		if err != nil {
			return err
		}
		b.onboarded = &t
	}
	if d := b.details; d != nil {
		if err := d.validate(now, b); err != nil {
			return err
		}
	}
	return checkMetadata(b.metadata, o)
}

func (d *detailsBody) validate(now time.Time, b *body) error {
	const p = "external_user_details."
	if d.referenceID != nil {
		if err := checkText(p+"reference_id", *d.referenceID, maxText); err != nil {
			return err
		}
	}
	if d.country != nil {
		if c := *d.country; len(c) != 2 || !isUpper(c[0]) || !isUpper(c[1]) {
			return fmt.Errorf(p+"country: %q is not an ISO 3166-1 alpha-2 code in upper case, such as US", shorten(c))
		}
	}
	if d.emailHash != nil {
		if err := checkText(p+"email_hash", *d.emailHash, maxText); err != nil {
			return err
		}
	}
	if d.nameHash != nil {
		if err := checkText(p+"name_hash", *d.nameHash, maxText); err != nil {
			return err
		}
	}
	if d.onboardedAt != nil {
		t, err := checkTimestamp(p+"onboarded_at", *d.onboardedAt, now)
		if err != nil {
			return err
		}
		b.onboarded = &t
	}
	if d.accountStatus != nil && enumCode(accountStatuses[:], *d.accountStatus) == 0 {
		return fmt.Errorf(p+"account_status: %q is not one of active, suspended, blocked", shorten(*d.accountStatus))
	}
	if d.entityType != nil && enumCode(entityTypes[:], *d.entityType) == 0 {
		return fmt.Errorf(p+"entity_type: %q is not one of individual, business, non_profit, government", shorten(*d.entityType))
	}
	return nil
}

func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }

// checkText checks a string limited to 1..max code points.
func checkText(field, v string, max int) error {
	if !utf8.ValidString(v) {
		return fmt.Errorf("%s: not valid UTF-8", field)
	}
	if v == "" {
		return fmt.Errorf("%s: empty; leave the field out instead", field)
	}
	if n := utf8.RuneCountInString(v); n > max {
		return fmt.Errorf("%s: value is %d characters, at most %d allowed", field, n, max)
	}
	return nil
}

// checkTimestamp parses a complete RFC 3339 timestamp no more than
// onboardedLeeway after now.
func checkTimestamp(field, v string, now time.Time) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return t, fmt.Errorf("%s: %q is not a complete RFC 3339 timestamp such as 2026-03-24T12:00:00Z", field, shorten(v))
	}
	if t.After(now.Add(onboardedLeeway)) {
		return t, fmt.Errorf("%s: %s is more than 1 minute in the future (the server's time is %s)", field, v, now.UTC().Format(time.RFC3339))
	}
	return t.UTC(), nil
}

// checkMetadata checks keys and values; in an update "" is allowed (it
// deletes the key) and the key count is checked on the merged result.
func checkMetadata(m map[string]string, o op) error {
	if o == opCreate && len(m) > maxMetadataKeys {
		return fmt.Errorf("metadata: %d keys, at most %d allowed", len(m), maxMetadataKeys)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !utf8.ValidString(k) {
			return errors.New("metadata: a key is not valid UTF-8")
		}
		if k == "" {
			return errors.New("metadata: a key is empty")
		}
		field := "metadata." + k
		if n := utf8.RuneCountInString(k); n > maxMetadataKey {
			return fmt.Errorf("%s: key is %d characters, at most %d allowed", field, n, maxMetadataKey)
		}
		if v := m[k]; o == opUpdate && v == "" {
			continue
		}
		if err := checkText(field, m[k], maxMetadataValue); err != nil {
			return err
		}
	}
	return nil
}

// shorten keeps a quoted bad value readable in a message.
func shorten(s string) string {
	if utf8.RuneCountInString(s) <= maxShownValue {
		return s
	}
	r := []rune(s)
	return string(r[:maxShownValue]) + "…"
}

func parseAccess(b *body) (access, bool) {
	switch {
	case b.relationship != nil:
		switch *b.relationship {
		case relResold:
			return accessPassthrough, true
		case relInternal:
			return accessInternal, true
		}
		return accessApplication, true
	case b.accessType != nil:
		if *b.accessType == accessTypePassthr {
			return accessPassthrough, true
		}
		return accessApplication, true
	}
	return accessApplication, false
}

// newRecord builds the record a valid create body asks for; the store
// stamps its id's place and times. Metadata without keys shares empty, so
// that millions of profiles do not each carry an empty map.
func newRecord(b *body, empty map[string]string) *record {
	r := &record{id: newProfileID(), metadata: empty}
	r.access, _ = parseAccess(b)
	if b.name != nil {
		r.name = *b.name
	}
	if b.externalID != nil {
		r.referenceID = *b.externalID
	}
	if len(b.metadata) > 0 {
		r.metadata = b.metadata
	}
	r.more = b.applyDetails(r, nil)
	return r
}

// applyDetails sets reference_id on r and returns old's other
// external_user_details with the fields b sends replaced: old itself when b
// sends none, since a stored details is never written.
func (b *body) applyDetails(r *record, old *details) *details {
	d := b.details
	if d != nil && d.referenceID != nil {
		r.referenceID = *d.referenceID
	}
	if b.onboarded == nil && (d == nil || (d.country == nil && d.emailHash == nil && d.nameHash == nil && d.accountStatus == nil && d.entityType == nil)) {
		return old
	}
	nd := &details{}
	if old != nil {
		*nd = *old
	}
	if b.onboarded != nil {
		nd.onboardedAt, nd.hasOnboarded = *b.onboarded, true
	}
	if d != nil {
		if d.country != nil {
			copy(nd.country[:], *d.country)
		}
		if d.emailHash != nil {
			nd.emailHash = *d.emailHash
		}
		if d.nameHash != nil {
			nd.nameHash = *d.nameHash
		}
		if d.accountStatus != nil {
			nd.accountStatus = enumCode(accountStatuses[:], *d.accountStatus)
		}
		if d.entityType != nil {
			nd.entityType = enumCode(entityTypes[:], *d.entityType)
		}
	}
	return nd
}

// applyUpdate returns old with a valid update body b applied, or why the
// result would break a rule that depends on what is stored. old is not
// changed; the store stamps updated_at.
func applyUpdate(old *record, b *body, empty map[string]string) (*record, error) {
	r := *old
	if b.externalID != nil {
		r.referenceID = *b.externalID
	}
	if b.name != nil {
		r.name = *b.name
	}
	if a, ok := parseAccess(b); ok {
		r.access = a
	}
	if b.relationship != nil && r.access == accessPassthrough && r.name == "" {
		return nil, fmt.Errorf("name: required when relationship is %q, and the profile has none", relResold)
	}
	r.more = b.applyDetails(&r, old.more)
	if b.metadata != nil {
		m := maps.Clone(old.metadata)
		if m == nil {
			m = map[string]string{}
		}
		for k, v := range b.metadata {
			if v == "" {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		if len(m) > maxMetadataKeys {
			return nil, fmt.Errorf("metadata: the update would leave %d keys, at most %d allowed; delete keys by sending them with \"\"", len(m), maxMetadataKeys)
		}
		if len(m) == 0 {
			m = empty
		}
		r.metadata = m
	}
	return &r, nil
}
