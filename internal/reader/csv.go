package reader

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/provision/provision/internal/profile"
)

// Fields are parsed with encoding/csv rather than gocsv: gocsv decodes into
// structs whose columns are fixed at compile time, while an export's columns
// are only known from its header and the --map flags; its CSVReader
// interface is encoding/csv's Read method and adds nothing here.

// plan is where each request field comes from in a CSV record.
type plan struct {
	cols     []colFeed    // columns that feed a scalar field as they are
	metadata int          // the metadata JSON column, or -1
	metaKeys []metaColumn // columns that set one metadata key
	// sortedMeta is metaKeys sorted by key when they are the only source
	// of metadata and no two set one key (MapSorted); nil otherwise.
	sortedMeta []metaColumn
	// direct: the scalar fields come from cols alone, each from one column,
	// and none is one parts.request derives another from (reference_id,
	// email): a value goes to its field as it is (directCols).
	direct bool
	index  map[string]int // column -> index, for computed sources and filters
}

// colFeed is a column that feeds a scalar field.
type colFeed struct {
	col  int
	kind fieldKind
}

// metaColumn is a column that sets one metadata key.
type metaColumn struct {
	col int
	key string
}

// sentinel is an error that can be a constant.
type sentinel string

func (s sentinel) Error() string { return string(s) }

// errBlank marks a record csv skipped as an empty line.
const errBlank sentinel = "blank record"

// openCSV settles the delimiter, reads and checks the header, and plans
// which column feeds which request field.
func (r *Reader) openCSV(opts Options) error {
	if opts.Delimiter != 0 {
		if err := validDelimiter(opts.Delimiter); err != nil {
			return err
		}
		r.delim = byte(opts.Delimiter)
	} else {
		text, err := r.in.Peek(sniffSize)
		if err != nil && err != io.EOF {
			return err
		}
		r.delim = detectDelimiter(text)
	}
	r.newCSV()

	var sp span
	var rec []string
	for {
		var err error
		sp, err = r.nextSpan()
		if err == io.EOF {
			return nil // an empty input has no header and no records
		}
		if err != nil {
			return err
		}
		if sp.tooLong {
			return usagef("line %d: the header is longer than %s; is this a CSV file?", sp.line, sizeText(r.max))
		}
		rec, err = r.parse(sp)
		if err == errBlank {
			continue
		}
		if pe := parseError(err); pe != nil {
			return usagef("line %d: the header is not valid CSV: %s", sp.line, syntaxMessage(pe, sp))
		}
		if err != nil {
			return err
		}
		break
	}

	header := make([]string, len(rec))
	var empty []string
	seen := make(map[string]int, len(rec))
	for i, c := range rec {
		c = strings.TrimSpace(c)
		header[i] = c
		switch prev, dup := seen[c]; {
		case c == "":
			empty = append(empty, fmt.Sprint(i+1))
		case !utf8.ValidString(c):
			return usagef("line %d: header column %d is not valid UTF-8; check --encoding", sp.line, i+1)
		case dup:
			return usagef("line %d: the header has two columns named %q (columns %d and %d); rename one of them", sp.line, c, prev+1, i+1)
		}
		seen[c] = i
	}
	if len(empty) > 0 {
		return usagef("line %d: the header has an empty column name (column %s of %d); give every column a name",
			sp.line, strings.Join(empty, ", "), len(header))
	}
	r.header = header
	return r.planCSV(seen)
}

// planCSV settles which column feeds which field, checking that every
// column the mapping and the filters name is in the header.
func (r *Reader) planCSV(index map[string]int) error {
	m := r.mapping.forHeader(index)
	r.mapping = m
	for _, mf := range m.fields {
		for _, col := range mf.src.refs() {
			if _, ok := index[col]; !ok {
				return usagef("--map %s: the header has no column %q; the columns are: %s", mf.spec, col, listColumns(r.header))
			}
		}
	}
	for _, c := range r.where.conds {
		if _, ok := index[c.key]; !ok {
			return usagef("--where %s: the header has no column %q; the columns are: %s", c.spec, c.key, listColumns(r.header))
		}
	}
	r.plan = plan{metadata: -1, index: index}
	used := make([]bool, len(r.header))
	for _, mf := range m.fields {
		if _, plain := mf.src.plainColumn(); plain {
			continue
		}
		r.computed = append(r.computed, mf)
		for _, col := range mf.src.refs() {
			used[index[col]] = true
		}
	}
	for _, col := range r.where.keys() {
		used[index[col]] = true
	}
	for i, c := range r.header {
		f, mapped := m.byColumn[c]
		if !mapped {
			f = m.canonical(c, r.version)
		}
		switch f.kind {
		case kindMetadata:
			r.plan.metadata = i
		case kindMetadataKey:
			r.plan.metaKeys = append(r.plan.metaKeys, metaColumn{col: i, key: f.key})
		case kindNone, kindDetails:
			if !used[i] {
				r.unused = append(r.unused, c)
			}
			continue
		default:
			r.plan.cols = append(r.plan.cols, colFeed{col: i, kind: f.kind})
		}
	}
	// The strings of a request are then the record's values, or words
	// and hashes: valid UTF-8 when the values are.
	r.keepsUTF8 = len(r.computed) == 0 && r.plan.metadata < 0
	r.anyField = len(r.plan.cols) > 0 || r.plan.metadata >= 0 || len(r.plan.metaKeys) > 0 || len(r.computed) > 0
	r.plan.sortedMeta = sortedMetaKeys(r.plan, r.computed)
	r.plan.direct = directCols(r.plan.cols, r.computed)
	return nil
}

// directCols reports whether a record's values may go to their fields as
// they are, with no parts to gather them in: no --map computes a field,
// no two columns feed one field (which must then agree), and none feeds
// reference_id or email, which parts.request turns into external_id and
// email_hash.
func directCols(cols []colFeed, computed []mapped) bool {
	if len(computed) > 0 {
		return false
	}
	var fed [nScalar]bool
	for _, c := range cols {
		i, ok := c.kind.scalar()
		if !ok || fed[i] || c.kind == kindReferenceID || c.kind == kindEmail {
			return false
		}
		fed[i] = true
	}
	return true
}

// sortedMetaKeys returns the columns that set a metadata key, sorted by
// key, when nothing else sets metadata (no JSON column, no computed key)
// and no two set the same key; nil otherwise. A request's metadata are
// then those of its columns that are not empty, in that order.
func sortedMetaKeys(pl plan, computed []mapped) []metaColumn {
	if pl.metadata >= 0 {
		return nil
	}
	for _, mf := range computed {
		if mf.field.kind == kindMetadataKey {
			return nil
		}
	}
	keys := slices.Clone(pl.metaKeys)
	slices.SortFunc(keys, func(a, b metaColumn) int { return strings.Compare(a.key, b.key) })
	for i := 1; i < len(keys); i++ {
		if keys[i].key == keys[i-1].key {
			return nil
		}
	}
	if keys == nil {
		keys = []metaColumn{}
	}
	return keys
}

// listColumns renders a header for a message, shortened when it is wide.
func listColumns(header []string) string {
	const show = 20
	if len(header) <= show {
		return strings.Join(header, ", ")
	}
	return strings.Join(header[:show], ", ") + fmt.Sprintf(", … (%d more)", len(header)-show)
}

// newCSV starts a csv.Reader on the gate; it is also how the reader recovers
// if csv and the splitter ever disagree about where a record ends.
func (r *Reader) newCSV() {
	c := csv.NewReader(&r.gate)
	c.Comma = rune(r.delim)
	c.FieldsPerRecord = -1 // counts are checked here, to report them as row problems
	c.ReuseRecord = true
	r.csv = c
	r.fed = 0
}

// nextSpan returns the next record that is not a blank line.
func (r *Reader) nextSpan() (span, error) {
	for {
		sp, err := r.readSpan()
		if err != nil || sp.tooLong || !isBlank(sp.text) {
			return sp, err
		}
	}
}

// parse splits one record into fields, by splitFields or, when it declines,
// by csv. The returned slice is reused by the next call.
func (r *Reader) parse(sp span) ([]string, error) {
	if sp.split || r.splitFields(sp.text) {
		return r.fields, nil
	}
	r.canonical, r.validUTF8 = "", false
	r.gate.b = sp.text
	r.gate.drained = false
	r.fed += int64(len(sp.text))
	rec, err := r.csv.Read()
	if r.csv.InputOffset() != r.fed || (r.gate.drained && !sp.atEOF) {
		r.resyncs++
		r.gate.b = nil
		r.newCSV()
	}
	if err == io.EOF {
		return nil, errBlank // e.g. a lone "\r" at the end of the input
	}
	return rec, err
}

func (r *Reader) nextCSV() (Record, error) {
	raw, err := r.nextRaw()
	if err != nil || raw.Values == nil {
		return Record{Line: raw.Line, Problem: raw.Problem}, err
	}
	// One allocation holds the fields and, past their capacity where no
	// append can reach, the strings the request points to.
	n := len(r.header)
	all := r.fieldSpace(n + len(newSlots()))
	fields := all[:n:n]
	for i, name := range r.header {
		fields[i] = profile.Field{Name: name, Value: raw.Values[i]}
	}
	out := Record{Line: raw.Line, Fields: fields, CSV: raw.CSV, Problem: raw.Problem}
	if out.Problem == nil {
		out.Request, out.Problem = r.request(raw.Values, slots(all[n:]), nil)
	}
	return out, nil
}

// Raw is a CSV record read and split into its fields, the filters applied,
// but not yet mapped to a request: what NextRaw returns and Map maps. Its
// Values are reused by the next NextRaw; the strings in them are the
// record's own.
type Raw struct {
	// Line is the 1-based physical line on which the record starts.
	Line int
	// Values are the record's fields, one for each header column in order
	// (a record with more is cut, one with fewer completed with ""), as
	// Record.Fields' values; nil when the record could not be split.
	Values []string
	// CSV is Record.CSV.
	CSV string
	// ValidUTF8: every value is valid UTF-8, and so is every string of the
	// request Map makes of them, which may then be marked so
	// (profile.Request.WithValidUTF8) and spared the check field by field.
	ValidUTF8 bool
	// Problem is set when the record cannot be mapped: it could not be
	// split, or it does not have as many fields as the header. Map is
	// not called for it.
	Problem *profile.Problem
}

// NextRaw is Next for a CSV export, without the mapping: the record split,
// for Map to map, which is safe to call on other goroutines while NextRaw
// reads on. Next is NextRaw then Map. It returns io.EOF after the last
// record; for a JSONL export, an error: its records are mapped as they are
// parsed (use Next).
func (r *Reader) NextRaw() (Raw, error) {
	if r.format != FormatCSV {
		return Raw{}, errors.New("reader: NextRaw reads CSV only")
	}
	if r.err != nil {
		return Raw{}, r.err
	}
	raw, err := r.nextRaw()
	r.took(err)
	return raw, err
}

// NextRawIn is NextRaw with the record's text kept in *arena, appended to
// it, rather than in a string allocated for the record: the strings of
// Values and CSV point into *arena's bytes, and stay as they are for as
// long as the caller leaves those bytes (from the length *arena had) as
// they are. A caller that reads records in batches gives each batch an
// arena, and reuses it from its start once nothing refers to the batch's
// records any more: the reader then allocates nothing for a record, and
// the collector has nothing to collect. A record csv splits (one with a
// CR, or a quote out of place) still has strings of its own.
func (r *Reader) NextRawIn(arena *[]byte) (Raw, error) {
	r.arena, r.mark = arena, len(*arena)
	raw, err := r.NextRaw()
	r.arena = nil
	return raw, err
}

// nextRaw reads the next CSV record that the filters keep.
func (r *Reader) nextRaw() (Raw, error) {
	if r.header == nil {
		return Raw{}, io.EOF
	}
	sp, err := r.nextSpan()
	for err == nil {
		if sp.tooLong {
			return Raw{Line: sp.line, Problem: tooLong(r.max)}, nil
		}
		rec, perr := r.parse(sp)
		if perr == nil {
			if out, ok := r.csvRaw(sp.line, rec); ok {
				return out, nil
			}
			r.filtered.Add(1)
			if r.arena != nil {
				// Nothing refers to the record the filters dropped.
				*r.arena = (*r.arena)[:r.mark]
			}
			sp, err = r.nextSpan()
			continue
		}
		if pe := parseError(perr); pe != nil {
			return Raw{Line: sp.line, Problem: &profile.Problem{Rule: RuleCSVSyntax, Message: syntaxMessage(pe, sp)}}, nil
		}
		if perr != errBlank {
			return Raw{}, perr
		}
		sp, err = r.nextSpan()
	}
	return Raw{}, err
}

// csvRow is a CSV record as a source reads it.
type csvRow struct {
	index map[string]int
	rec   []string
}

func (c csvRow) cell(name string) cell {
	i, ok := c.index[name]
	if !ok {
		return cell{}
	}
	return cell{text: c.rec[i], found: true}
}

// csvRaw turns one parsed record into a Raw; ok is false when the filters
// drop it.
func (r *Reader) csvRaw(line int, rec []string) (out Raw, ok bool) {
	n := len(r.header)
	if len(rec) == n {
		if len(r.where.conds) > 0 && !r.where.keep(csvRow{r.plan.index, rec}) {
			return Raw{}, false
		}
		return Raw{Line: line, Values: rec, CSV: r.canonical, ValidUTF8: r.validUTF8 && r.keepsUTF8}, true
	}
	vals := r.padded[:0]
	for i := range n {
		v := ""
		if i < len(rec) {
			v = rec[i]
		}
		vals = append(vals, v)
	}
	r.padded = vals
	return Raw{Line: line, Values: vals, Problem: &profile.Problem{
		Rule:    RuleFieldCount,
		Message: fmt.Sprintf("%d fields, the header has %d", len(rec), n),
	}}, true
}

// Room holds the strings of the request Map returns, which point into it:
// the caller keeps it for as long as the request is used, and may then
// hand it to Map again. Its zero value is ready.
type Room struct {
	s [(nScalar + 1) / 2]profile.Field
}

// Map maps a record NextRaw returned without a Problem, its Values, to a
// request, or the problem that keeps it from being one, as Next does. The
// request's strings are kept in room (nil: a new one). Map only reads
// what Open set up, so several goroutines may call it at once, and while
// NextRaw reads on.
func (r *Reader) Map(values []string, room *Room) (profile.Request, *profile.Problem) {
	if room == nil {
		room = new(Room)
	}
	return r.request(values, slots(room.s[:]), nil)
}

// SortsMetadata reports whether MapSorted may be called: the input is CSV
// and each metadata key comes from one column of its own, with no
// metadata JSON column and no --map that computes a key.
func (r *Reader) SortsMetadata() bool {
	return r.format == FormatCSV && r.plan.sortedMeta != nil
}

// MapSorted is Map with the request's metadata appended to md, sorted by
// key, the keys distinct, and req.Metadata left nil: what Map would put in
// req.Metadata, without a map to fill, iterate and sort. The caller reads
// the metadata from md (profile.Request.AppendValidBodySorted). It may be
// called only when SortsMetadata.
func (r *Reader) MapSorted(values []string, room *Room, md []profile.Field) (profile.Request, []profile.Field, *profile.Problem) {
	if r.plan.sortedMeta == nil {
		panic("reader: MapSorted when the metadata cannot be sorted by column")
	}
	if room == nil {
		room = new(Room)
	}
	req, p := r.request(values, slots(room.s[:]), &md)
	return req, md, p
}

// fieldSlab is how many Fields fieldSpace allocates at once: one
// allocation serves dozens of records of a usual width.
const fieldSlab = 1024

// fieldSpace returns room for k Fields, zeroed, of its own: with a capacity
// of k, no append can reach the next record's. The records carved from one
// allocation keep it alive together, a few dozen records' worth.
func (r *Reader) fieldSpace(k int) []profile.Field {
	if len(r.slab) < k {
		r.slab = make([]profile.Field, max(k, fieldSlab))
	}
	out := r.slab[:k:k]
	r.slab = r.slab[k:]
	return out
}

// request maps a record with as many values as the header has columns to
// a request, whose strings are those of values or kept in sl; its metadata
// are appended to *md, sorted, when md is not nil (MapSorted). It only
// reads the reader's plan, so it is safe for concurrent use (Map).
func (r *Reader) request(values []string, sl slots, md *[]profile.Field) (profile.Request, *profile.Problem) {
	var req profile.Request
	if r.plan.direct {
		for _, c := range r.plan.cols {
			if v := values[c.col]; v != "" {
				sl = sl.set(&req, c.kind, v)
			}
		}
		return r.metadata(req, values, nil, nil, md)
	}
	var p parts
	for _, c := range r.plan.cols {
		if v := values[c.col]; v != "" {
			if prob := p.put(c.kind, v, r.header[c.col]); prob != nil {
				return profile.Request{}, prob
			}
		}
	}
	var metaVals []profile.Field // computed metadata keys: Name is the key
	var metaFrom []string
	if len(r.computed) > 0 {
		rw := csvRow{index: r.plan.index, rec: values}
		for i := range r.computed {
			mf := &r.computed[i]
			v, ok, prob := mf.src.eval(mf.field, rw)
			if prob == nil && ok {
				if mf.field.kind == kindMetadataKey {
					metaVals = append(metaVals, profile.Field{Name: mf.field.key, Value: v})
					metaFrom = append(metaFrom, mf.field.String())
					continue
				}
				prob = p.put(mf.field.kind, v, mf.field.String())
			}
			if prob != nil {
				return profile.Request{}, prob
			}
		}
	}
	if prob := p.request(&req, sl); prob != nil {
		return profile.Request{}, prob
	}
	return r.metadata(req, values, metaVals, metaFrom, md)
}

// metadata sets req's metadata from the record's values and the computed
// keys, metaVals (set by metaFrom), as request does.
func (r *Reader) metadata(req profile.Request, values []string, metaVals []profile.Field, metaFrom []string, md *[]profile.Field) (profile.Request, *profile.Problem) {
	if md != nil {
		for _, mc := range r.plan.sortedMeta {
			if v := values[mc.col]; v != "" {
				*md = append(*md, profile.Field{Name: mc.key, Value: v})
			}
		}
		return req, nil
	}
	hasJSON := false
	jsonName := ""
	if col := r.plan.metadata; col >= 0 && values[col] != "" {
		jsonName = r.header[col]
		m, prob := metadataCell(values[col], jsonName)
		if prob != nil {
			return profile.Request{}, prob
		}
		req.Metadata = m
		hasJSON = m != nil
	}
	n := len(r.plan.metaKeys) + len(metaVals)
	// A map handed back by Recycle is filled rather than a new one made; it
	// holds the keys of the record it served last, and those this record
	// does not set are taken out after.
	var recycled map[string]string
	if req.Metadata == nil && n > 0 {
		recycled, _ = metadataMaps.Get().(map[string]string)
		req.Metadata = recycled
	}
	var keys [profile.MaxMetadataKeys]string
	set := keys[:0]
	var prob *profile.Problem
	for _, mc := range r.plan.metaKeys {
		v := values[mc.col]
		if v == "" {
			continue
		}
		// Column names are unique, so a clash is with the JSON column.
		if req.Metadata, prob = addMetadata(req.Metadata, hasJSON, mc.key, v, r.header[mc.col], jsonName, "column", n); prob != nil {
			return profile.Request{}, prob
		}
		set = append(set, mc.key)
	}
	for i, kv := range metaVals {
		if req.Metadata, prob = addMetadata(req.Metadata, hasJSON, kv.Name, kv.Value, metaFrom[i], jsonName, "column", n); prob != nil {
			return profile.Request{}, prob
		}
		set = append(set, kv.Name)
	}
	if recycled != nil {
		req.Metadata = settle(recycled, set)
	}
	return req, nil
}

// settle leaves in a recycled map only the keys set, and returns it, or
// nil (the map back in the pool) when none was: what a new map filled with
// them would have been.
func settle(md map[string]string, set []string) map[string]string {
	if len(set) == 0 {
		metadataMaps.Put(md)
		return nil
	}
	distinct := 0
	for i, k := range set {
		if !slices.Contains(set[:i], k) {
			distinct++
		}
	}
	if len(md) != distinct {
		for k := range md {
			if !slices.Contains(set, k) {
				delete(md, k)
			}
		}
	}
	return md
}

// conflict reports a metadata key set both by its own column (or key) and by
// the metadata JSON object.
func conflict(field, key, unit, jsonName string) *profile.Problem {
	return &profile.Problem{
		Rule:    RuleMetadataConflict,
		Field:   field,
		Message: fmt.Sprintf("metadata key %q is also set by the %s %q; set it in one place", key, unit, jsonName),
	}
}

// metadataCell parses a CSV cell holding a JSON object of strings. null and
// {} leave metadata absent.
func metadataCell(cell, name string) (map[string]string, *profile.Problem) {
	b := []byte(cell)
	bad := func(format string, args ...any) *profile.Problem {
		return &profile.Problem{Rule: RuleMetadataInvalidJSON, Field: name, Message: fmt.Sprintf(format, args...)}
	}
	if msg := jsonSyntax(b); msg != "" {
		return nil, bad(`not valid JSON: %s; write a JSON object of strings, e.g. {"plan":"pro"}`, msg)
	}
	b = trimJSONSpace(b)
	switch b[0] {
	case 'n':
		return nil, nil
	case '{':
	default:
		return nil, bad(`must be a JSON object of strings, found %s`, kindOf(b))
	}
	m, badKey, badVal := stringObject(b)
	if badVal != nil {
		return nil, bad("key %q must have a string value, found %s", badKey, kindOf(badVal))
	}
	return m, nil
}

// parseError returns err as a csv parse error, or nil. It is a function of
// its own because the target of errors.As escapes: inlined in the read loop
// it would cost an allocation on every record.
func parseError(err error) *csv.ParseError {
	var pe *csv.ParseError
	if err != nil && errors.As(err, &pe) {
		return pe
	}
	return nil
}

// syntaxMessage explains a csv parse error and how to fix the field.
func syntaxMessage(pe *csv.ParseError, sp span) string {
	where := fmt.Sprintf("column %d", runeColumn(sp.text, pe.Line-pe.StartLine, pe.Column))
	if pe.Line != pe.StartLine {
		where = fmt.Sprintf("line %d, %s", sp.line+pe.Line-pe.StartLine, where)
	}
	switch {
	case errors.Is(pe.Err, csv.ErrBareQuote):
		return fmt.Sprintf(`bare " in a field that does not start with a quote (%s); quote the whole field and double the quotes inside it`, where)
	case sp.unclosed:
		return `a quoted field is never closed, so the rest of the input was read into it; close the quote or double the quotes inside the field`
	case errors.Is(pe.Err, csv.ErrQuote):
		return fmt.Sprintf(`unexpected " in a quoted field (%s); a quote inside a quoted field must be doubled ("")`, where)
	}
	return fmt.Sprintf("%v (%s)", pe.Err, where)
}

// runeColumn turns csv's byte column on the given line of a record (0 is
// the first line) into a character column.
func runeColumn(text []byte, line, col int) int {
	for ; line > 0; line-- {
		i := bytes.IndexByte(text, '\n')
		if i < 0 {
			return col
		}
		text = text[i+1:]
	}
	if col-1 > len(text) || col < 1 {
		return col
	}
	return 1 + utf8.RuneCount(text[:col-1])
}
