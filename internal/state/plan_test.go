package state

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestDuplicateCheckUsesTheIndex guards against a quadratic run: the check
// made for every row must be an index search, not a walk over the run.
func TestDuplicateCheckUsesTheIndex(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "s.db"))
	defer s.Close()
	rows, err := s.db.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+dupOfSQL, 1, "x", 5)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if got := strings.Join(plan, "; "); !strings.Contains(got, "rows_identity_seq") || strings.Contains(got, "TEMP B-TREE") {
		t.Fatalf("duplicate check plan: %s", got)
	}
}

// The queries run once per ledger entry (absent profiles of a sync, pending
// entries outside the export) must search the rows' index, or a sync of a
// large org is quadratic.
func TestLedgerAgainstRowsUsesTheIndex(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "s.db"))
	defer s.Close()
	for _, q := range []string{"SELECT count(*) " + absentSQL, "SELECT identity " + pendingOutsideSQL} {
		rows, err := s.db.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, 1)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if got := strings.Join(plan, "; "); !strings.Contains(got, "rows_identity_seq") {
			t.Errorf("plan of %q: %s", q, got)
		}
	}
}
