package state

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
)

// runSet is what the state knows in memory of the identities the rows of
// one run name, filled as the rows are admitted (a resumed run admits its
// rows again from the first): the seq of the first row naming each, in a
// FirstLines table keyed by identOf (about 4 bytes an identity, outside the
// Go heap); each row's full identOf, by seq, so that an answer of the table
// (which keeps only part of each hash) is checked exactly; the few
// identities whose part collided with another's, exactly; and the same
// table for each external_id lower-cased and trimmed, to find ids that
// differ only so. The rows on disk do not name their identity (a state
// keeps a row of every retained run, and 8 bytes there are 8 MB a run at a
// million users): the duplicate check, the absent profiles of a sync, the
// strays of a run and the rows a duplicate is noted on all ask this set.
type runSet struct {
	run      int64
	first    *FirstLines
	idents   []uint64         // identOf of each row's identity by seq; 0: none
	exact    map[uint64]int64 // identities the table could not tell from another: first seq
	folded   *FirstLines      // external_ids lower-cased and trimmed
	variants []string         // folded forms that two ids of the run share (the first few)
}

const maxVariantsKept = 20

func (r *runSet) close() {
	if r != nil {
		r.first.Close()
		r.folded.Close()
	}
}

// runSetLocked returns the set of run, a new one if the set is not that
// run's yet. The caller holds s.mu.
func (s *Store) runSetLocked(run int64) (*runSet, error) {
	if s.set != nil && s.set.run == run {
		return s.set, nil
	}
	if s.closed {
		return nil, errors.New("state: closed")
	}
	s.set.close()
	dir := filepath.Dir(s.path)
	s.set = &runSet{run: run, first: NewFirstLines(dir, 0), folded: NewFirstLines(dir, 0)}
	return s.set, nil
}

// add records that row seq names ident, and returns the seq of the first
// row of the run naming it (seq itself if none did before).
func (r *runSet) add(ident uint64, seq int64) (int64, error) {
	for int64(len(r.idents)) <= seq {
		r.idents = append(r.idents, 0)
	}
	r.idents[seq] = ident
	first, dup, err := r.first.Add(ident, int(seq))
	switch {
	case err != nil:
		return 0, err
	case !dup:
		return seq, nil
	case r.idents[first] == ident:
		return int64(first), nil
	}
	// Another identity's part: this one is kept exactly.
	if f, ok := r.exact[ident]; ok {
		return f, nil
	}
	if r.exact == nil {
		r.exact = map[uint64]int64{}
	}
	r.exact[ident] = seq
	return seq, nil
}

// find returns the seq of the first row of the run naming key.
func (r *runSet) find(key string) (int64, bool) {
	ident := uint64(identOf(key))
	if first, ok := r.first.Find(ident); ok && first < len(r.idents) && r.idents[first] == ident {
		return int64(first), true
	}
	seq, ok := r.exact[ident]
	return seq, ok
}

// noteVariant remembers, for the first few, the folded form of an
// external_id that an earlier row of the run had with another id. ident
// is identOf(key), which is also the folded form's hash for most ids (no
// capital, no space around them).
func (r *runSet) noteVariant(key string, ident uint64, seq int64) {
	f := fold(key)
	if f != key {
		ident = uint64(identOf(f))
	}
	if _, dup, err := r.folded.Add(ident, int(seq)); err == nil && dup && len(r.variants) < maxVariantsKept && !slices.Contains(r.variants, f) {
		r.variants = append(r.variants, f)
	}
}

// fold is an external_id as the variant check compares it: ASCII letters
// lower-cased, spaces around it trimmed (as SQLite's lower and trim).
func fold(key string) string {
	key = strings.Trim(key, " ")
	for i := 0; i < len(key); i++ {
		if c := key[i]; 'A' <= c && c <= 'Z' {
			b := []byte(key)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return key
}
