package state

import (
	"testing"
)

// The FirstLines table keeps part of each hash, so it may answer with
// another identity's row: the set checks the full hash and keeps such an
// identity exactly. A collision is too rare to meet by chance, so the test
// makes one: the row the table names holds another hash.
func TestRunSetIsExactWhenTheTableIsNot(t *testing.T) {
	dir := t.TempDir()
	r := &runSet{run: 1, first: NewFirstLines(dir, 0), folded: NewFirstLines(dir, 0)}
	defer r.close()
	a := uint64(identOf("a"))
	if first, err := r.add(a, 1); err != nil || first != 1 {
		t.Fatalf("add a: %d %v", first, err)
	}
	if first, err := r.add(uint64(identOf("b")), 2); err != nil || first != 2 {
		t.Fatalf("add b: %d %v", first, err)
	}
	if first, err := r.add(a, 3); err != nil || first != 1 {
		t.Fatalf("a again: first %d %v, want 1", first, err)
	}
	if seq, ok := r.find("a"); !ok || seq != 1 {
		t.Fatalf("find a: %d %v", seq, ok)
	}
	if _, ok := r.find("c"); ok {
		t.Fatal("found c, never added")
	}

	// Row 1 now holds another identity's hash: the table's answer for a is
	// wrong, and a is a new identity for the set.
	r.idents[1] = uint64(identOf("x"))
	if _, ok := r.find("a"); ok {
		t.Fatal("find trusted the table's partial match")
	}
	if first, err := r.add(a, 4); err != nil || first != 4 {
		t.Fatalf("a after the collision: first %d %v, want 4 (new)", first, err)
	}
	if first, err := r.add(a, 5); err != nil || first != 4 {
		t.Fatalf("a once more: first %d %v, want 4", first, err)
	}
	if seq, ok := r.find("a"); !ok || seq != 4 {
		t.Fatalf("find a after the collision: %d %v, want 4", seq, ok)
	}
}

func TestFoldMatchesSQLiteLowerAndTrim(t *testing.T) {
	for in, want := range map[string]string{" Ada ": "ada", "ADA": "ada", "ada": "ada", "Ünïcode": "Ünïcode", "\tTab": "\ttab", "  ": ""} {
		if got := fold(in); got != want {
			t.Errorf("fold(%q) = %q, want %q", in, got, want)
		}
	}
}
