// Package state is the checkpoint of provision: one SQLite file that caches
// what the org holds (the ledger: every identity ever sent, adopted or
// created, with its profile id), binds that cache to one target, and keeps,
// per run, every input row with its status, so a run can be killed at any
// instant, resumed, and its report rendered again at any time.
//
// The files by job: store.go opens, commits and checkpoints; migrate.go
// numbers the schema's versions; runs.go begins and finishes runs; ledger.go
// admits rows and records outcomes; org.go binds the target and adopts what
// the org holds; rows.go reads a run back for its report.
// docs/ARCHITECTURE.md explains how they keep exactly-once.
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
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/provision/provision/internal/profile"
)

// Store is an open state file. Its methods are safe for concurrent use; they
// serialise on one connection, which is what SQLite does anyway.
type Store struct {
	db     *sql.DB
	conn   *sql.Conn
	mu     sync.Mutex
	inTx   bool
	st     stmts
	now    func() time.Time
	path   string
	set    *runSet // identities named by the rows of one run
	closed bool

	columns []string // the columns of the run begun last: rows with exactly these store values only

	version profile.Version // the contract of the run begun last

	attemptTimeout time.Duration // recorded with every attempt, see SetAttemptTimeout

	fieldBuf, contentBuf, idBuf, ridBuf []byte // encodings of a row, reused

	held held // the rows to be sent, until written with their outcome
}

type stmts struct {
	rowLine, ledgerGet, ledgerPending, ledgerCreated, ledgerDelete, ledgerRetry, ledgerNamed *sql.Stmt
	rowUpsert, rowOutcome                                                                    *sql.Stmt
	orgGet, orgInsert, orgOthers                                                             *sql.Stmt
	ledgerRevive, ledgerUpdated, ledgerDeleted, absentRow                                    *sql.Stmt
}

func (st *stmts) all() []*sql.Stmt {
	return []*sql.Stmt{st.rowLine, st.ledgerGet, st.ledgerPending, st.ledgerCreated, st.ledgerDelete, st.ledgerRetry, st.ledgerNamed,
		st.rowUpsert, st.rowOutcome, st.orgGet, st.orgInsert, st.orgOthers, st.ledgerRevive, st.ledgerUpdated, st.ledgerDeleted, st.absentRow}
}

var uriEscaper = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")

// Open opens (creating if needed, mode 0600) the state file at path,
// migrates it to the current schema and folds its write-ahead log back into
// it, so a copy of the file alone holds everything.
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
	if err := s.checkpoint(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// checkpoint copies the write-ahead log into the database file and empties
// it: after a kill -9 the ledger may live in provision.db-wal, and a backup
// of provision.db alone would hold nothing of it.
func (s *Store) checkpoint(ctx context.Context) error {
	if _, err := s.conn.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return fmt.Errorf("state: checkpoint: %w", err)
	}
	return nil
}

// statement is one of the statements a Store prepares, and where it goes.
type statement struct {
	dst **sql.Stmt
	sql string
}

func (s *Store) prepare(ctx context.Context) error {
	for _, x := range s.statements() {
		st, err := s.conn.PrepareContext(ctx, x.sql)
		if err != nil {
			return fmt.Errorf("state: prepare: %w", err)
		}
		*x.dst = st
	}
	return nil
}

// statements are what a Store prepares once: the statements of every row
// and every ledger entry, each a search by key (TestPerRowStatementsSearchTheirKey).
func (s *Store) statements() []statement {
	return []statement{
		{&s.st.rowLine, `SELECT COALESCE(line, 0) FROM rows WHERE k = ?`},
		{&s.st.ledgerGet, `SELECT status, profile_id, content, COALESCE(attempt_at, 0), COALESCE(attempt_timeout, 0), run_id, origin, named, COALESCE(others, ''), absent FROM ledger WHERE key = ?`},
		// Most rows are new: inserting first decides them in one statement,
		// and only an identity already in the ledger needs reading. The id
		// it will get has its place already (noID): recording it rewrites
		// the entry in place.
		{&s.st.ledgerPending, `INSERT INTO ledger (key, status, profile_id, content, attempt_at, attempt_timeout, run_id) VALUES (?, 1, ?, ?, ?, ?, ?)
			ON CONFLICT(key) DO NOTHING`},
		{&s.st.ledgerCreated, `UPDATE ledger SET status = 0, profile_id = ?, run_id = ?, others = ? WHERE key = ?`},
		{&s.st.ledgerDelete, `DELETE FROM ledger WHERE key = ? AND status = 1`},
		// A resend stores what it sends: reconciliation matches what was
		// sent last, not what the first attempt held.
		{&s.st.ledgerRetry, `UPDATE ledger SET attempt_at = ?, attempt_timeout = ?, content = ? WHERE key = ? AND status = 1`},
		{&s.st.ledgerNamed, `UPDATE ledger SET named = 1 WHERE key = ? AND named = 0`},
		{&s.st.rowUpsert, `INSERT INTO rows (k, line, status, profile_id, request_id, error_type, error_message, fields, attempts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT(k) DO UPDATE SET line = excluded.line, fields = excluded.fields, status = excluded.status,
			profile_id = excluded.profile_id, request_id = excluded.request_id, error_type = excluded.error_type, error_message = excluded.error_message, attempts = excluded.attempts`},
		{&s.st.rowOutcome, `UPDATE rows SET status = ?, profile_id = ?, error_type = ?, error_message = ?, attempts = attempts + ?, request_id = COALESCE(?, request_id) WHERE k = ?`},
		{&s.st.orgGet, `SELECT status, profile_id, COALESCE(others, '') FROM ledger WHERE key = ?`},
		{&s.st.orgInsert, `INSERT INTO ledger (key, status, profile_id, content, run_id, origin, named) VALUES (?, 0, ?, ?, 0, 1, 0)
			ON CONFLICT(key) DO NOTHING`},
		{&s.st.orgOthers, `UPDATE ledger SET others = ? WHERE key = ?`},
		{&s.st.ledgerRevive, `UPDATE ledger SET status = 1, profile_id = ?, content = ?, attempt_at = ?, attempt_timeout = ?,
			run_id = ?, origin = 0, named = 1, others = NULL, absent = 0 WHERE key = ? AND status = 2`},
		{&s.st.ledgerUpdated, `UPDATE ledger SET content = ?, absent = ? WHERE key = ? AND status = 0`},
		{&s.st.ledgerDeleted, `UPDATE ledger SET status = 2, absent = 2, others = NULL WHERE key = ? AND status = 0`},
		{&s.st.absentRow, `INSERT INTO rows (k, line, status, profile_id, error_type, error_message, fields) VALUES (?, NULL, ?, ?, ?, ?, ?)
			ON CONFLICT(k) DO UPDATE SET line = NULL, fields = excluded.fields, status = excluded.status,
			profile_id = excluded.profile_id, error_type = excluded.error_type, error_message = excluded.error_message, attempts = 0, request_id = NULL`},
	}
}

// Close commits what is pending, folds the write-ahead log into the file
// (so the state is one file at rest) and closes it.
func (s *Store) Close() error {
	err := s.flush()
	s.mu.Lock()
	s.set.close()
	s.set, s.closed = nil, true
	s.mu.Unlock()
	for _, st := range s.st.all() {
		if st != nil {
			st.Close()
		}
	}
	if s.conn != nil {
		if err == nil {
			err = s.checkpoint(context.Background())
		}
		s.conn.Close()
	}
	return errors.Join(err, s.db.Close())
}

// begin opens the write transaction that the following statements join,
// unless one is open. The caller holds s.mu.
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

// flush writes every held row (see held) and commits: what a reader of the
// run's rows does first.
func (s *Store) flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	if err := s.writeHeld(true); err != nil {
		return err
	}
	return s.commitLocked()
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

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
