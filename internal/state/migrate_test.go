package state

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/provision/provision/internal/profile"
)

// A state written by the version before the compact forms (schema 2) opens,
// and reads as it did: its identities, their ids and content, a pending
// entry's attempt, a run's report rows, and which runs are pruned.
func TestMigrateCompactKeepsWhatVersionTwoHeld(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v2.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []func(context.Context, *sql.Tx) error{migrateSeed, migrateOrgTruth} {
		if err := m(ctx, tx); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		`INSERT INTO runs (id, command, input, columns, started_at, finished_at, exit_code, summary) VALUES (1, 'run', 'old.csv', '[]', 1, 2, 0, '{"created":1}')`,
		`INSERT INTO runs (id, command, input, columns, started_at, finished_at, exit_code, summary) VALUES (2, 'run', 'a.csv', '["external_id","name"]', 3, 4, 1, '{}')`,
		`INSERT INTO ledger (identity, status, profile_id, content_hash, request, attempt_at, created_at, run_id, origin, named, others, absent)
			VALUES ('external_id:u1', 'created', 'uprof_0123456789ABCDEFGHIJabcd', 'h', '{"external_id":"u1","name":"One","metadata":{"plan":"pro"}}', NULL, '2026-01-01T00:00:00Z', 2, 'created', 1, '', '')`,
		`INSERT INTO ledger (identity, status, profile_id, content_hash, request, attempt_at, attempt_timeout, created_at, run_id)
			VALUES ('external_id:u2', 'pending', NULL, 'h', '{"external_id":"u2","name":"Two"}', 7000000000, 3000000000, NULL, 2)`,
		`INSERT INTO rows (run_id, seq, line, identity, fields, status, profile_id, error_type, error_message, attempts, request_id)
			VALUES (2, 1, 2, 'external_id:u1', '[{"n":"external_id","v":"u1"},{"n":"name","v":"One"}]', 'created', 'uprof_0123456789ABCDEFGHIJabcd', '', '', 1, 'req_0123456789ABCDEFGHIJabcd')`,
		`INSERT INTO rows (run_id, seq, line, identity, fields, status, profile_id, error_type, error_message, attempts, request_id)
			VALUES (2, 2, 3, 'external_id:u2', '[{"n":"external_id","v":"u2"},{"n":"name","v":"Two"}]', 'pending', '', 'timeout', 'no answer', 2, 'odd-request-id')`,
		`PRAGMA user_version = 2`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s := open(t, path)
	defer s.Close()
	var freelist int
	if err := s.db.QueryRowContext(ctx, `PRAGMA freelist_count`).Scan(&freelist); err != nil || freelist != 0 {
		t.Errorf("free pages after the migration: %d %v", freelist, err)
	}
	var got []ReportRow
	if err := s.EachRow(ctx, 2, func(r ReportRow) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Line != 2 || got[0].Status != profile.StatusCreated || got[0].ProfileID != "uprof_0123456789ABCDEFGHIJabcd" ||
		got[0].RequestID != "req_0123456789ABCDEFGHIJabcd" || got[0].Attempts != 1 || got[0].Fields[1].Value != "One" ||
		got[1].Status != profile.StatusPending || got[1].RequestID != "odd-request-id" || got[1].ErrorType != "timeout" || got[1].Line != 3 {
		t.Fatalf("rows after migration: %+v", got)
	}
	if r, err := s.RunByID(1); err != nil || !r.Pruned || string(r.Summary) != `{"created":1}` {
		t.Errorf("run 1 (no rows): %+v %v", r, err)
	}
	if r, err := s.RunByID(2); err != nil || r.Pruned {
		t.Errorf("run 2: %+v %v", r, err)
	}
	run, err := s.BeginRun(Spec{Command: "run", Input: "b.csv"})
	if err != nil {
		t.Fatal(err)
	}
	same := req("u1", "One")
	same.Metadata = map[string]string{"plan": "pro"}
	if d := admit(t, s, run.ID, 1, same); d.Status != profile.StatusSkipped || d.ProfileID != "uprof_0123456789ABCDEFGHIJabcd" || d.ErrorType != "" {
		t.Errorf("u1 unchanged: %+v", d)
	}
	if d := admit(t, s, run.ID, 2, req("u1", "Uno")); d.Status != profile.StatusInvalid || d.ErrorType != profile.RuleDuplicateExternalID || !strings.Contains(d.ErrorMessage, "line 2") {
		t.Errorf("u1 again in the same run: %+v", d)
	}
	run2, err := s.BeginRun(Spec{Command: "run", Input: "c.csv"})
	if err != nil {
		t.Fatal(err)
	}
	if d := admit(t, s, run2.ID, 1, req("u1", "Uno")); d.ErrorType != profile.ErrorProfileChanged || !strings.Contains(d.ErrorMessage, "name, metadata.plan: changed") {
		t.Errorf("u1 renamed: %+v", d)
	}
	if d := admit(t, s, run2.ID, 2, req("u2", "Two")); d.Status != profile.StatusPending || d.AttemptTimeout.Seconds() != 3 || d.AttemptAt.Unix() != 7 ||
		!d.Sent.Matches(profile.Profile{ExternalID: profile.Str("u2"), Name: profile.Str("Two"), Relationship: profile.DefaultRelationship}) {
		t.Errorf("u2 pending: %+v", d)
	}
}
