package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/provision/provision/internal/profile"
)

// TargetError says the state is bound to another target than the run's:
// its ledger describes another org, and trusting it would skip users that
// were never created there (or adopt the wrong ids).
type TargetError struct {
	Path, Bound, Given string
}

func (e *TargetError) Error() string {
	return fmt.Sprintf("the state %s belongs to %s, not %s; nothing was sent. Use another --state for this target (each target keeps its own state)",
		e.Path, e.Bound, e.Given)
}

// Bind ties the state to target on first use and refuses another target
// afterwards. The target names the org (base URL and workspace), not the
// key or the contract: rotating a key or moving to another API version
// keeps the same profiles.
func (s *Store) Bind(target string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	bound, ok, err := s.metaLocked("target")
	if err != nil {
		return err
	}
	if ok {
		if bound != target {
			return &TargetError{Path: s.path, Bound: bound, Given: target}
		}
		return nil
	}
	return s.setMetaLocked("target", target)
}

// Target returns the target the state is bound to, "" before its first run.
func (s *Store) Target() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, _, err := s.metaLocked("target")
	return t, err
}

// Watermark returns the server time up to which the ledger knows the org
// (when it last listed it from the newest profile down); zero when the
// ledger has never listed it.
func (s *Store) Watermark() (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok, err := s.metaLocked("listed_through")
	if err != nil || !ok {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("state: listed_through %q: %w", v, err)
	}
	return t, nil
}

// Empty reports whether the ledger holds no identity: nothing has been
// created or adopted for this target yet.
func (s *Store) Empty() (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int
	if err := s.conn.QueryRowContext(context.Background(), `SELECT count(*) FROM (SELECT 1 FROM ledger LIMIT 1)`).Scan(&n); err != nil {
		return false, fmt.Errorf("state: %w", err)
	}
	return n == 0, nil
}

func (s *Store) metaLocked(key string) (string, bool, error) {
	var v string
	err := s.conn.QueryRowContext(context.Background(), `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("state: %w", err)
	}
	return v, true, nil
}

func (s *Store) setMetaLocked(key, value string) error {
	if err := s.begin(); err != nil {
		return err
	}
	if _, err := s.conn.ExecContext(context.Background(), `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`, key, value); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return s.commitLocked()
}

// Duplicate is a profile the org holds for an identity that the ledger
// already maps to another profile.
type Duplicate struct {
	Identity string
	Kept     string // the id the ledger maps the identity to
	Other    string // the profile that should not exist
}

// Observed is what a listing taught the ledger.
type Observed struct {
	Listed     int
	Adopted    int         // identities the ledger did not know, now recorded
	Duplicates []Duplicate // second (or later) profiles of a known identity, first seen now
	Newest     time.Time
}

// Observe records a page of listed profiles in the ledger: an identity it
// does not know is adopted with its profile; a profile of an identity it
// maps to another id is a duplicate, remembered (so every later run reports
// it) and returned. Profiles of pending identities are left to
// reconciliation, which matches them against what was sent. Each page is
// one transaction, so adopting a large org costs memory for one page.
func (s *Store) Observe(page []profile.Profile, into *Observed) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin(); err != nil {
		return err
	}
	for _, p := range page {
		into.Listed++
		if p.CreatedAt.After(into.Newest) {
			into.Newest = p.CreatedAt
		}
		req := p.Request()
		key := keyOf(req.Identity())
		// Most listed profiles are known (a sweep lists what the run just
		// made): one lookup decides them; only a new identity is inserted.
		var status int
		var pid []byte
		var others string
		switch err := s.st.orgGet.QueryRow(key).Scan(&status, &pid, &others); {
		case errors.Is(err, sql.ErrNoRows):
			s.idBuf = packID(s.idBuf, p.ID)
			s.contentBuf = profile.AppendDigest(s.contentBuf[:0], req)
			if _, err := s.st.orgInsert.Exec(key, nullBytes(s.idBuf), s.contentBuf); err != nil {
				return fmt.Errorf("state: %w", err)
			}
			into.Adopted++
			continue
		case err != nil:
			return fmt.Errorf("state: %w", err)
		}
		id := unpackID(pid)
		list := strings.Fields(others)
		if status == ledgerPending || id == p.ID || slices.Contains(list, p.ID) {
			continue
		}
		list = append(list, p.ID)
		if _, err := s.st.orgOthers.Exec(strings.Join(list, " "), key); err != nil {
			return fmt.Errorf("state: %w", err)
		}
		into.Duplicates = append(into.Duplicates, Duplicate{Identity: identityOf(key), Kept: id, Other: p.ID})
	}
	return s.commitLocked()
}

// AdvanceWatermark records that the ledger knows the org as it was at t
// (server time), unless a later t is recorded: the next run's catch-up
// lists from there.
func (s *Store) AdvanceWatermark(t time.Time) error {
	if t.IsZero() {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok, err := s.metaLocked("listed_through")
	if err != nil {
		return err
	}
	if ok {
		if old, err := time.Parse(time.RFC3339Nano, v); err == nil && !t.After(old) {
			return nil
		}
	}
	return s.setMetaLocked("listed_through", t.UTC().Format(time.RFC3339Nano))
}

// MarkDuplicate notes on the run's row for identity (if the run has one)
// that a second profile exists, naming both ids. It reports whether a row
// was marked: the first row of the run naming the identity, among those
// admitted so far.
func (s *Store) MarkDuplicate(runID int64, d Duplicate) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin(); err != nil {
		return false, err
	}
	if err := s.writeHeld(true); err != nil {
		return false, err
	}
	set, err := s.runSetLocked(runID)
	if err != nil {
		return false, err
	}
	seq, ok := set.find(keyOf(d.Identity))
	if !ok {
		return false, nil
	}
	res, err := s.conn.ExecContext(context.Background(), `UPDATE rows SET error_type = ?, error_message = 'line ' || (line + ?) || ': ' || ? WHERE k = ? AND line IS NOT NULL`,
		profile.ErrorDuplicate, seq, d.Message(), rowKey(runID, seq))
	if err != nil {
		return false, fmt.Errorf("state: %w", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, s.commitLocked()
}

// Message says what the duplicate is, naming both ids.
func (d Duplicate) Message() string {
	return fmt.Sprintf("a second profile %s exists for this identity, which is %s; delete one of them and run provision adopt", d.Other, d.Kept)
}

// Stray is a pending ledger entry that no row of the run names: a row of an
// earlier export, sent by a killed run, that this export no longer has. It
// is reconciled anyway, so that its profile, if any, is known.
type Stray struct {
	Identity       string
	Sent           profile.Request
	AttemptAt      time.Time
	AttemptTimeout time.Duration
}

// PendingOutside returns the pending entries that no row of the run names.
func (s *Store) PendingOutside(runID int64) ([]Stray, error) {
	if err := s.Commit(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	set, err := s.runSetLocked(runID)
	if err != nil {
		return nil, err
	}
	rows, err := s.conn.QueryContext(context.Background(), `SELECT key, content, COALESCE(attempt_at, 0), COALESCE(attempt_timeout, 0) FROM ledger WHERE status = 1`)
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	var pending []Stray
	for rows.Next() {
		var st Stray
		var key string
		var content []byte
		var at, timeout int64
		if err := rows.Scan(&key, &content, &at, &timeout); err != nil {
			rows.Close()
			return nil, fmt.Errorf("state: %w", err)
		}
		if st.Sent, err = profile.ParseDigest(content, externalID(key)); err != nil {
			rows.Close()
			return nil, fmt.Errorf("state: ledger entry %q: %w", key, err)
		}
		st.Identity = identityOf(key)
		st.AttemptAt, st.AttemptTimeout = time.UnixMilli(at), time.Duration(timeout)*time.Millisecond
		pending = append(pending, st)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	var out []Stray
	for _, st := range pending {
		_, named := set.find(keyOf(st.Identity))
		if !named {
			out = append(out, st)
		}
	}
	return out, nil
}
