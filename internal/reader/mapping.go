package reader

import (
	"strings"
	"unicode/utf8"

	"github.com/provision/provision/internal/profile"
)

// fieldKind is the part of a create request a column feeds.
type fieldKind uint8

const (
	kindNone fieldKind = iota
	kindExternalID
	kindName
	kindRelationship
	kindMetadata    // a JSON object of strings
	kindMetadataKey // one metadata key
)

// field names a request field: a kind, plus the key for kindMetadataKey.
type field struct {
	kind fieldKind
	key  string
}

func (f field) String() string {
	switch f.kind {
	case kindExternalID:
		return "external_id"
	case kindName:
		return "name"
	case kindRelationship:
		return "relationship"
	case kindMetadata:
		return "metadata"
	case kindMetadataKey:
		return "metadata." + f.key
	}
	return ""
}

// canonicalField is the field a column of that name feeds when no --map
// says otherwise.
func canonicalField(col string) field {
	switch col {
	case "external_id":
		return field{kind: kindExternalID}
	case "name":
		return field{kind: kindName}
	case "relationship":
		return field{kind: kindRelationship}
	case "metadata":
		return field{kind: kindMetadata}
	}
	if key, ok := strings.CutPrefix(col, "metadata."); ok && key != "" {
		return field{kind: kindMetadataKey, key: key}
	}
	return field{}
}

// Mapping says which column (CSV) or top-level key (JSONL) each request
// field is read from, for the fields the user mapped with --map FIELD=COLUMN.
// The zero value maps nothing: every field is read from its canonical column.
type Mapping struct {
	byColumn map[string]field // column -> field it feeds
	byField  map[field]string // field -> column it is read from
	order    []string         // mapped columns in the order given, for messages
}

// ParseMapping parses --map values of the form FIELD=COLUMN, where FIELD is
// external_id, name, relationship, metadata or metadata.KEY.
func ParseMapping(specs []string) (Mapping, error) {
	var m Mapping
	for _, spec := range specs {
		name, col, ok := strings.Cut(spec, "=")
		if !ok {
			return Mapping{}, usagef("--map %q: expected FIELD=COLUMN, e.g. --map name=full_name", spec)
		}
		name, col = strings.TrimSpace(name), strings.TrimSpace(col)
		f := canonicalField(name)
		switch {
		case name == "metadata.":
			return Mapping{}, usagef("--map %q: the metadata key is missing; use metadata.KEY=COLUMN, e.g. metadata.plan=tier", spec)
		case f.kind == kindNone:
			return Mapping{}, usagef("--map %q: unknown field %q; use external_id, name, relationship, metadata or metadata.KEY", spec, name)
		case col == "":
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
		if m.byColumn == nil {
			m.byColumn = make(map[string]field)
			m.byField = make(map[field]string)
		}
		if prev, dup := m.byField[f]; dup {
			return Mapping{}, usagef("--map: field %s is mapped twice (to columns %q and %q); map each field once", f, prev, col)
		}
		if prev, dup := m.byColumn[col]; dup {
			return Mapping{}, usagef("--map: column %q is mapped twice (to %s and to %s); map each column once", col, prev, f)
		}
		m.byColumn[col] = f
		m.byField[f] = col
		m.order = append(m.order, col)
	}
	return m, nil
}

// resolve returns the field that column (or top-level key) col feeds: its
// mapping if it has one; otherwise its canonical field unless that field is
// mapped to another column, since a mapped field replaces its canonical column.
func (m Mapping) resolve(col string) field {
	if f, ok := m.byColumn[col]; ok {
		return f
	}
	f := canonicalField(col)
	if f.kind == kindNone {
		return f
	}
	if _, mapped := m.byField[f]; mapped {
		return field{}
	}
	return f
}
