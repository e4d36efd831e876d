package state

import (
	"math/rand/v2"
	"os"
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
