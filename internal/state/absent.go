package state

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/provision/provision/internal/profile"
)

// Absentee is a managed profile that no row of a sync names: created by this
// state, or adopted and since named by an export, and not deleted.
type Absentee struct {
	Identity  string
	ProfileID string
	Known     profile.Request // what the ledger knows the profile holds
	Suspended bool            // a sync suspended it earlier
}

// absentSQL selects the managed profiles that no input row of the run
// names. Rows name identities through the (run_id, identity, seq) index;
// the rows of absent profiles (no line) that an earlier process of a
// resumed sync added name nothing: they are absent still, and handled again.
// INDEXED BY keeps it an index search per entry: with the line test the
// planner would walk the run's rows for each, a quadratic sync.
const absentSQL = `FROM ledger WHERE status = 'created' AND named = 1
	AND NOT EXISTS (SELECT 1 FROM rows INDEXED BY rows_identity_seq WHERE rows.run_id = ? AND rows.identity = ledger.identity AND rows.line > 0)`

// Managed counts the profiles a sync may suspend or delete: every one an
// export of this state has named, and not deleted.
func (s *Store) Managed() (int, error) {
	if err := s.Commit(); err != nil {
		return 0, err
	}
	var n int
	err := s.db.QueryRowContext(context.Background(), `SELECT count(*) FROM ledger WHERE status = 'created' AND named = 1`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("state: %w", err)
	}
	return n, nil
}

// CountAbsent counts the managed profiles no row of the run names, and how
// many of them a sync suspended earlier.
func (s *Store) CountAbsent(runID int64) (absent, suspended int, err error) {
	if err := s.Commit(); err != nil {
		return 0, 0, err
	}
	err = s.db.QueryRowContext(context.Background(), `SELECT count(*), COALESCE(sum(absent = 'suspended'), 0) `+absentSQL, runID).Scan(&absent, &suspended)
	if err != nil {
		return 0, 0, fmt.Errorf("state: %w", err)
	}
	return absent, suspended, nil
}

// EachAbsent calls fn for every managed profile no row of the run names,
// one at a time from the database, so memory stays flat however many left.
func (s *Store) EachAbsent(ctx context.Context, runID int64, fn func(Absentee) error) error {
	if err := s.Commit(); err != nil {
		return err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT identity, COALESCE(profile_id, ''), request, absent `+absentSQL+` ORDER BY identity`, runID)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a Absentee
		var body, absent string
		if err := rows.Scan(&a.Identity, &a.ProfileID, &body, &absent); err != nil {
			return fmt.Errorf("state: %w", err)
		}
		_ = json.Unmarshal([]byte(body), &a.Known)
		a.Suspended = absent == "suspended"
		if err := fn(a); err != nil {
			return err
		}
	}
	return rows.Err()
}

// AddAbsentRow adds to the run's report a row for an absent profile, after
// the input's rows (seq past the last input row, no line): its identity is
// shown in the column the identity was read from.
func (s *Store) AddAbsentRow(runID, seq int64, a Absentee, column string, status profile.Status, errorType, message string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin(); err != nil {
		return err
	}
	value, _ := strings.CutPrefix(a.Identity, "external_id:")
	s.fieldBuf = encodeFields(s.fieldBuf, []profile.Field{{Name: column, Value: value}})
	if _, err := s.st.absentRow.Exec(runID, seq, a.Identity, s.fieldBuf, string(status), a.ProfileID, errorType, message); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return nil
}

// CopyTo writes a consistent copy of the state to path, as SQLite's
// .backup does: what a plan works on, so that the state itself is left as
// it was.
func (s *Store) CopyTo(path string) error {
	if err := s.Commit(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.conn.ExecContext(context.Background(), `VACUUM INTO ?`, path); err != nil {
		return fmt.Errorf("state: copy: %w", err)
	}
	return nil
}
