package state

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func queryPlan(t *testing.T, s *Store, q string, args ...any) string {
	t.Helper()
	rows, err := s.db.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, args...)
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
	return strings.Join(plan, "; ")
}

// TestPerRowStatementsSearchTheirKey guards against a quadratic run: every
// statement the store prepares runs for a row or a ledger entry and must
// search by key, and what reads a run's rows must read a range of the
// rows' key, never walk the table, which holds the rows of every retained
// run. (The GROUP BY of Counts sorts what the range gives, once a run.)
func TestPerRowStatementsSearchTheirKey(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "s.db"))
	defer s.Close()
	for _, st := range s.statements() {
		args := make([]any, strings.Count(st.sql, "?"))
		if got := queryPlan(t, s, st.sql, args...); strings.Contains(got, "SCAN") || strings.Contains(got, "TEMP B-TREE") {
			t.Errorf("plan of %q: %s", st.sql, got)
		}
	}
	for _, c := range []struct {
		q    string
		want string
	}{
		{eachRowSQL, "USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"},
		{countsSQL, "USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"},
		{absentPageSQL, "USING PRIMARY KEY (key>?)"},
	} {
		args := make([]any, strings.Count(c.q, "?"))
		if got := queryPlan(t, s, c.q, args...); !strings.Contains(got, c.want) || strings.Contains(got, "SCAN") {
			t.Errorf("plan of %q: %s (want %s)", c.q, got, c.want)
		}
	}
}
