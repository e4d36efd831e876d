package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/provision/provision/internal/profile"
)

// ReportRow is one row of a run as the report shows it.
type ReportRow struct {
	Seq          int64
	Line         int
	Status       profile.Status
	ProfileID    string
	ErrorType    string
	ErrorMessage string
	Attempts     int
	RequestID    string
	Fields       []profile.Field
}

// eachRowSQL and countsSQL read a run's rows: one range of the rows' key.
const (
	eachRowSQL = `SELECT k, line, status, profile_id, COALESCE(error_type, ''), COALESCE(error_message, ''), attempts, request_id, fields
		FROM rows WHERE k > ? AND k < ? ORDER BY k`
	countsSQL = `SELECT status, COALESCE(error_type, ''), count(*) FROM rows WHERE k > ? AND k < ? GROUP BY status, error_type`
)

// EachRow calls fn for every row of the run in input order. It reads on its
// own connection, after committing, so it sees everything recorded.
func (s *Store) EachRow(ctx context.Context, runID int64, fn func(ReportRow) error) error {
	if err := s.flush(); err != nil {
		return err
	}
	var cols string
	if err := s.db.QueryRowContext(ctx, `SELECT columns FROM runs WHERE id = ?`, runID).Scan(&cols); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("state: %w", err)
	}
	var dec fieldDecoder
	_ = json.Unmarshal([]byte(cols), &dec.columns)
	rows, err := s.db.QueryContext(ctx, eachRowSQL, rowKey(runID, 0), rowKey(runID+1, 0))
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	defer rows.Close()
	var fields, pid, rid []byte
	for rows.Next() {
		var r ReportRow
		var k int64
		var line sql.NullInt64
		var code int
		if err := rows.Scan(&k, &line, &code, &pid, &r.ErrorType, &r.ErrorMessage, &r.Attempts, &rid, &fields); err != nil {
			return fmt.Errorf("state: %w", err)
		}
		r.Seq = k - rowKey(runID, 0)
		if line.Valid {
			r.Line = int(r.Seq + line.Int64)
		}
		if r.Status, err = statusOf(code); err != nil {
			return err
		}
		r.ProfileID, r.RequestID = unpackID(pid), unpackID(rid)
		if r.Fields, err = dec.decode(fields); err != nil {
			return fmt.Errorf("state: row %d: %w", r.Seq, err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Counts returns the number of rows of the run per status and per error type.
func (s *Store) Counts(ctx context.Context, runID int64) (byStatus map[profile.Status]int, byError map[string]int, err error) {
	if err := s.flush(); err != nil {
		return nil, nil, err
	}
	byStatus, byError = map[profile.Status]int{}, map[string]int{}
	rows, err := s.db.QueryContext(ctx, countsSQL, rowKey(runID, 0), rowKey(runID+1, 0))
	if err != nil {
		return nil, nil, fmt.Errorf("state: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var code int
		var et string
		var n int
		if err := rows.Scan(&code, &et, &n); err != nil {
			return nil, nil, fmt.Errorf("state: %w", err)
		}
		st, err := statusOf(code)
		if err != nil {
			return nil, nil, err
		}
		byStatus[st] += n
		if et != "" {
			byError[et] += n
		}
	}
	return byStatus, byError, rows.Err()
}

// FieldNames returns the union of the input's field names over a run's rows,
// in order of first appearance: the report's input columns for inputs that
// have no header (JSONL).
func (s *Store) FieldNames(ctx context.Context, runID int64) ([]string, error) {
	var names []string
	seen := map[string]bool{}
	err := s.EachRow(ctx, runID, func(r ReportRow) error {
		for _, f := range r.Fields {
			if !seen[f.Name] {
				seen[f.Name] = true
				names = append(names, f.Name)
			}
		}
		return nil
	})
	return names, err
}

// Variants returns up to limit groups of the run's external_ids that differ
// only by letter case or surrounding spaces: to the API they are distinct
// users, which is seldom what the export meant. Admit noted the first few
// ids whose folded form an earlier row had; the ledger, read once, names
// the others of the run.
func (s *Store) Variants(ctx context.Context, runID int64, limit int) ([][]string, error) {
	if err := s.flush(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	set, err := s.runSetLocked(runID)
	if err != nil || len(set.variants) == 0 {
		return nil, err
	}
	folded := set.variants
	if len(folded) > limit {
		folded = folded[:limit]
	}
	groups := make([][]string, len(folded))
	for i, f := range folded {
		// Ledger keys whose folded form is f: a scan of the ledger per
		// group, and only a run that has such ids has any (at most limit).
		rows, err := s.conn.QueryContext(ctx, `SELECT key FROM ledger WHERE lower(trim(key, ' ')) = ?`, f)
		if err != nil {
			return nil, fmt.Errorf("state: %w", err)
		}
		for rows.Next() {
			var key string
			if err := rows.Scan(&key); err != nil {
				rows.Close()
				return nil, fmt.Errorf("state: %w", err)
			}
			groups[i] = append(groups[i], key)
		}
		rows.Close()
		var named []string
		for _, key := range groups[i] {
			if _, ok := set.find(key); ok {
				named = append(named, key)
			}
		}
		slices.Sort(named)
		groups[i] = named
	}
	return slices.DeleteFunc(groups, func(g []string) bool { return len(g) < 2 }), nil
}
