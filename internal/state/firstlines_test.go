package state

import (
	"math/rand/v2"
	"os"
	"runtime"
	"testing"
)

// FirstLines must answer exactly as a plain map does, on both sides of the
// point where it moves to its temporary file, and leave no file behind.
func TestFirstLinesMatchesAMap(t *testing.T) {
	dir := t.TempDir()
	f := NewFirstLines(dir, 500)
	want := map[uint64]int{}
	rng := rand.New(rand.NewPCG(1, 2))
	dups := 0
	for line := 2; line < 20_000; line++ {
		key := rng.Uint64N(12_000) * 0x9e3779b97f4a7c15 // spread over the whole uint64 range, signs included
		first, dup, err := f.Add(key, line)
		if err != nil {
			t.Fatal(err)
		}
		w, seen := want[key]
		if !seen {
			want[key] = line
			w = line
		} else {
			dups++
		}
		if dup != seen || first != w {
			t.Fatalf("line %d, key %x: got (%d, %v), want (%d, %v)", line, key, first, dup, w, seen)
		}
	}
	if !f.spilled() || dups == 0 {
		t.Fatalf("spilled %v, %d duplicates: the test does not cover the temporary file", f.spilled(), dups)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("while in use, %d files in the directory, want the temporary file", len(entries))
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("after Close: %v left behind", entries)
	}
}

func TestFirstLinesInMemoryWritesNothing(t *testing.T) {
	dir := t.TempDir()
	f := NewFirstLines(dir, 0)
	for line := range 1000 {
		if _, dup, err := f.Add(uint64(line%700), line); err != nil || dup != (line >= 700) {
			t.Fatalf("line %d: dup %v, %v", line, dup, err)
		}
	}
	if f.spilled() {
		t.Error("spilled below the default size")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files written: %v", entries)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestFirstLinesUnwritableDirectory(t *testing.T) {
	f := NewFirstLines("/nonexistent/provision-test", 1)
	if _, _, err := f.Add(1, 1); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.Add(2, 2); err == nil {
		t.Error("no error when the temporary file cannot be created")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// mapCheck adds keys on increasing lines and fails unless every answer is
// what a map gives.
type mapCheck struct {
	t    *testing.T
	f    *FirstLines
	want map[uint64]int
}

func (c *mapCheck) add(key uint64, line int) {
	c.t.Helper()
	first, dup, err := c.f.Add(key, line)
	if err != nil {
		c.t.Fatal(err)
	}
	w, seen := c.want[key]
	if !seen {
		c.want[key], w = line, line
	}
	if dup != seen || first != w {
		c.t.Fatalf("line %d, key %x: got (%d, %v), want (%d, %v)", line, key, first, dup, w, seen)
	}
}

// Hundreds of thousands of identities: the table doubles many times, in
// place, and keeps every first line, whatever the gaps between lines.
func TestFirstLinesTableGrowsAndRemembers(t *testing.T) {
	f := NewFirstLines(t.TempDir(), 0)
	defer f.Close()
	c := &mapCheck{t: t, f: f, want: map[uint64]int{}}
	rng := rand.New(rand.NewPCG(3, 4))
	line := 1
	for range 400_000 {
		switch rng.IntN(100) {
		case 0:
			line += 256 + rng.IntN(100_000) // more than a byte can say
		case 1, 2:
			line += 2 + rng.IntN(254)
		default:
			line++
		}
		c.add(rng.Uint64N(300_000), line) // small keys: mix must spread them
	}
	if f.spilled() || f.table.k < 19 {
		t.Fatalf("spilled %v, 2^%d slots: the test does not cover the growing table", f.spilled(), f.table.k)
	}
	// Every identity is found again, with its first line, after the last
	// doubling.
	for key, first := range c.want {
		if got, dup, err := f.Add(key, line+1); err != nil || !dup || got != first {
			t.Fatalf("key %d: got (%d, %v, %v), want (%d, true)", key, got, dup, err, first)
		}
	}
}

// Hashes that share their home slot over more than a displacement can say
// make the table double early, entries in hand, and those that wrap from
// the last slot to the first survive the doubling.
func TestFirstTableCrowdedHomes(t *testing.T) {
	for _, top := range []uint64{0, 1<<13 - 1} { // the first home, and the last, which wraps
		var tab firstTable
		tab.init(1 << 16)
		rng := rand.New(rand.NewPCG(5, top))
		var hs []uint64
		for seq := range uint64(3 * maxDisp) {
			h := top<<(64-13) | rng.Uint64()>>13 // the top 13 bits in common
			if err := tab.add(h, seq); err != nil {
				t.Fatal(err)
			}
			hs = append(hs, h)
		}
		if tab.k <= minTableBits {
			t.Errorf("top %x: still 2^%d slots with %d entries in one home", top, tab.k, len(hs))
		}
		for seq, h := range hs {
			if got, ok := tab.find(h); !ok || got != seq {
				t.Fatalf("top %x, entry %d: got (%d, %v)", top, seq, got, ok)
			}
			if _, ok := tab.find(h ^ 1<<dispBits); ok {
				t.Fatalf("top %x, entry %d: a hash differing in one fingerprint bit is found", top, seq)
			}
		}
		tab.free()
	}
}

// The table lives outside the Go heap: a million identities add little to
// it (the line log's checkpoints), so the collector neither scans the table
// nor lets the heap grow five times around it.
func TestFirstLinesTableIsOffTheHeap(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f := NewFirstLines(t.TempDir(), 0)
	defer f.Close()
	for i := range 1_000_000 {
		if _, dup, err := f.Add(uint64(i), i+2); err != nil || dup {
			t.Fatalf("%d: dup %v, %v", i, dup, err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 1<<20 {
		t.Errorf("the heap grew by %d bytes for a million identities", grown)
	}
}

// A hash is matched by its home as well as its fingerprint: an entry pushed
// into the next home's slot is not the same identity as a hash of that home
// with the same fingerprint.
func TestFirstTableMatchesTheHomeToo(t *testing.T) {
	var tab firstTable
	tab.init(1 << minTableBits)
	defer tab.free()
	const fp = 0xabcdef << dispBits // below the home bits, above those dropped
	at := func(home uint64) uint64 { return home<<(64-minTableBits) | fp }
	for seq, h := range []uint64{at(7) ^ 1<<40, at(7)} { // two entries of home 7: the second sits in slot 8
		if err := tab.add(h, uint64(seq)); err != nil {
			t.Fatal(err)
		}
	}
	if seq, ok := tab.find(at(7)); !ok || seq != 1 {
		t.Fatalf("home 7: got (%d, %v), want (1, true)", seq, ok)
	}
	if seq, ok := tab.find(at(8)); ok {
		t.Fatalf("home 8 with the fingerprint of the entry in slot 8: found as entry %d", seq)
	}
}

// BenchmarkFirstLines adds b.N distinct identities, as validate does with
// an export of b.N rows.
func BenchmarkFirstLines(b *testing.B) {
	f := NewFirstLines(b.TempDir(), 0)
	defer f.Close()
	b.ResetTimer()
	for i := range b.N {
		if _, _, err := f.Add(uint64(i)*0x9e3779b97f4a7c15, i+2); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFirstLinesPrefetched is BenchmarkFirstLines with the keys of
// each batch of 256 prefetched first, as validate adds them.
func BenchmarkFirstLinesPrefetched(b *testing.B) {
	f := NewFirstLines(b.TempDir(), 0)
	defer f.Close()
	keys := make([]uint64, 0, 256)
	b.ResetTimer()
	for i := 0; i < b.N; i += 256 {
		keys = keys[:0]
		for j := i; j < min(i+256, b.N); j++ {
			keys = append(keys, uint64(j)*0x9e3779b97f4a7c15)
		}
		f.Prefetch(keys)
		for j, k := range keys {
			if _, _, err := f.Add(k, i+j+2); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// The line log gives back every line it was given, whatever their order:
// runs of consecutive lines, gaps of every size, lines going back.
func TestLineLogGivesBackEveryLine(t *testing.T) {
	var l lineLog
	l.init(10_000)
	defer l.free()
	rng := rand.New(rand.NewPCG(9, 10))
	var want []int
	line := 1
	for seq := range 10_000 {
		switch r := rng.IntN(10); {
		case r < 7:
			line++
		case r < 8:
			line += rng.IntN(1 << 20)
		case r < 9:
			line -= rng.IntN(1000)
		}
		l.add(seq, line)
		want = append(want, line)
	}
	for seq, w := range want {
		if got := l.at(seq); got != w {
			t.Fatalf("seq %d: line %d, want %d", seq, got, w)
		}
	}
}
