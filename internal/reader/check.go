package reader

import (
	"fmt"
	"slices"
	"strings"

	"github.com/provision/provision/internal/profile"
)

// A mapping mistake is silent row by row: a --map to a key no line has, or
// an export none of whose columns is a field, gives valid empty requests.
// The reader keeps what it needs to tell, and CheckMapping tells.

// maxKeysShown bounds the top-level keys remembered for messages.
const maxKeysShown = 20

// openJSONL prepares the mapping's lookups for JSONL lines, and the keys
// whose presence CheckMapping reports.
func (r *Reader) openJSONL() {
	for _, mf := range r.mapping.fields {
		if _, plain := mf.src.plainColumn(); plain {
			r.plainMapped = append(r.plainMapped, mf)
		} else {
			r.computed = append(r.computed, mf)
		}
		for _, k := range mf.src.refs() {
			r.track(k, "--map "+mf.spec, true)
		}
	}
	for _, c := range r.where.conds {
		r.track(c.key, "--where "+c.spec, false)
	}
}

func (r *Reader) track(key, spec string, feeds bool) {
	for i := range r.tracked {
		if r.tracked[i].key == key {
			r.tracked[i].feeds = r.tracked[i].feeds || feeds
			return
		}
	}
	r.tracked = append(r.tracked, trackedKey{key: key, spec: spec, feeds: feeds})
	r.unseen++
}

// see records which tracked keys a JSONL line has.
func (r *Reader) see(rw row) {
	for i := range r.tracked {
		t := &r.tracked[i]
		if !t.seen && rw.cell(t.key).found {
			t.seen = true
			r.unseen--
			r.anyField = r.anyField || t.feeds
		}
	}
}

// noteKey remembers a top-level key for messages, until no message can
// need them: a field is fed and every tracked key was seen.
func (r *Reader) noteKey(name string) {
	if (!r.anyField || r.unseen > 0) && len(r.keysSeen) < maxKeysShown && !slices.Contains(r.keysSeen, name) {
		r.keysSeen = append(r.keysSeen, name)
	}
}

// Filtered returns how many records the Where filters dropped so far. They
// are not returned by Next and are no problem. It is safe to call while
// another goroutine reads.
func (r *Reader) Filtered() int64 { return r.filtered.Load() }

// Unseen returns the keys that a --map or --where names and that no JSONL
// line read so far has had (present, null included), in the order given;
// nil for CSV, whose columns Open checks against the header.
func (r *Reader) Unseen() []string {
	var out []string
	for _, t := range r.tracked {
		if !t.seen {
			out = append(out, t.key)
		}
	}
	return out
}

// CheckMapping reports, as a *UsageError, a mapping mistake the input read
// so far shows, or nil:
//
//   - no column of a CSV header, or no key of any JSONL line read, feeds a
//     field of the request, so every row would be an empty profile;
//   - a key that a --map or --where names is in no JSONL line read.
//
// A CSV header is judged at Open, so CheckMapping can be called right
// after it. For JSONL, validate calls it after its last record, and run
// after its first ProbeRows records (or all, if fewer), before it sends
// anything. With no record read there is nothing to judge, and it returns
// nil.
func (r *Reader) CheckMapping() error {
	if r.format == FormatCSV {
		if r.header == nil || r.anyField {
			return nil
		}
		return usagef("no column of the export is a field of the request; the columns are: %s. Map them with --map FIELD=COLUMN, "+
			"e.g. --map 'name={First name} {Last name}', or name them as %s", listColumns(r.header), canonicalNames(r.version))
	}
	if r.objects == 0 {
		return nil
	}
	if !r.anyField {
		return usagef("no key of the %s is a field of the request; the keys are: %s. Map them with --map FIELD=KEY, "+
			"e.g. --map reference_id=user_id, or name them as %s", linesRead(r.objects), listColumns(r.keysSeen), canonicalNames(r.version))
	}
	var msgs []string
	for _, t := range r.tracked {
		if !t.seen {
			msgs = append(msgs, fmt.Sprintf("%s: no line of the %s has the key %q", t.spec, linesRead(r.objects), t.key))
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	hint := "check its spelling; a dotted key reaches into objects, e.g. app_metadata.plan"
	if len(r.keysSeen) > 0 {
		hint = "the keys seen include: " + listColumns(r.keysSeen) + "; " + hint
	}
	return usagef("%s; %s", strings.Join(msgs, "; "), hint)
}

func linesRead(n int64) string {
	if n == 1 {
		return "1 line read"
	}
	return fmt.Sprintf("%d lines read", n)
}

// canonicalNames lists the canonical columns of contract v for a message.
func canonicalNames(v profile.Version) string {
	names := "external_id, name, relationship, metadata, metadata.KEY"
	if v != profile.Version20260324 {
		names = "reference_id, name, access_type, metadata, metadata.KEY"
		for _, d := range []string{"country", "email", "email_hash", "name_hash", "onboarded_at", "account_status", "entity_type"} {
			if v.Accepts(d) {
				names += ", " + d
			}
		}
	}
	return names
}
