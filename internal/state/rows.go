package state

import (
	"context"
	"fmt"
	"strings"

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

// EachRow calls fn for every row of the run in input order. It reads on its
// own connection, after committing, so it sees everything recorded.
func (s *Store) EachRow(ctx context.Context, runID int64, fn func(ReportRow) error) error {
	if err := s.Commit(); err != nil {
		return err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT seq, line, status, profile_id, error_type, error_message, attempts, request_id, fields FROM rows WHERE run_id = ? ORDER BY seq`, runID)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	defer rows.Close()
	var fields []byte
	var dec fieldDecoder
	for rows.Next() {
		var r ReportRow
		if err := rows.Scan(&r.Seq, &r.Line, &r.Status, &r.ProfileID, &r.ErrorType, &r.ErrorMessage, &r.Attempts, &r.RequestID, &fields); err != nil {
			return fmt.Errorf("state: %w", err)
		}
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
	if err := s.Commit(); err != nil {
		return nil, nil, err
	}
	byStatus, byError = map[profile.Status]int{}, map[string]int{}
	rows, err := s.db.QueryContext(ctx, `SELECT status, error_type, count(*) FROM rows WHERE run_id = ? GROUP BY status, error_type`, runID)
	if err != nil {
		return nil, nil, fmt.Errorf("state: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var st, et string
		var n int
		if err := rows.Scan(&st, &et, &n); err != nil {
			return nil, nil, fmt.Errorf("state: %w", err)
		}
		byStatus[profile.Status(st)] += n
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
// users, which is seldom what the export meant.
func (s *Store) Variants(ctx context.Context, runID int64, limit int) ([][]string, error) {
	if err := s.Commit(); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT group_concat(DISTINCT substr(identity, 13)) FROM rows
		WHERE run_id = ? AND identity LIKE 'external_id:%'
		GROUP BY lower(trim(substr(identity, 13))) HAVING count(DISTINCT identity) > 1 LIMIT ?`, runID, limit)
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return nil, fmt.Errorf("state: %w", err)
		}
		out = append(out, strings.Split(g, ","))
	}
	return out, rows.Err()
}
