package reader

import (
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/provision/provision/internal/profile"
)

// fieldKind is the part of a create request a column feeds.
type fieldKind uint8

const (
	kindNone fieldKind = iota
	// Scalar fields: one string each. Their order is the order of the
	// slots a record's values are collected in.
	kindExternalID
	kindReferenceID // the same request field as external_id, under its GA name
	kindName
	kindRelationship
	kindAccessType
	kindCountry
	kindEmail // hashed into email_hash, never sent
	kindEmailHash
	kindNameHash
	kindOnboardedAt
	kindAccountStatus
	kindEntityType
	// Other fields.
	kindMetadata    // a JSON object of strings
	kindMetadataKey // one metadata key
	kindDetails     // JSONL: an external_user_details object
)

// nScalar is the number of scalar kinds, kindExternalID to kindEntityType.
const nScalar = int(kindEntityType)

// scalar reports whether k is a field of one string, and its slot.
func (k fieldKind) scalar() (slot int, ok bool) {
	if k >= kindExternalID && k <= kindEntityType {
		return int(k - kindExternalID), true
	}
	return 0, false
}

// name is the field's name as --map and the canonical columns spell it.
func (k fieldKind) name() string {
	switch k {
	case kindExternalID:
		return "external_id"
	case kindReferenceID:
		return "reference_id"
	case kindName:
		return "name"
	case kindRelationship:
		return "relationship"
	case kindAccessType:
		return "access_type"
	case kindCountry:
		return "country"
	case kindEmail:
		return "email"
	case kindEmailHash:
		return "email_hash"
	case kindNameHash:
		return "name_hash"
	case kindOnboardedAt:
		return "onboarded_at"
	case kindAccountStatus:
		return "account_status"
	case kindEntityType:
		return "entity_type"
	case kindMetadata:
		return "metadata"
	case kindDetails:
		return "external_user_details"
	}
	return ""
}

// group is the request field a kind feeds: external_id and reference_id
// are one field, relationship and access_type are one in two vocabularies,
// and email feeds email_hash. Mapping any kind of a group replaces the
// canonical columns of the whole group.
func (k fieldKind) group() fieldKind {
	switch k {
	case kindReferenceID:
		return kindExternalID
	case kindAccessType:
		return kindRelationship
	case kindEmail:
		return kindEmailHash
	}
	return k
}

// seed reports whether k is a field of the seed's contract, whose canonical
// columns are the only ones read under it: an export made for the seed may
// well have a column named country or email that it never meant to send.
func (k fieldKind) seed() bool {
	switch k {
	case kindExternalID, kindName, kindRelationship, kindMetadata, kindMetadataKey:
		return true
	}
	return false
}

// field names a request field: a kind, plus the key for kindMetadataKey.
type field struct {
	kind fieldKind
	key  string
}

func (f field) String() string {
	if f.kind == kindMetadataKey {
		return "metadata." + f.key
	}
	return f.kind.name()
}

// fieldNamed is the field --map calls name, or kindNone.
func fieldNamed(name string) field {
	if key, ok := strings.CutPrefix(name, "metadata."); ok && key != "" {
		return field{kind: kindMetadataKey, key: key}
	}
	for k := kindExternalID; k <= kindMetadata; k++ {
		if k.name() == name {
			return field{kind: k}
		}
	}
	return field{}
}

// detailsPrefix is how a flattened export names the GA details.
const detailsPrefix = "external_user_details."

// canonicalField is the field a column of that name feeds when no --map
// says otherwise, whatever the version. Flattened GA exports' names
// (external_user_details.country) are canonical too.
func canonicalField(col string) field {
	if d, ok := strings.CutPrefix(col, detailsPrefix); ok {
		if f := detailField(d); f.kind != kindNone {
			return f
		}
		return field{}
	}
	if col == "external_user_details" {
		return field{kind: kindDetails}
	}
	return fieldNamed(col)
}

// detailField is the field a member of an external_user_details object
// feeds, or kindNone.
func detailField(name string) field {
	switch f := fieldNamed(name); f.kind {
	case kindReferenceID, kindCountry, kindEmail, kindEmailHash, kindNameHash, kindOnboardedAt, kindAccountStatus, kindEntityType:
		return f
	}
	return field{}
}

// detailNames lists what an external_user_details object may hold, for messages.
const detailNames = "reference_id, country, email, email_hash, name_hash, onboarded_at, account_status or entity_type"

// fieldList names every field --map takes, for messages.
const fieldList = "external_id (or reference_id), name, relationship (or access_type), metadata, metadata.KEY, " +
	"country, email, email_hash, name_hash, onboarded_at, account_status or entity_type"

// Mapping says where each request field the user mapped comes from, as
// given by --map FIELD=SOURCE; the fields not mapped are read from their
// canonical columns. The zero value maps nothing.
//
// FIELD is external_id (or reference_id, its GA name), name, relationship
// (or access_type), metadata (a JSON object), metadata.KEY, country, email
// (hashed into email_hash here, never sent), email_hash, name_hash,
// onboarded_at, account_status or entity_type. Mapping a field replaces its
// canonical columns (external_id and reference_id count as one, as do
// relationship and access_type, and email and email_hash).
//
// SOURCE is one or more alternatives separated by "|"; the first that gives
// a value is used ("fallbacks"). An alternative is one of:
//
//	COLUMN                   a CSV column, or a JSONL key; in JSONL a dotted
//	                         key reaches into objects: app_metadata.plan
//	TEMPLATE                 text with {COLUMN} placeholders:
//	                         {First name} {Last name}. A placeholder may take
//	                         a modifier: {email:local} (the part before the
//	                         @), {Country:upper}, {Country:lower}. Literal text
//	                         next to an empty placeholder is dropped, runs of
//	                         spaces become one and the ends are trimmed; with
//	                         every placeholder empty there is no value.
//	sha256(COLUMN|TEMPLATE)  the lower-case hex SHA-256 of the value with its
//	                         spaces tidied and lower-cased (profile.NameHash),
//	                         e.g. name_hash=sha256({First name} {Last name})
//	COLUMN:TABLE             a value table, FROM=TO pairs separated by commas:
//	                         Status:ACTIVE=active,SUSPENDED=suspended,DEPROVISIONED=blocked.
//	                         FROM is matched ignoring case and surrounding
//	                         spaces; "*=TO" catches every other value; an
//	                         empty TO leaves the field absent. A value the
//	                         table does not name is a row problem. TO must be
//	                         a word of the field's vocabulary.
//
// For onboarded_at the last alternative may instead be the layout of the
// export's dates, applied to whichever alternative gives the value:
// rfc3339, unix (seconds), unixms (milliseconds), or a Go layout written
// with the reference date, which must contain the year 2006:
// onboarded_at=Created|2006-01-02, onboarded_at=created|unix. The value is
// sent as an RFC 3339 timestamp in UTC; a date without a zone is UTC.
//
// In JSONL a plain FIELD=KEY requires a JSON string, as a canonical key
// does; templates, tables, hashes and layouts also take numbers and
// booleans (accountEnabled:true=active,false=suspended; created|unix).
//
// A CSV SOURCE that is exactly the name of a header column is that column,
// whatever characters it holds, so FIELD=COLUMN keeps working for any name.
type Mapping struct {
	fields   []mapped         // in the order given
	byField  map[field]int    // field -> index in fields
	byColumn map[string]field // plain FIELD=COLUMN sources: column -> field
}

// mapped is one --map: a field and where its value comes from.
type mapped struct {
	spec  string // as given, for messages
	field field
	src   source
}

// ParseMapping parses --map values of the form FIELD=SOURCE; see Mapping.
func ParseMapping(specs []string) (Mapping, error) {
	var m Mapping
	groups := map[field]string{}
	for _, spec := range specs {
		name, rhs, ok := strings.Cut(spec, "=")
		if !ok {
			return Mapping{}, usagef("--map %q: expected FIELD=COLUMN, e.g. --map name=full_name", spec)
		}
		name, rhs = strings.TrimSpace(name), strings.TrimSpace(rhs)
		f := fieldNamed(name)
		switch {
		case name == "metadata.":
			return Mapping{}, usagef("--map %q: the metadata key is missing; use metadata.KEY=COLUMN, e.g. metadata.plan=tier", spec)
		case f.kind == kindNone:
			return Mapping{}, usagef("--map %q: unknown field %q; use %s", spec, name, fieldList)
		case rhs == "":
			return Mapping{}, usagef("--map %q: the column name is missing; use FIELD=COLUMN, e.g. --map name=full_name", spec)
		}
		if f.kind == kindMetadataKey {
			// A bad key would fail on every row, so it is refused up front.
			if !utf8.ValidString(f.key) {
				return Mapping{}, usagef("--map %q: the metadata key is not valid UTF-8", spec)
			}
			if n := utf8.RuneCountInString(f.key); n > profile.MaxMetadataKey {
				return Mapping{}, usagef("--map %q: the metadata key is %d characters, at most %d allowed", spec, n, profile.MaxMetadataKey)
			}
		}
		src, err := parseSource(f, rhs)
		if err != nil {
			return Mapping{}, usagef("--map %q: %s", spec, err.msg)
		}
		if m.byField == nil {
			m.byField = make(map[field]int)
			m.byColumn = make(map[string]field)
		}
		if i, dup := m.byField[f]; dup {
			return Mapping{}, usagef("--map: field %s is mapped twice (to columns %q and %q); map each field once", f, m.fields[i].src.text, rhs)
		}
		g := field{kind: f.kind.group(), key: f.key}
		if prev, dup := groups[g]; dup {
			return Mapping{}, usagef("--map: %s and %s set one field (%s); map only one of them", prev, f, sameField(g.kind))
		}
		groups[g] = f.String()
		if col, ok := src.plainColumn(); ok {
			if prev, dup := m.byColumn[col]; dup {
				return Mapping{}, usagef("--map: column %q is mapped twice (to %s and to %s); map each column once", col, prev, f)
			}
			m.byColumn[col] = f
		}
		m.byField[f] = len(m.fields)
		m.fields = append(m.fields, mapped{spec: name + "=" + rhs, field: f, src: src})
	}
	return m, nil
}

// forHeader returns m with every source that is exactly the name of a
// header column read as that column, so that FIELD=COLUMN works for a name
// with characters the grammar uses: "Created (UTC)", "Plan|Tier".
func (m Mapping) forHeader(index map[string]int) Mapping {
	out := m
	for i, mf := range m.fields {
		if _, plain := mf.src.plainColumn(); plain {
			continue
		}
		if _, isColumn := index[mf.src.text]; !isColumn {
			continue
		}
		if _, claimed := m.byColumn[mf.src.text]; claimed {
			continue // the column is mapped plainly to another field, which wins
		}
		if len(out.fields) > 0 && &out.fields[0] == &m.fields[0] {
			out.fields = slices.Clone(m.fields) // the caller's Mapping is left as it was
			out.byColumn = maps.Clone(m.byColumn)
		}
		out.fields[i].src = source{text: mf.src.text, alts: []term{{col: mf.src.text}}}
		out.byColumn[mf.src.text] = mf.field
	}
	return out
}

// sameField explains why two fields of a group are one.
func sameField(g fieldKind) string {
	switch g {
	case kindExternalID:
		return "reference_id is the GA name of external_id"
	case kindRelationship:
		return "access_type is the GA word for relationship"
	case kindEmailHash:
		return "email is hashed into email_hash"
	}
	return g.name()
}

// canonical returns the field that column (or key) col feeds when no
// mapping names it: its canonical field, if version v reads that column
// and no mapped field replaces it.
func (m Mapping) canonical(col string, v profile.Version) field {
	f := canonicalField(col)
	if f.kind == kindNone {
		return f
	}
	if _, claimed := m.byColumn[col]; claimed {
		return field{} // a column mapped to a field feeds only that field
	}
	if v == profile.Version20260324 && !f.kind.seed() {
		return field{}
	}
	if f.kind != kindDetails && !v.Accepts(f.String()) {
		return field{}
	}
	if f.kind == kindDetails && !v.Accepts("country") {
		return field{}
	}
	if m.replaces(f) {
		return field{}
	}
	return f
}

// replaces reports whether a mapped field replaces the canonical column of f.
func (m Mapping) replaces(f field) bool {
	for _, mf := range m.fields {
		if mf.field.kind.group() == f.kind.group() && mf.field.key == f.key {
			return true
		}
	}
	return false
}

// checkVersion refuses a mapping to a field that contract v cannot carry,
// before any row is read.
func (m Mapping) checkVersion(v profile.Version) error {
	for _, mf := range m.fields {
		if !v.Accepts(mf.field.String()) {
			return usagef("--map %s: %s is not part of %s; use --api ga", mf.spec, mf.field, v.Contract())
		}
	}
	return nil
}
