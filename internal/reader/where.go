package reader

import (
	"slices"
	"strings"
)

// Where is a set of row filters, given by --where; a row is read only when
// it passes every one of them. The zero value passes every row.
//
// Each filter is KEY=VALUE (the row's KEY is VALUE) or KEY!=VALUE (it is
// not). KEY is a CSV column or a JSONL key, dotted to reach into objects
// (app_metadata.plan). VALUE may list alternatives with "|":
// Status=ACTIVE|SUSPENDED. Values are compared ignoring case and
// surrounding spaces, JSON numbers and booleans as written, so
// accountEnabled=true matches a CSV "True" and a JSON true. An empty VALUE
// stands for an empty cell or an absent or null key: email!= keeps the rows
// that have an email. Examples: --where 'Status!=DEPROVISIONED',
// --where accountEnabled=true.
type Where struct {
	conds []cond
}

// cond is one filter.
type cond struct {
	spec   string // as given, for messages
	key    string
	not    bool
	values []string
}

// ParseWhere parses --where values; see Where.
func ParseWhere(specs []string) (Where, error) {
	var w Where
	for _, spec := range specs {
		eq := strings.IndexByte(spec, '=')
		if eq < 0 {
			return Where{}, usagef("--where %q: expected KEY=VALUE or KEY!=VALUE, e.g. --where 'Status!=DEPROVISIONED'", spec)
		}
		c := cond{spec: spec, key: spec[:eq]}
		if k, ok := strings.CutSuffix(c.key, "!"); ok {
			c.key, c.not = k, true
		}
		c.key = strings.TrimSpace(c.key)
		if c.key == "" {
			return Where{}, usagef("--where %q: the column is missing; expected KEY=VALUE or KEY!=VALUE", spec)
		}
		for v := range strings.SplitSeq(spec[eq+1:], "|") {
			c.values = append(c.values, strings.TrimSpace(v))
		}
		w.conds = append(w.conds, c)
	}
	return w, nil
}

// keys returns the columns or keys the filters read, once each.
func (w Where) keys() []string {
	var out []string
	for _, c := range w.conds {
		if !slices.Contains(out, c.key) {
			out = append(out, c.key)
		}
	}
	return out
}

// keep reports whether a record passes every filter.
func (w Where) keep(rw row) bool {
	for _, c := range w.conds {
		cl := rw.cell(c.key)
		v := ""
		if cl.present() {
			v = strings.TrimSpace(cl.text)
		}
		match := slices.ContainsFunc(c.values, func(want string) bool { return strings.EqualFold(want, v) })
		if match == c.not {
			return false
		}
	}
	return true
}
