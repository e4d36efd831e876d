package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/provision/provision/internal/profile"
)

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func req(ext, name string) profile.Request {
	r := profile.Request{Name: profile.Str(name)}
	if ext != "" {
		r.ExternalID = profile.Str(ext)
	}
	return r
}

func admit(t *testing.T, s *Store, run int64, seq int64, r profile.Request) Decision {
	t.Helper()
	d, err := s.Admit(run, Input{Seq: seq, Line: int(seq) + 1, Request: r, Fields: []profile.Field{{Name: "n", Value: "v"}}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestAdmitDecisions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s := open(t, path)
	defer s.Close()
	run1, err := s.BeginRun(Spec{Command: "run", Input: "a.csv", Columns: []string{"n"}})
	if err != nil {
		t.Fatal(err)
	}
	if d := admit(t, s, run1.ID, 1, req("u1", "One")); !d.Send {
		t.Fatalf("new row: %+v", d)
	}
	if d := admit(t, s, run1.ID, 2, req("u1", "Other")); d.Status != profile.StatusInvalid || d.ErrorType != profile.RuleDuplicateExternalID || !strings.Contains(d.ErrorMessage, "line 2") {
		t.Fatalf("duplicate external_id: %+v", d)
	}
	if d := admit(t, s, run1.ID, 3, req("", "Anon")); !d.Send {
		t.Fatalf("row without id: %+v", d)
	}
	if d := admit(t, s, run1.ID, 4, req("", "Anon")); d.Status != profile.StatusInvalid || d.ErrorType != profile.RuleDuplicateRow {
		t.Fatalf("duplicate content: %+v", d)
	}
	if d, _ := s.Admit(run1.ID, Input{Seq: 5, Line: 6, Problem: &profile.Problem{Rule: "field_count", Message: "x"}}); d.Status != profile.StatusInvalid || d.ErrorMessage != "line 6: x" {
		t.Fatalf("problem row: %+v", d)
	}
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := s.Record(run1.ID, Outcome{Seq: 1, Identity: req("u1", "One").Identity(), Status: profile.StatusCreated, ProfileID: "uprof_1", CreatedAt: created, Attempts: 1}); err != nil {
		t.Fatal(err)
	}
	// Row 3 ends unknown: it stays pending in the ledger.
	if err := s.Record(run1.ID, Outcome{Seq: 3, Identity: req("", "Anon").Identity(), Status: profile.StatusPending, Attempts: 1, ErrorType: "api_error"}); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(run1.ID, 5, 1, nil, 10); err != nil {
		t.Fatal(err)
	}

	run2, err := s.BeginRun(Spec{Command: "run", Input: "b.csv", Columns: nil})
	if err != nil || run2.Resumed || run2.ID == run1.ID {
		t.Fatalf("second run: %+v %v", run2, err)
	}
	if d := admit(t, s, run2.ID, 1, req("u1", "One")); d.Status != profile.StatusSkipped || d.ProfileID != "uprof_1" || d.ErrorType != "" {
		t.Fatalf("provisioned row: %+v", d)
	}
	if d := admit(t, s, run2.ID, 2, req("u2", "Two")); !d.Send {
		t.Fatalf("new row in the second run: %+v", d)
	}
	if d := admit(t, s, run2.ID, 3, req("", "Anon")); d.Status != profile.StatusPending || d.AttemptAt.IsZero() {
		t.Fatalf("row with an unknown outcome must be parked: %+v", d)
	}
	changed := req("u1", "One")
	changed.Metadata = map[string]string{"plan": "pro"}
	run3, _ := s.BeginRun(Spec{Command: "run", Input: "c.csv", Columns: nil})
	if d := admit(t, s, run3.ID, 1, changed); d.Status != profile.StatusSkipped || d.ErrorType != profile.ErrorProfileChanged || !strings.Contains(d.ErrorMessage, "metadata.plan") {
		t.Fatalf("changed row: %+v", d)
	}
}

// TestPendingIsDurableBeforeSend: once Admit's batch is committed, a crash
// (the store is dropped without recording anything) leaves the row pending
// for the next run, which must not send it blindly.
func TestPendingIsDurableBeforeSend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s := open(t, path)
	run, _ := s.BeginRun(Spec{Command: "run", Input: "a.csv", Columns: nil})
	if d := admit(t, s, run.ID, 1, req("u1", "One")); !d.Send {
		t.Fatal(d)
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	// Simulate a crash: close the connections without any further commit.
	s.conn.Close()
	s.db.Close()

	s = open(t, path)
	defer s.Close()
	again, err := s.BeginRun(Spec{Command: "run", Input: "a.csv", Columns: nil})
	if err != nil || !again.Resumed || again.ID != run.ID {
		t.Fatalf("the unfinished run was not resumed: %+v %v", again, err)
	}
	if d := admit(t, s, again.ID, 1, req("u1", "One")); d.Status != profile.StatusPending {
		t.Fatalf("after a crash the row must be parked for reconciliation, got %+v", d)
	}
}

func TestReleaseAndFailedDropThePendingEntry(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "s.db"))
	defer s.Close()
	run, _ := s.BeginRun(Spec{Command: "run", Input: "a.csv", Columns: nil})
	for i, o := range []Outcome{
		{Status: profile.StatusFailed, ErrorType: "invalid_request_error"},
		{Status: profile.StatusPending, Release: true, ErrorType: "not_sent"},
	} {
		r := req("", "x"+string(rune('a'+i)))
		admit(t, s, run.ID, int64(i+1), r)
		o.Seq, o.Identity = int64(i+1), r.Identity()
		if err := s.Record(run.ID, o); err != nil {
			t.Fatal(err)
		}
		next, _ := s.BeginRun(Spec{Command: "run", Input: "other.csv", Columns: nil})
		if d := admit(t, s, next.ID, 1, r); !d.Send {
			t.Errorf("%s: the next run must send the row again, got %+v", o.Status, d)
		}
	}
}

func TestEachRowInInputOrderAndCounts(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "s.db"))
	defer s.Close()
	run, _ := s.BeginRun(Spec{Command: "run", Input: "a.csv", Columns: nil})
	for _, seq := range []int64{3, 1, 2} {
		admit(t, s, run.ID, seq, req("u"+string(rune('0'+seq)), "n"))
	}
	var seqs []int64
	if err := s.EachRow(context.Background(), run.ID, func(r ReportRow) error {
		seqs = append(seqs, r.Seq)
		if len(r.Fields) != 1 || r.Fields[0].Value != "v" {
			t.Errorf("fields %+v", r.Fields)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(seqs) != 3 || seqs[0] != 1 || seqs[2] != 3 {
		t.Fatalf("order %v", seqs)
	}
	byStatus, _, err := s.Counts(context.Background(), run.ID)
	if err != nil || byStatus[profile.StatusPending] != 3 {
		t.Fatalf("counts %v %v", byStatus, err)
	}
}

func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db.lock")
	unlock, err := Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Lock(path)
	var le *LockedError
	if !errors.As(err, &le) || le.PID != os.Getpid() || le.Since.IsZero() {
		t.Fatalf("second lock: %v", err)
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Errorf("lock mode %v", info.Mode().Perm())
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	unlock, err = Lock(path)
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	unlock()
}

func TestOldRunsArePruned(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "s.db"))
	defer s.Close()
	var first Run
	for i := range 10 + 2 {
		run, err := s.BeginRun(Spec{Command: "run", Input: "a.csv", Columns: nil})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = run
		}
		admit(t, s, run.ID, 1, req("", "n"))
		if err := s.FinishRun(run.ID, 1, 0, nil, 10); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	_ = s.EachRow(context.Background(), first.ID, func(ReportRow) error { n++; return nil })
	if n != 0 {
		t.Fatalf("the oldest run still has %d rows", n)
	}
	last, _ := s.LastRun()
	n = 0
	_ = s.EachRow(context.Background(), last.ID, func(ReportRow) error { n++; return nil })
	if n != 1 {
		t.Fatalf("the last run has %d rows", n)
	}
}

// A state path is a file name, whatever characters it holds: none of them
// may end it or be read as part of the URI the driver is given.
func TestOpenOddPaths(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a?mode=ro.db", "b#frag.db", "c%20d.db", "with space.db", "e?_pragma=journal_mode(DELETE).db"} {
		path := filepath.Join(dir, name)
		s := open(t, path)
		if _, err := s.BeginRun(Spec{Command: "run", Input: "in.csv", Columns: nil}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
			t.Errorf("%s: the state is not in the file named: %v", name, err)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		switch n := e.Name(); {
		case strings.HasSuffix(n, "-wal"), strings.HasSuffix(n, "-shm"), strings.HasSuffix(n, ".db"):
		default:
			t.Errorf("stray file %q", n)
		}
	}
}

// The request timeout of the process that made an attempt is kept with it,
// and a resend records the resending process's.
func TestAttemptTimeoutIsRecorded(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "s.db"))
	defer s.Close()
	run, err := s.BeginRun(Spec{Command: "run", Input: "a.csv", Columns: nil})
	if err != nil {
		t.Fatal(err)
	}
	s.SetAttemptTimeout(45 * time.Second)
	if d := admit(t, s, run.ID, 1, req("u1", "One")); !d.Send {
		t.Fatalf("%+v", d)
	}
	run2, err := s.BeginRun(Spec{Command: "run", Input: "b.csv", Columns: nil})
	if err != nil {
		t.Fatal(err)
	}
	s.SetAttemptTimeout(time.Second)
	if d := admit(t, s, run2.ID, 1, req("u1", "One")); d.Status != profile.StatusPending || d.AttemptTimeout != 45*time.Second {
		t.Fatalf("pending from a 45 s process: %+v", d)
	}
	if err := s.Resend("external_id:u1", req("u1", "One")); err != nil {
		t.Fatal(err)
	}
	run3, err := s.BeginRun(Spec{Command: "run", Input: "c.csv", Columns: nil})
	if err != nil {
		t.Fatal(err)
	}
	if d := admit(t, s, run3.ID, 1, req("u1", "One")); d.Status != profile.StatusPending || d.AttemptTimeout != time.Second {
		t.Fatalf("after a resend by a 1 s process: %+v", d)
	}
}

// A state file written before attempt timeouts were recorded opens, gains
// the column, and reads its old pending entries as "not recorded".
func TestMigrateAddsAttemptTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE ledger (identity TEXT PRIMARY KEY, status TEXT NOT NULL, profile_id TEXT, content_hash TEXT NOT NULL,
			request TEXT NOT NULL, attempt_at INTEGER, created_at TEXT, run_id INTEGER NOT NULL) WITHOUT ROWID`,
		`INSERT INTO ledger VALUES ('external_id:u1', 'pending', NULL, 'h', '{}', 5000000000, NULL, 1)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s := open(t, path)
	defer s.Close()
	run, err := s.BeginRun(Spec{Command: "run", Input: "a.csv", Columns: nil})
	if err != nil {
		t.Fatal(err)
	}
	if d := admit(t, s, run.ID, 1, req("u1", "One")); d.Status != profile.StatusPending || d.AttemptTimeout != 0 || !d.AttemptAt.Equal(time.Unix(5, 0)) {
		t.Fatalf("old pending entry: %+v", d)
	}
	s.Close()
	if s2, err := Open(context.Background(), path); err != nil { // a second open finds the column there
		t.Fatal(err)
	} else {
		s2.Close()
	}
}

// Two paths to one state, one of them a symlink, must take one lock.
func TestLockPathResolvesSymlinks(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.db")
	s := open(t, real)
	s.Close()
	link := filepath.Join(dir, "link.db")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if a, b := LockPath(real), LockPath(link); a != b {
		t.Fatalf("lock paths differ: %s and %s", a, b)
	}
	unlock, err := Lock(LockPath(real))
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	var le *LockedError
	if _, err := Lock(LockPath(link)); !errors.As(err, &le) {
		t.Fatalf("second lock through the symlink: %v, want LockedError", err)
	}
	if got := LockPath(filepath.Join(dir, "new.db")); got != filepath.Join(dir, "new.db.lock") && !strings.HasSuffix(got, "/new.db.lock") {
		t.Fatalf("lock of a state not yet made: %s", got)
	}
}

// A row to be sent is written once, with its first outcome; until then a
// duplicate of it still names its line, and a reader of the run's rows
// still sees it, pending.
func TestASentRowIsWrittenWithItsOutcome(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "s.db"))
	defer s.Close()
	run, err := s.BeginRun(Spec{Command: "run", Input: "a.csv", Columns: []string{"n"}})
	if err != nil {
		t.Fatal(err)
	}
	stored := func() (n int) {
		t.Helper()
		if err := s.conn.QueryRowContext(context.Background(), `SELECT count(*) FROM rows`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	admit(t, s, run.ID, 1, req("u1", "One"))
	if d := admit(t, s, run.ID, 2, req("u1", "Again")); d.ErrorType != profile.RuleDuplicateExternalID || !strings.Contains(d.ErrorMessage, "line 2") {
		t.Fatalf("a duplicate of a row in flight: %+v", d)
	}
	admit(t, s, run.ID, 3, req("u3", "Three"))
	if n := stored(); n != 1 {
		t.Fatalf("%d rows stored before any outcome; want 1, the duplicate", n)
	}
	if err := s.Record(run.ID, Outcome{Seq: 1, Identity: req("u1", "One").Identity(), Status: profile.StatusCreated, ProfileID: "uprof_1", RequestID: "req_1", Attempts: 2}); err != nil {
		t.Fatal(err)
	}
	if n := stored(); n != 2 {
		t.Fatalf("%d rows stored after one outcome; want 2", n)
	}
	var got []ReportRow
	each := func() {
		got = got[:0]
		if err := s.EachRow(context.Background(), run.ID, func(r ReportRow) error { got = append(got, r); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	each()
	if len(got) != 3 || got[0].Status != profile.StatusCreated || got[0].ProfileID != "uprof_1" || got[0].RequestID != "req_1" ||
		got[0].Attempts != 2 || got[0].Line != 2 || len(got[0].Fields) != 1 || got[0].Fields[0].Value != "v" ||
		got[1].Status != profile.StatusInvalid || got[2].Status != profile.StatusPending || got[2].Line != 4 || got[2].ProfileID != "" {
		t.Fatalf("rows: %+v", got)
	}
	// Row 3 was written pending by the reader; its outcome now updates it.
	if err := s.Record(run.ID, Outcome{Seq: 3, Identity: req("u3", "Three").Identity(), Status: profile.StatusCreated, ProfileID: "uprof_3", Attempts: 1}); err != nil {
		t.Fatal(err)
	}
	each()
	if got[2].Status != profile.StatusCreated || got[2].ProfileID != "uprof_3" || got[2].Attempts != 1 || got[2].Line != 4 {
		t.Fatalf("row 3 after its outcome: %+v", got[2])
	}
}

// Rows are written in input order: an outcome that comes early waits for
// the rows before it, and a second outcome of a waiting row updates it as
// it would a written one; past maxWaiting the waiting rows are written.
func TestHeldRowsAreWrittenInOrder(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "s.db"))
	defer s.Close()
	run, err := s.BeginRun(Spec{Command: "run", Input: "a.csv", Columns: []string{"n"}})
	if err != nil {
		t.Fatal(err)
	}
	var keys []int64
	stored := func() []int64 {
		t.Helper()
		keys = keys[:0]
		rows, err := s.conn.QueryContext(context.Background(), `SELECT k FROM rows ORDER BY rowid`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var k int64
			rows.Scan(&k)
			keys = append(keys, k-rowKey(run.ID, 0))
		}
		return keys
	}
	id := func(seq int64) string { return req(fmt.Sprintf("u%d", seq), "N").Identity() }
	n := int64(maxWaiting + 10)
	for seq := int64(1); seq <= n; seq++ {
		admit(t, s, run.ID, seq, req(fmt.Sprintf("u%d", seq), "N"))
	}
	record := func(o Outcome) {
		t.Helper()
		if err := s.Record(run.ID, o); err != nil {
			t.Fatal(err)
		}
	}
	record(Outcome{Seq: 3, Identity: id(3), Status: profile.StatusCreated, ProfileID: "uprof_3", Attempts: 1})
	record(Outcome{Seq: 2, Identity: id(2), Status: profile.StatusPending, RequestID: "req_2", ErrorType: "timeout", Attempts: 1})
	record(Outcome{Seq: 2, Identity: id(2), Status: profile.StatusCreated, ProfileID: "uprof_2", Attempts: 1})
	if got := stored(); len(got) != 0 {
		t.Fatalf("rows %v written while row 1 is in flight", got)
	}
	record(Outcome{Seq: 1, Identity: id(1), Status: profile.StatusCreated, ProfileID: "uprof_1", Attempts: 1})
	if got := stored(); !slices.Equal(got, []int64{1, 2, 3}) {
		t.Fatalf("rows written %v, want 1 2 3 in order", got)
	}
	var attempts int
	var et sql.NullString
	if err := s.conn.QueryRowContext(context.Background(), `SELECT attempts, error_type FROM rows WHERE k = ?`, rowKey(run.ID, 2)).Scan(&attempts, &et); err != nil || attempts != 2 || et.Valid {
		t.Fatalf("row 2: attempts %d, error_type %v, %v; want 2 attempts and no error", attempts, et, err)
	}
	// Row 4 stays in flight: the rows after it wait, up to maxWaiting.
	for seq := int64(5); seq <= n; seq++ {
		record(Outcome{Seq: seq, Identity: id(seq), Status: profile.StatusCreated, ProfileID: fmt.Sprintf("uprof_%d", seq), Attempts: 1})
	}
	if got := stored(); len(got) < maxWaiting || slices.Contains(got, 4) {
		t.Fatalf("%d rows written with row 4 in flight; want at least %d, not row 4", len(got), maxWaiting)
	}
	var rows []ReportRow
	if err := s.EachRow(context.Background(), run.ID, func(r ReportRow) error { rows = append(rows, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(rows) != int(n) || rows[3].Status != profile.StatusPending || rows[1].RequestID != "req_2" || rows[1].ProfileID != "uprof_2" {
		t.Fatalf("report: %d rows, row 4 %+v, row 2 %+v", len(rows), rows[3], rows[1])
	}
}
