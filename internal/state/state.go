// Package state is the checkpoint of provision: one SQLite file that holds
// the ledger of every identity ever sent (pending or created, with its
// profile id) and, per run, every input row with its status, so a run can be
// killed at any instant, resumed, and its report rendered again at any time.
//
// One connection and one open transaction serve the whole run; Commit ends
// it durably (WAL, synchronous=FULL) and opens the next. The job commits a
// batch of rows marked pending before it sends any of them: one fsync per
// batch instead of one per row, and no request ever leaves before its row is
// on disk.
package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/provision/provision/internal/profile"
)

// Row statuses stored in the state and shown in the report.
const (
	StatusCreated = "created"
	StatusSkipped = "skipped"
	StatusInvalid = "invalid"
	StatusFailed  = "failed"
	StatusPending = "pending"
	StatusValid   = "valid"
)

// KeepRuns is how many runs keep their rows (for the report command); older
// runs keep only their summary.
const KeepRuns = 10

// ErrorProfileChanged marks a skipped row whose data differ from what its
// profile was created with.
const ErrorProfileChanged = "profile_changed"

const schema = `
CREATE TABLE IF NOT EXISTS ledger (
	identity     TEXT PRIMARY KEY,
	status       TEXT NOT NULL,
	profile_id   TEXT,
	content_hash TEXT NOT NULL,
	request      TEXT NOT NULL,
	attempt_at   INTEGER,
	attempt_timeout INTEGER NOT NULL DEFAULT 0,
	created_at   TEXT,
	run_id       INTEGER NOT NULL
) WITHOUT ROWID;
DROP INDEX IF EXISTS ledger_pending;
CREATE TABLE IF NOT EXISTS runs (
	id          INTEGER PRIMARY KEY,
	command     TEXT NOT NULL,
	input       TEXT NOT NULL,
	columns     TEXT NOT NULL DEFAULT '[]',
	started_at  INTEGER NOT NULL,
	finished_at INTEGER,
	exit_code   INTEGER,
	summary     TEXT
);
CREATE TABLE IF NOT EXISTS rows (
	run_id        INTEGER NOT NULL,
	seq           INTEGER NOT NULL,
	line          INTEGER NOT NULL,
	identity      TEXT,
	fields        TEXT NOT NULL,
	status        TEXT NOT NULL,
	profile_id    TEXT NOT NULL DEFAULT '',
	error_type    TEXT NOT NULL DEFAULT '',
	error_message TEXT NOT NULL DEFAULT '',
	attempts      INTEGER NOT NULL DEFAULT 0,
	request_id    TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
-- (run_id, identity, seq) answers the duplicate check, "the first earlier
-- row with this identity", from the index alone; without seq in it the
-- planner walks the primary key instead, a scan per row.
CREATE INDEX IF NOT EXISTS rows_identity_seq ON rows(run_id, identity, seq);
DROP INDEX IF EXISTS rows_identity;
`

// dupOfSQL finds the first earlier row of the run with the same identity.
// It runs once per row, so it must be an index search: INDEXED BY makes the
// plan certain (without statistics the planner would walk the primary key).
const dupOfSQL = `SELECT line FROM rows INDEXED BY rows_identity_seq WHERE run_id = ? AND identity = ? AND seq < ? ORDER BY seq LIMIT 1`

// Store is an open state file. Its methods are safe for concurrent use; they
// serialise on one connection, which is what SQLite does anyway.
type Store struct {
	db   *sql.DB
	conn *sql.Conn
	mu   sync.Mutex
	inTx bool
	st   stmts
	now  func() time.Time
	path string
	seen *seen // identities admitted in the run being admitted

	attemptTimeout time.Duration // recorded with every attempt, see SetAttemptTimeout

	fieldBuf []byte // Admit's encoding of a row's fields, reused
}

type stmts struct {
	dupOf, ledgerGet, ledgerPending, ledgerCreated, ledgerDelete, ledgerRetry *sql.Stmt
	rowUpsert, rowOutcome                                                     *sql.Stmt
}

var uriEscaper = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")

// migrate brings a state file written by an earlier version up to the schema.
func migrate(ctx context.Context, db *sql.DB) error {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info('ledger') WHERE name = 'attempt_timeout'`).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		if _, err := db.ExecContext(ctx, `ALTER TABLE ledger ADD COLUMN attempt_timeout INTEGER NOT NULL DEFAULT 0`); err != nil {
			return err
		}
	}
	return nil
}

// Open opens (creating if needed, mode 0600) the state file at path.
func Open(ctx context.Context, path string) (*Store, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	f.Close()
	// A file: URI, so the path is absolute (a path starting with // would
	// read as a host) and its %, ? and # are escaped (they would end it).
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	dsn := "file:" + uriEscaper.Replace(abs) + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(OFF)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	db.SetMaxOpenConns(2)
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("state: %w", err)
	}
	s := &Store{db: db, conn: conn, now: time.Now, path: path}
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) prepare(ctx context.Context) error {
	q := []struct {
		dst **sql.Stmt
		sql string
	}{
		{&s.st.dupOf, dupOfSQL},
		{&s.st.ledgerGet, `SELECT status, COALESCE(profile_id, ''), content_hash, request, COALESCE(attempt_at, 0), attempt_timeout, COALESCE(created_at, ''), run_id FROM ledger WHERE identity = ?`},
		// Most rows are new: inserting first decides them in one statement,
		// and only an identity already in the ledger needs reading.
		{&s.st.ledgerPending, `INSERT INTO ledger (identity, status, content_hash, request, attempt_at, attempt_timeout, run_id) VALUES (?, 'pending', ?, ?, ?, ?, ?)
			ON CONFLICT(identity) DO NOTHING`},
		{&s.st.ledgerCreated, `UPDATE ledger SET status = 'created', profile_id = ?, created_at = ?, attempt_at = NULL, run_id = ? WHERE identity = ?`},
		{&s.st.ledgerDelete, `DELETE FROM ledger WHERE identity = ? AND status = 'pending'`},
		{&s.st.ledgerRetry, `UPDATE ledger SET attempt_at = ?, attempt_timeout = ? WHERE identity = ? AND status = 'pending'`},
		{&s.st.rowUpsert, `INSERT INTO rows (run_id, seq, line, identity, fields, status, profile_id, error_type, error_message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT(run_id, seq) DO UPDATE SET line = excluded.line, identity = excluded.identity, fields = excluded.fields, status = excluded.status,
			profile_id = excluded.profile_id, error_type = excluded.error_type, error_message = excluded.error_message`},
		{&s.st.rowOutcome, `UPDATE rows SET status = ?, profile_id = ?, error_type = ?, error_message = ?, attempts = attempts + ?, request_id = CASE WHEN ? = '' THEN request_id ELSE ? END WHERE run_id = ? AND seq = ?`},
	}
	for _, x := range q {
		st, err := s.conn.PrepareContext(ctx, x.sql)
		if err != nil {
			return fmt.Errorf("state: prepare: %w", err)
		}
		*x.dst = st
	}
	return nil
}

// Close commits what is pending and closes the file.
func (s *Store) Close() error {
	err := s.Commit()
	for _, st := range []*sql.Stmt{s.st.dupOf, s.st.ledgerGet, s.st.ledgerPending, s.st.ledgerCreated, s.st.ledgerDelete, s.st.ledgerRetry, s.st.rowUpsert, s.st.rowOutcome} {
		if st != nil {
			st.Close()
		}
	}
	if s.conn != nil {
		s.conn.Close()
	}
	return errors.Join(err, s.db.Close())
}

// exec runs st inside the current write transaction, opening one if needed.
// The caller holds s.mu.
func (s *Store) begin() error {
	if s.inTx {
		return nil
	}
	if _, err := s.conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("state: begin: %w", err)
	}
	s.inTx = true
	return nil
}

// Commit makes every change so far durable.
func (s *Store) Commit() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commitLocked()
}

func (s *Store) commitLocked() error {
	if !s.inTx {
		return nil
	}
	s.inTx = false
	if _, err := s.conn.ExecContext(context.Background(), "COMMIT"); err != nil {
		return fmt.Errorf("state: commit: %w", err)
	}
	return nil
}

// Run is one execution of a command over one input.
type Run struct {
	ID       int64
	Command  string
	Input    string
	Columns  []string
	Started  time.Time
	Finished time.Time // zero while unfinished
	ExitCode int
	Summary  json.RawMessage
	Resumed  bool // BeginRun continued an unfinished run of the same command and input
}

// BeginRun starts a run, or resumes the latest run when it did not finish and
// was the same command over the same input: the rows it settled keep their
// statuses, so a resumed run's report reads as one run.
func (s *Store) BeginRun(command, input string, columns []string) (Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cols, _ := json.Marshal(columns)
	if columns == nil {
		cols = []byte("[]")
	}
	ctx := context.Background()
	last, err := s.lastRunLocked(ctx)
	if err != nil && !errors.Is(err, ErrNoRun) {
		return Run{}, err
	}
	if err := s.begin(); err != nil {
		return Run{}, err
	}
	if err == nil && last.Finished.IsZero() && last.Command == command && last.Input == input {
		if _, err := s.conn.ExecContext(ctx, `UPDATE runs SET columns = ? WHERE id = ?`, string(cols), last.ID); err != nil {
			return Run{}, fmt.Errorf("state: %w", err)
		}
		last.Columns, last.Resumed = columns, true
		return last, s.commitLocked()
	}
	now := s.now()
	res, err := s.conn.ExecContext(ctx, `INSERT INTO runs (command, input, columns, started_at) VALUES (?, ?, ?, ?)`, command, input, string(cols), now.UnixNano())
	if err != nil {
		return Run{}, fmt.Errorf("state: %w", err)
	}
	id, _ := res.LastInsertId()
	return Run{ID: id, Command: command, Input: input, Columns: columns, Started: now}, s.commitLocked()
}

// FinishRun records how a run ended and drops rows past its last sequence
// number (left by an earlier, longer version of a resumed input).
func (s *Store) FinishRun(runID int64, lastSeq int64, exitCode int, summary []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin(); err != nil {
		return err
	}
	ctx := context.Background()
	if _, err := s.conn.ExecContext(ctx, `DELETE FROM rows WHERE run_id = ? AND seq > ?`, runID, lastSeq); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if _, err := s.conn.ExecContext(ctx, `UPDATE runs SET finished_at = ?, exit_code = ?, summary = ? WHERE id = ?`, s.now().UnixNano(), exitCode, string(summary), runID); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	// A nightly run over a full export stores every row; keeping the rows of
	// every run would grow the file without bound. The ledger is kept whole.
	if _, err := s.conn.ExecContext(ctx, `DELETE FROM rows WHERE run_id IN (SELECT id FROM runs ORDER BY id DESC LIMIT -1 OFFSET ?)`, KeepRuns); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return s.commitLocked()
}

// ErrNoRun means the state holds no run yet.
var ErrNoRun = errors.New("the state holds no run yet")

// LastRun returns the most recent run.
func (s *Store) LastRun() (Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastRunLocked(context.Background())
}

func (s *Store) lastRunLocked(ctx context.Context) (Run, error) {
	var r Run
	var cols string
	var started int64
	var finished, exit sql.NullInt64
	var summary sql.NullString
	err := s.conn.QueryRowContext(ctx, `SELECT id, command, input, columns, started_at, finished_at, exit_code, summary FROM runs ORDER BY id DESC LIMIT 1`).
		Scan(&r.ID, &r.Command, &r.Input, &cols, &started, &finished, &exit, &summary)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNoRun
	}
	if err != nil {
		return r, fmt.Errorf("state: %w", err)
	}
	_ = json.Unmarshal([]byte(cols), &r.Columns)
	r.Started = time.Unix(0, started)
	if finished.Valid {
		r.Finished = time.Unix(0, finished.Int64)
	}
	r.ExitCode = int(exit.Int64)
	if summary.Valid {
		r.Summary = json.RawMessage(summary.String)
	}
	return r, nil
}

// Input is one input row handed to Admit.
type Input struct {
	Seq     int64 // position in the input, from 1
	Line    int
	Fields  []profile.Field
	Request profile.Request
	Problem *profile.Problem // set: the row is invalid
}

// Decision is what Admit decided for a row.
type Decision struct {
	Status       string // invalid, skipped, created (earlier in this run), pending (parked: outcome unknown), or "" = send it
	ProfileID    string
	ErrorType    string
	ErrorMessage string
	AttemptAt    time.Time // for parked rows: when the unresolved attempt was made
	// AttemptTimeout is, for parked rows, the request timeout of the process
	// that made the attempt (0 when not recorded).
	AttemptTimeout time.Duration
}

// Send is the Decision.Status of a row that must be sent.
const Send = ""

// Admit records an input row in the run and decides its fate from the
// ledger: invalid, duplicate of an earlier row, provisioned before, parked
// (an earlier attempt's outcome is unknown) or to be sent. A row to be sent is
// marked pending in the ledger within the same transaction, so once the
// caller has committed, the row is durably pending before its request goes
// out.
func (s *Store) Admit(runID int64, in Input) (Decision, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin(); err != nil {
		return Decision{}, err
	}
	var d Decision
	identity := ""
	switch {
	case in.Problem != nil:
		d = Decision{Status: StatusInvalid, ErrorType: in.Problem.Rule, ErrorMessage: in.Problem.At(in.Line)}
	default:
		identity = in.Request.Identity()
		var err error
		if d, err = s.decide(runID, in, identity); err != nil {
			return d, err
		}
	}
	s.fieldBuf = encodeFields(s.fieldBuf, in.Fields)
	status := d.Status
	if status == Send {
		status = StatusPending
	}
	if _, err := s.st.rowUpsert.Exec(runID, in.Seq, in.Line, nullable(identity), s.fieldBuf, status, d.ProfileID, d.ErrorType, d.ErrorMessage); err != nil {
		return d, fmt.Errorf("state: %w", err)
	}
	return d, nil
}

func (s *Store) decide(runID int64, in Input, identity string) (Decision, error) {
	if s.seen == nil || s.seen.run != runID {
		if err := s.loadSeen(runID); err != nil {
			return Decision{}, err
		}
	}
	if s.seen.mayContain(identity) {
		var firstLine int
		err := s.st.dupOf.QueryRow(runID, identity, in.Seq).Scan(&firstLine)
		switch {
		case err == nil:
			p := profile.Duplicate(in.Request, firstLine)
			return Decision{Status: StatusInvalid, ErrorType: p.Rule, ErrorMessage: p.At(in.Line)}, nil
		case !errors.Is(err, sql.ErrNoRows):
			return Decision{}, fmt.Errorf("state: %w", err)
		}
	}
	s.seen.add(identity)

	hash := in.Request.ContentHash()
	body, err := json.Marshal(in.Request)
	if err != nil {
		return Decision{}, fmt.Errorf("state: %w", err)
	}
	res, err := s.st.ledgerPending.Exec(identity, hash, string(body), s.now().UnixNano(), int64(s.attemptTimeout), runID)
	if err != nil {
		return Decision{}, fmt.Errorf("state: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return Decision{}, fmt.Errorf("state: %w", err)
	} else if n == 1 {
		return Decision{Status: Send}, nil
	}

	var e entry
	if err := s.st.ledgerGet.QueryRow(identity).Scan(&e.status, &e.profileID, &e.hash, &e.request, &e.attemptAt, &e.attemptTimeout, &e.createdAt, &e.runID); err != nil {
		return Decision{}, fmt.Errorf("state: %w", err)
	}
	switch {
	case e.status == StatusPending:
		return Decision{Status: StatusPending, AttemptAt: time.Unix(0, e.attemptAt), AttemptTimeout: time.Duration(e.attemptTimeout),
			ErrorType: "outcome_unknown", ErrorMessage: "an earlier attempt's outcome is unknown; it is reconciled before anything is sent again"}, nil
	case e.runID == runID:
		return Decision{Status: StatusCreated, ProfileID: e.profileID}, nil
	case e.hash != hash:
		return Decision{Status: StatusSkipped, ProfileID: e.profileID, ErrorType: ErrorProfileChanged, ErrorMessage: changedMessage(in.Line, e, in.Request)}, nil
	}
	return Decision{Status: StatusSkipped, ProfileID: e.profileID}, nil
}

// loadSeen starts the seen filter of a run with the identities its rows
// already have: those admitted by an earlier process of a resumed run.
func (s *Store) loadSeen(runID int64) error {
	f := newSeen(runID)
	rows, err := s.conn.QueryContext(context.Background(), `SELECT identity FROM rows WHERE run_id = ? AND identity IS NOT NULL`, runID)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	defer rows.Close()
	var id string
	for rows.Next() {
		if err := rows.Scan(&id); err != nil {
			return fmt.Errorf("state: %w", err)
		}
		f.add(id)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	s.seen = f
	return nil
}

type entry struct {
	status, profileID, hash, request, createdAt string
	attemptAt, attemptTimeout, runID            int64
}

// changedMessage names the fields whose values differ from those the profile
// was created with; provision creates, it does not update.
func changedMessage(line int, e entry, now profile.Request) string {
	var was profile.Request
	_ = json.Unmarshal([]byte(e.request), &was)
	var diff []string
	if !eqStr(was.Name, now.Name) {
		diff = append(diff, "name")
	}
	if rel(was) != rel(now) {
		diff = append(diff, "relationship")
	}
	var keys []string
	for k, v := range was.Metadata {
		if w, ok := now.Metadata[k]; !ok || w != v {
			keys = append(keys, "metadata."+k)
		}
	}
	for k := range now.Metadata {
		if _, ok := was.Metadata[k]; !ok {
			keys = append(keys, "metadata."+k)
		}
	}
	sort.Strings(keys)
	diff = append(diff, keys...)
	when := ""
	if e.createdAt != "" {
		when = " on " + e.createdAt
	}
	return fmt.Sprintf("line %d: %s: changed since the profile was created%s; provision creates profiles and does not update them", line, strings.Join(diff, ", "), when)
}

func rel(r profile.Request) string {
	if r.Relationship == nil {
		return profile.DefaultRelationship
	}
	return *r.Relationship
}

func eqStr(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Outcome is what became of a row that was sent (or reconciled).
type Outcome struct {
	Seq          int64
	Identity     string
	Status       string // created, failed or pending
	ProfileID    string
	CreatedAt    time.Time
	ErrorType    string
	ErrorMessage string
	RequestID    string
	Attempts     int // requests sent for this outcome, added to the row's count
	// Release drops a pending ledger entry of a row recorded pending: set
	// when nothing can have been created (the row was never sent), so the
	// next run sends it without a listing.
	Release bool
}

// Record stores an outcome. created settles the ledger entry with its id;
// failed removes the pending entry (nothing was created, so a later run may
// send the row again); pending keeps it, for reconciliation.
func (s *Store) Record(runID int64, o Outcome) error {
	return s.RecordAll(runID, []Outcome{o})
}

// RecordAll stores outcomes in order, as Record does, under one hold of the
// lock.
func (s *Store) RecordAll(runID int64, outcomes []Outcome) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin(); err != nil {
		return err
	}
	for _, o := range outcomes {
		if err := s.recordLocked(runID, o); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) recordLocked(runID int64, o Outcome) error {
	var err error
	switch o.Status {
	case StatusCreated:
		_, err = s.st.ledgerCreated.Exec(o.ProfileID, o.CreatedAt.UTC().Format(time.RFC3339Nano), runID, o.Identity)
	case StatusFailed:
		_, err = s.st.ledgerDelete.Exec(o.Identity)
	case StatusPending:
		if o.Release {
			_, err = s.st.ledgerDelete.Exec(o.Identity)
		}
	default:
		return fmt.Errorf("state: cannot record status %q", o.Status)
	}
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if _, err := s.st.rowOutcome.Exec(o.Status, o.ProfileID, o.ErrorType, o.ErrorMessage, o.Attempts, o.RequestID, o.RequestID, runID, o.Seq); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return nil
}

// SetAttemptTimeout sets the request timeout recorded with each attempt
// from now on: a later run that finds the attempt unresolved waits as long
// as this process would have.
func (s *Store) SetAttemptTimeout(d time.Duration) {
	s.mu.Lock()
	s.attemptTimeout = d
	s.mu.Unlock()
}

// Resend marks a parked row as about to be sent again, after reconciliation
// found no profile for it: its attempt time moves forward, since every older
// attempt is now known to have created nothing.
func (s *Store) Resend(identity string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin(); err != nil {
		return err
	}
	if _, err := s.st.ledgerRetry.Exec(s.now().UnixNano(), int64(s.attemptTimeout), identity); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return nil
}

// ReportRow is one row of a run as the report shows it.
type ReportRow struct {
	Seq          int64
	Line         int
	Status       string
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
func (s *Store) Counts(ctx context.Context, runID int64) (byStatus, byError map[string]int, err error) {
	if err := s.Commit(); err != nil {
		return nil, nil, err
	}
	byStatus, byError = map[string]int{}, map[string]int{}
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
