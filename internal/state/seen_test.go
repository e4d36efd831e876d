package state

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/provision/provision/internal/profile"
)

func TestSeenHasNoFalseNegatives(t *testing.T) {
	f := newSeen(1)
	const n = 200_000
	for i := range n {
		f.add(fmt.Sprintf("external_id:user-%d", i))
	}
	for i := range n {
		if id := fmt.Sprintf("external_id:user-%d", i); !f.mayContain(id) {
			t.Fatalf("%s was added but is not found", id)
		}
	}
	fp := 0
	for i := range n {
		if f.mayContain(fmt.Sprintf("external_id:other-%d", i)) {
			fp++
		}
	}
	// 4 probes into 2^24 bits holding 200k identities: about 3e-6.
	if fp > 20 {
		t.Errorf("%d of %d identities never added look seen", fp, n)
	}
}

// A resumed run is admitted by a new process whose filter starts empty: it
// must learn the identities the earlier process admitted, or a duplicate of
// one of them would be sent.
func TestResumedRunStillFindsDuplicatesOfEarlierRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s := open(t, path)
	run, err := s.BeginRun(Spec{Command: "run", Input: "a.csv", Columns: []string{"n"}})
	if err != nil {
		t.Fatal(err)
	}
	for i := int64(1); i <= 3; i++ {
		admit(t, s, run.ID, i, req(fmt.Sprintf("u%d", i), "Name"))
	}
	if err := s.Close(); err != nil { // the process ends without finishing the run
		t.Fatal(err)
	}

	s = open(t, path)
	defer s.Close()
	again, err := s.BeginRun(Spec{Command: "run", Input: "a.csv", Columns: []string{"n"}})
	if err != nil || !again.Resumed {
		t.Fatalf("resume: %+v %v", again, err)
	}
	d := admit(t, s, again.ID, 4, req("u2", "Other"))
	if d.Status != profile.StatusInvalid || d.ErrorType != profile.RuleDuplicateExternalID || d.ErrorMessage == "" {
		t.Fatalf("row 4 repeats row 2's external_id in a resumed run: got %+v", d)
	}
	if d := admit(t, s, again.ID, 2, req("u2", "Name")); d.Status != profile.StatusPending {
		t.Fatalf("row 2 itself, admitted again on resume, is its own pending attempt: got %+v", d)
	}
}
