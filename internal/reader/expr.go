package reader

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/provision/provision/internal/profile"
)

// The grammar of a --map SOURCE is documented on Mapping.

// source is where a mapped field's value comes from.
type source struct {
	text   string // as written, trimmed
	alts   []term // fallbacks: the first that gives a value wins
	layout layout // onboarded_at: how the export writes dates; zero: as given
}

// term is one alternative of a source.
type term struct {
	hash  bool    // sha256(...) of the value
	col   string  // a column or key, when tmpl is nil
	tmpl  []piece // a template
	table *table  // COLUMN:TABLE
}

// piece is a template's literal text, or a placeholder when ref is set.
type piece struct {
	text string
	ref  string
	mod  modifier
}

// modifier changes a placeholder's value.
type modifier uint8

const (
	modNone  modifier = iota
	modLocal          // the part of an email address before the @
	modUpper
	modLower
)

// modifierNamed is the modifier a placeholder names after its last colon.
func modifierNamed(s string) (modifier, bool) {
	switch s {
	case "local":
		return modLocal, true
	case "upper":
		return modUpper, true
	case "lower":
		return modLower, true
	}
	return modNone, false
}

func (m modifier) apply(s string) string {
	switch m {
	case modLocal:
		if i := strings.LastIndexByte(s, '@'); i >= 0 {
			return s[:i]
		}
	case modUpper:
		return strings.ToUpper(s)
	case modLower:
		return strings.ToLower(s)
	}
	return s
}

// table is a value table: FROM=TO pairs, and what every other value becomes.
type table struct {
	from, to []string
	other    *string // "*=TO"
}

// layoutKind says how onboarded_at's text is read.
type layoutKind uint8

const (
	layoutNone    layoutKind = iota // sent as given; the validator checks RFC 3339
	layoutRFC3339                   // any RFC 3339 timestamp, sent in UTC
	layoutUnix                      // seconds since 1970
	layoutUnixMS                    // milliseconds since 1970
	layoutGo                        // a Go reference-time layout
)

// layout is how the export writes onboarded_at.
type layout struct {
	kind layoutKind
	text string // as given, for messages; the Go layout for layoutGo
}

// layoutNamed recognises the last alternative of an onboarded_at source as
// a layout: a named one, or a Go layout, which has the reference year.
func layoutNamed(s string) (layout, bool) {
	switch strings.ToLower(s) {
	case "rfc3339", "iso8601":
		return layout{kind: layoutRFC3339, text: s}, true
	case "unix", "unix_s", "epoch":
		return layout{kind: layoutUnix, text: s}, true
	case "unixms", "unix_ms":
		return layout{kind: layoutUnixMS, text: s}, true
	}
	if strings.Contains(s, "2006") {
		return layout{kind: layoutGo, text: s}, true
	}
	return layout{}, false
}

// specError is a mistake in a --map or --where value; the caller adds which.
type specError struct{ msg string }

func specErrorf(format string, args ...any) *specError {
	return &specError{msg: fmt.Sprintf(format, args...)}
}

// splitTop splits s at every sep that is not inside {} or ().
func splitTop(s string, sep byte) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{', '(':
			depth++
		case '}', ')':
			if depth > 0 {
				depth--
			}
		case sep:
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

// parseSource parses the SOURCE of --map f=SOURCE.
func parseSource(f field, text string) (source, *specError) {
	src := source{text: text}
	parts := splitTop(text, '|')
	if f.kind == kindOnboardedAt && len(parts) > 1 {
		if l, ok := layoutNamed(strings.TrimSpace(parts[len(parts)-1])); ok {
			src.layout = l
			parts = parts[:len(parts)-1]
		}
	}
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			return source{}, specErrorf("an alternative between | is empty; write FIELD=SOURCE|SOURCE, e.g. name={Name}|{email:local}")
		}
		t, err := parseTerm(f, p)
		if err != nil {
			return source{}, err
		}
		src.alts = append(src.alts, t)
	}
	if f.kind == kindMetadata {
		if _, ok := src.plainColumn(); !ok {
			return source{}, specErrorf("metadata takes one column holding a JSON object; map single keys with metadata.KEY=SOURCE")
		}
	}
	return src, nil
}

// parseTerm parses one alternative.
func parseTerm(f field, s string) (term, *specError) {
	if inner, ok := strings.CutPrefix(s, "sha256("); ok {
		inner, ok = strings.CutSuffix(inner, ")")
		inner = strings.TrimSpace(inner)
		if !ok || inner == "" {
			return term{}, specErrorf("sha256( needs a column or template and a closing ), e.g. sha256({First name} {Last name})")
		}
		t, err := parseTerm(field{kind: kindName}, inner)
		if err != nil {
			return term{}, err
		}
		if t.hash || t.table != nil {
			return term{}, specErrorf("sha256() takes a column or a template, not %q", inner)
		}
		t.hash = true
		return t, nil
	}
	if strings.ContainsAny(s, "{}") {
		pieces, err := parseTemplate(s)
		return term{tmpl: pieces}, err
	}
	if eq := strings.IndexByte(s, '='); eq >= 0 {
		colon := strings.LastIndexByte(s[:eq], ':')
		if colon < 0 {
			return term{}, specErrorf("%q has an = but no COLUMN: before its value table; write e.g. Status:ACTIVE=active,SUSPENDED=suspended", s)
		}
		col := strings.TrimSpace(s[:colon])
		if col == "" {
			return term{}, specErrorf("the value table %q has no column before its colon", s)
		}
		tb, err := parseTable(f, s[colon+1:])
		if err != nil {
			return term{}, err
		}
		return term{col: col, table: tb}, nil
	}
	return term{col: s}, nil
}

// parseTemplate splits a template into literal text and placeholders.
func parseTemplate(s string) ([]piece, *specError) {
	var pieces []piece
	refs := 0
	for s != "" {
		open := strings.IndexByte(s, '{')
		if cl := strings.IndexByte(s, '}'); cl >= 0 && (open < 0 || cl < open) {
			return nil, specErrorf("a } without its {; placeholders are written {COLUMN}")
		}
		if open < 0 {
			pieces = append(pieces, piece{text: s})
			break
		}
		if open > 0 {
			pieces = append(pieces, piece{text: s[:open]})
		}
		end := strings.IndexByte(s[open:], '}')
		if end < 0 {
			return nil, specErrorf("a { is never closed; placeholders are written {COLUMN}")
		}
		inner := s[open+1 : open+end]
		if strings.IndexByte(inner, '{') >= 0 {
			return nil, specErrorf("placeholders cannot nest: {%s}", inner)
		}
		p := piece{ref: strings.TrimSpace(inner)}
		if i := strings.LastIndexByte(p.ref, ':'); i >= 0 {
			if m, ok := modifierNamed(strings.TrimSpace(p.ref[i+1:])); ok {
				p.ref, p.mod = strings.TrimSpace(p.ref[:i]), m
			}
		}
		if p.ref == "" {
			return nil, specErrorf("an empty placeholder {}; write {COLUMN}")
		}
		pieces = append(pieces, p)
		refs++
		s = s[open+end+1:]
	}
	if refs == 0 {
		return nil, specErrorf("the template has no {COLUMN} placeholder")
	}
	return pieces, nil
}

// parseTable parses FROM=TO pairs; every TO must be a value field f takes.
func parseTable(f field, s string) (*table, *specError) {
	tb := &table{}
	vocab := profile.Vocabulary(f.String())
	for pair := range strings.SplitSeq(s, ",") {
		from, to, ok := strings.Cut(pair, "=")
		from, to = strings.TrimSpace(from), strings.TrimSpace(to)
		if !ok || from == "" {
			return nil, specErrorf("the value table entry %q is not FROM=TO; write e.g. ACTIVE=active", strings.TrimSpace(pair))
		}
		if to != "" {
			switch {
			case vocab != nil && !slices.Contains(vocab, to):
				return nil, specErrorf("%q is not a value of %s; use %s", to, f, strings.Join(vocab, ", "))
			case f.kind == kindCountry && !profile.IsCountryCode(to):
				return nil, specErrorf("%q is not an ISO 3166-1 alpha-2 code", to)
			}
		}
		if from == "*" {
			if tb.other != nil {
				return nil, specErrorf("the value table has two *= entries")
			}
			tb.other = &to
			continue
		}
		if slices.ContainsFunc(tb.from, func(s string) bool { return strings.EqualFold(s, from) }) {
			return nil, specErrorf("the value table names %q twice", from)
		}
		tb.from = append(tb.from, from)
		tb.to = append(tb.to, to)
	}
	return tb, nil
}

// plainColumn returns the column of a source that is just FIELD=COLUMN.
func (s source) plainColumn() (string, bool) {
	if len(s.alts) != 1 || s.layout.kind != layoutNone {
		return "", false
	}
	t := s.alts[0]
	if t.hash || t.tmpl != nil || t.table != nil {
		return "", false
	}
	return t.col, true
}

// refs returns every column or key the source reads, in order, once each.
func (s source) refs() []string {
	var out []string
	add := func(r string) {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	for _, t := range s.alts {
		if t.tmpl == nil {
			add(t.col)
			continue
		}
		for _, p := range t.tmpl {
			if p.ref != "" {
				add(p.ref)
			}
		}
	}
	return out
}

// cell is one column's or key's value in a record.
type cell struct {
	text  string // CSV: the cell; JSONL: a string unquoted, another value as written
	raw   []byte // JSONL only: the value's JSON text
	found bool   // the column or key exists (JSONL: even as null)
}

// present reports whether the cell holds a value: CSV, a non-empty cell;
// JSONL, anything but null.
func (c cell) present() bool {
	if c.raw != nil {
		return c.raw[0] != 'n'
	}
	return c.text != ""
}

// row is one record as a source reads it.
type row interface {
	cell(name string) cell
}

// scalarText is a cell's text for a template, a table, a hash or a layout:
// JSON numbers and booleans are taken as written; objects and arrays are a
// problem naming the key.
func scalarText(name string, c cell) (string, *profile.Problem) {
	if c.raw != nil && (c.raw[0] == '{' || c.raw[0] == '[') {
		return "", wrongType(name, "a string, a number or a boolean", c.raw)
	}
	return c.text, nil
}

// eval gives the value of s for field f in one record; ok is false when the
// field is absent.
func (s *source) eval(f field, rw row) (val string, ok bool, prob *profile.Problem) {
	from := ""
	for i := range s.alts {
		val, ok, prob = s.alts[i].eval(f, rw)
		if prob != nil {
			return "", false, prob
		}
		if ok {
			from = s.alts[i].describe()
			break
		}
	}
	if !ok || s.layout.kind == layoutNone {
		return val, ok, prob
	}
	t, err := s.layout.parse(val)
	if err != nil {
		return "", false, &profile.Problem{Rule: profile.RuleOnboardedAtInvalid, Field: f.String(),
			Message: fmt.Sprintf("%q (%s) does not match the layout %s given in --map", shortValue(val), from, s.layout.text)}
	}
	return t.UTC().Format(time.RFC3339Nano), true, nil
}

// describe names a term's origin in a message: column "Created", or the
// template as written.
func (t *term) describe() string {
	if t.tmpl == nil {
		return fmt.Sprintf("column %q", t.col)
	}
	var b strings.Builder
	for _, p := range t.tmpl {
		if p.ref == "" {
			b.WriteString(p.text)
		} else {
			b.WriteString("{" + p.ref + "}")
		}
	}
	return "template " + b.String()
}

func (t *term) eval(f field, rw row) (string, bool, *profile.Problem) {
	var val string
	switch {
	case t.tmpl != nil:
		v, ok, prob := evalTemplate(t.tmpl, rw)
		if !ok || prob != nil {
			return "", false, prob
		}
		val = v
	default:
		c := rw.cell(t.col)
		if !c.present() {
			return "", false, nil
		}
		v, prob := scalarText(t.col, c)
		if prob != nil {
			return "", false, prob
		}
		if t.table != nil {
			return t.table.lookup(f, t.col, v)
		}
		if v == "" && t.hash {
			return "", false, nil
		}
		val = v
	}
	if t.hash {
		return profile.NameHash(val), true, nil
	}
	return val, true, nil
}

// evalTemplate fills a template. Literal text stands before the
// placeholder that follows it, and only when that placeholder gives a
// value after some earlier one did (a separator), or starts the template
// (a prefix); text after the last placeholder stays with it (a suffix).
// So "{Last}, {First} ({Title})" without a first name is "Last (Title)".
func evalTemplate(pieces []piece, rw row) (string, bool, *profile.Problem) {
	vals := make([]string, len(pieces))
	some := false
	for i, p := range pieces {
		if p.ref == "" {
			continue
		}
		c := rw.cell(p.ref)
		if !c.present() {
			continue
		}
		v, prob := scalarText(p.ref, c)
		if prob != nil {
			return "", false, prob
		}
		vals[i] = strings.TrimSpace(p.mod.apply(v))
		some = some || vals[i] != ""
	}
	if !some {
		return "", false, nil
	}
	var b strings.Builder
	hasPrev, prevValue, lastValue := false, false, false
	for i, p := range pieces {
		if p.ref != "" {
			b.WriteString(vals[i])
			hasPrev, lastValue = true, vals[i] != ""
			prevValue = prevValue || lastValue
			continue
		}
		keep := lastValue // a suffix
		if next := nextRef(pieces, i); next >= 0 {
			keep = vals[next] != "" && (!hasPrev || prevValue)
		}
		if keep {
			b.WriteString(p.text)
		}
	}
	return strings.Join(strings.Fields(b.String()), " "), true, nil
}

// nextRef is the index of the first placeholder after piece i, or -1.
func nextRef(pieces []piece, i int) int {
	for j := i + 1; j < len(pieces); j++ {
		if pieces[j].ref != "" {
			return j
		}
	}
	return -1
}

// lookup translates a value through the table.
func (tb *table) lookup(f field, col, v string) (string, bool, *profile.Problem) {
	key := strings.TrimSpace(v)
	if key == "" {
		return "", false, nil
	}
	for i, from := range tb.from {
		if strings.EqualFold(from, key) {
			return tb.to[i], tb.to[i] != "", nil
		}
	}
	if tb.other != nil {
		return *tb.other, *tb.other != "", nil
	}
	return "", false, &profile.Problem{Rule: RuleValueNotMapped, Field: f.String(),
		Message: fmt.Sprintf("%q (column %q) is not in the --map value table; add %s=VALUE, or *=VALUE for every other value", shortValue(key), col, key)}
}

// parse reads a date in the layout.
func (l layout) parse(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch l.kind {
	case layoutRFC3339:
		return time.Parse(time.RFC3339Nano, s)
	case layoutUnix, layoutUnixMS:
		scale := 1.0
		if l.kind == layoutUnixMS {
			scale = 1e-3
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			if l.kind == layoutUnixMS {
				return time.UnixMilli(n), nil
			}
			return time.Unix(n, 0), nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return time.Time{}, fmt.Errorf("not a number")
		}
		sec := f * scale
		whole := math.Floor(sec)
		return time.Unix(int64(whole), int64((sec-whole)*1e9)), nil
	}
	return time.Parse(l.text, s)
}

// shortValue keeps a quoted value readable in a message.
func shortValue(s string) string {
	const max = 40
	if r := []rune(s); len(r) > max {
		return string(r[:max]) + "…"
	}
	return s
}
