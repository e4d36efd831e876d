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

// TestPerRowStatementsSearchTheirKey guards against a quadratic run: what
// runs for every row (or every ledger entry) must be a search by key, and
// what reads a run's rows a range of the rows' key, never a walk over the
// table, which holds the rows of every retained run.
func TestPerRowStatementsSearchTheirKey(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "s.db"))
	defer s.Close()
	for _, c := range []struct {
		q    string
		args []any
		want string
	}{
		{`SELECT COALESCE(line, 0) FROM rows WHERE k = ?`, []any{1}, "USING INTEGER PRIMARY KEY (rowid=?)"},
		{`UPDATE rows SET status = 1 WHERE k = ?`, []any{1}, "USING INTEGER PRIMARY KEY (rowid=?)"},
		{`SELECT status FROM ledger WHERE key = ?`, []any{"x"}, "USING PRIMARY KEY (key=?)"},
		{`SELECT k, fields FROM rows WHERE k > ? AND k < ? ORDER BY k`, []any{1, 2}, "USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"},
		{`SELECT key ` + managedSQL + ` AND key > ? ORDER BY key LIMIT 10`, []any{""}, "USING PRIMARY KEY (key>?)"},
		{`DELETE FROM rows WHERE k < ?`, []any{1}, "USING INTEGER PRIMARY KEY (rowid<?)"},
	} {
		if got := queryPlan(t, s, c.q, c.args...); !strings.Contains(got, c.want) || strings.Contains(got, "TEMP B-TREE") {
			t.Errorf("plan of %q: %s (want %s)", c.q, got, c.want)
		}
	}
}
