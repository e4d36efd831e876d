package state

import (
	"context"
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

// managedSQL selects the profiles a sync may suspend or delete: every one
// an export of this state has named, and not deleted.
const managedSQL = `FROM ledger WHERE status = 0 AND named = 1`

// Managed counts the profiles a sync may suspend or delete.
func (s *Store) Managed() (int, error) {
	if err := s.Commit(); err != nil {
		return 0, err
	}
	var n int
	err := s.db.QueryRowContext(context.Background(), `SELECT count(*) `+managedSQL).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("state: %w", err)
	}
	return n, nil
}

// CountAbsent counts the managed profiles no row of the run names, and how
// many of them a sync suspended earlier.
func (s *Store) CountAbsent(runID int64) (absent, suspended int, err error) {
	err = s.EachAbsent(context.Background(), runID, func(a Absentee) error {
		absent++
		if a.Suspended {
			suspended++
		}
		return nil
	})
	return absent, suspended, err
}

// EachAbsent calls fn for every managed profile no input row of the run
// names (the rows of absent profiles that an earlier process of a resumed
// sync added name nothing: they are absent still, and handled again). The
// ledger is read in pages of its key order, each checked against the run's
// identities in memory, so memory stays flat however many left, and fn may
// write to the state between pages.
func (s *Store) EachAbsent(ctx context.Context, runID int64, fn func(Absentee) error) error {
	after := "" // no key is empty: an external_id has a character, a content key its NUL
	for {
		page, last, err := s.absentPage(ctx, runID, after)
		if err != nil {
			return err
		}
		for _, a := range page {
			if err := fn(a); err != nil {
				return err
			}
		}
		if last == "" {
			return nil
		}
		after = last
	}
}

const absentPageSize = 1000

// absentPageSQL reads a page of the managed profiles in key order.
const absentPageSQL = `SELECT key, profile_id, content, absent ` + managedSQL + ` AND key > ? ORDER BY key LIMIT ?`

// absentPage returns the absent profiles among the next absentPageSize
// managed ones after the key after, and the last key read ("" when no more
// may follow).
func (s *Store) absentPage(ctx context.Context, runID int64, after string) (page []Absentee, last string, err error) {
	if err := s.Commit(); err != nil {
		return nil, "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	set, err := s.runSetLocked(runID)
	if err != nil {
		return nil, "", err
	}
	rows, err := s.conn.QueryContext(ctx, absentPageSQL, after, absentPageSize)
	if err != nil {
		return nil, "", fmt.Errorf("state: %w", err)
	}
	var read []Absentee
	var keys []string
	for rows.Next() {
		var key string
		var pid, content []byte
		var absent int
		if err := rows.Scan(&key, &pid, &content, &absent); err != nil {
			rows.Close()
			return nil, "", fmt.Errorf("state: %w", err)
		}
		known, err := profile.ParseDigest(content, externalID(key))
		if err != nil {
			rows.Close()
			return nil, "", fmt.Errorf("state: ledger entry %q: %w", key, err)
		}
		read = append(read, Absentee{Identity: identityOf(key), ProfileID: unpackID(pid), Known: known, Suspended: absent == absentSuspended})
		keys = append(keys, key)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("state: %w", err)
	}
	for i, a := range read {
		if _, named := set.find(keys[i]); !named {
			page = append(page, a)
		}
	}
	if len(read) == absentPageSize {
		last = keys[len(keys)-1]
	}
	return page, last, nil
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
	value, _ := strings.CutPrefix(a.Identity, externalPrefix)
	s.fieldBuf = encodeFields(s.fieldBuf, []profile.Field{{Name: column, Value: value}}, nil)
	s.idBuf = packID(s.idBuf, a.ProfileID)
	if _, err := s.st.absentRow.Exec(rowKey(runID, seq), statusCode(status), nullBytes(s.idBuf), nullable(errorType), nullable(message), s.fieldBuf); err != nil {
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
