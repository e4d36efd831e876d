package state

import "hash/maphash"

// seenBits is the size of the seen filter in bits: 2 MiB. With seenProbes
// probes it answers "maybe" for a new identity about once in 1,500 at a
// million rows and once in 10 at five million; a "maybe" costs one index
// search, so the filter degrades gracefully and its memory never grows.
const (
	seenBits   = 1 << 24
	seenProbes = 4
)

// seen is a Bloom filter of the identities admitted in one run. The
// duplicate check ("an earlier row of this run has this identity") is an
// index search per row; most rows are new, and for them the filter says so
// without touching the database.
type seen struct {
	run  int64
	seed maphash.Seed
	bits []uint64
}

func newSeen(run int64) *seen {
	return &seen{run: run, seed: maphash.MakeSeed(), bits: make([]uint64, seenBits/64)}
}

// pos returns the i-th filter position of hash h, by double hashing.
func pos(h uint64, i uint32) (word int, mask uint64) {
	p := (uint32(h) + i*(uint32(h>>32)|1)) % seenBits
	return int(p / 64), 1 << (p % 64)
}

// add records identity.
func (f *seen) add(identity string) {
	h := maphash.String(f.seed, identity)
	for i := range uint32(seenProbes) {
		w, m := pos(h, i)
		f.bits[w] |= m
	}
}

// mayContain is false only when identity was never added.
func (f *seen) mayContain(identity string) bool {
	h := maphash.String(f.seed, identity)
	for i := range uint32(seenProbes) {
		if w, m := pos(h, i); f.bits[w]&m == 0 {
			return false
		}
	}
	return true
}
