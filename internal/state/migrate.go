package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/provision/provision/internal/profile"
)

// migrations are the schema's versions, in order. The database records how
// many it has applied in PRAGMA user_version; Open applies the rest, each in
// its own transaction. A migration is never edited once released: a change
// is a new migration at the end. docs/ARCHITECTURE.md describes the tables.
var migrations = []func(ctx context.Context, tx *sql.Tx) error{
	migrateSeed,
	migrateOrgTruth,
	migrateCompact,
}

// SchemaVersion is the user_version of a state file this build writes.
var SchemaVersion = len(migrations)

// migrate brings a state file up to the current schema. A file from a newer
// build is refused rather than misread.
func migrate(ctx context.Context, db *sql.DB) error {
	var version int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return err
	}
	if version > len(migrations) {
		return fmt.Errorf("the state file has schema version %d; this build of provision knows up to %d: use a newer provision", version, len(migrations))
	}
	for i := version; i < len(migrations); i++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if err := migrations[i](ctx, tx); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
		// PRAGMA takes no bound parameters; i+1 is a number of ours.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
	}
	if version < compactVersion {
		// The compact forms took the place of tables that held two to three
		// times as much: give the file back what they left free (a new file
		// has nothing to give, and takes no time).
		if _, err := db.ExecContext(ctx, "VACUUM"); err != nil {
			return fmt.Errorf("migration %d: vacuum: %w", compactVersion, err)
		}
	}
	return nil
}

// compactVersion is the schema version migrateCompact brings a file to.
const compactVersion = 3

// migrateSeed is the schema of the first release. Files written before
// versions were recorded (user_version 0) already hold some of it, so every
// statement tolerates what exists.
func migrateSeed(ctx context.Context, tx *sql.Tx) error {
	const schema = `
CREATE TABLE IF NOT EXISTS ledger (
	identity     TEXT PRIMARY KEY,
	status       TEXT NOT NULL,
	profile_id   TEXT,
	content_hash TEXT NOT NULL,
	request      TEXT NOT NULL,
	attempt_at   INTEGER,
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
CREATE INDEX IF NOT EXISTS rows_identity_seq ON rows(run_id, identity, seq);
DROP INDEX IF EXISTS rows_identity;
`
	if _, err := tx.ExecContext(ctx, schema); err != nil {
		return err
	}
	return addColumn(ctx, tx, "ledger", "attempt_timeout", "INTEGER NOT NULL DEFAULT 0")
}

// migrateOrgTruth makes the ledger a cache of the org: the target it is
// bound to and the newest profile it has seen (meta), where each entry came
// from (created by this state, or adopted from the org), whether an export
// ever named it (only those may a sync suspend or delete), other profiles
// holding the same identity, what a sync did to it, and each run's identity
// mapping and API contract.
func migrateOrgTruth(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`); err != nil {
		return err
	}
	for _, c := range []struct{ table, column, decl string }{
		{"ledger", "origin", "TEXT NOT NULL DEFAULT 'created'"}, // created | adopted
		{"ledger", "named", "INTEGER NOT NULL DEFAULT 1"},       // an export of this state named it
		{"ledger", "others", "TEXT NOT NULL DEFAULT ''"},        // other profile ids with this identity, space-separated
		{"ledger", "absent", "TEXT NOT NULL DEFAULT ''"},        // '' | suspended | deleted: what a sync did
		{"runs", "mapping", "TEXT NOT NULL DEFAULT ''"},         // where the identity came from
		{"runs", "api", "TEXT NOT NULL DEFAULT ''"},             // the contract spoken
	} {
		if err := addColumn(ctx, tx, c.table, c.column, c.decl); err != nil {
			return err
		}
	}
	return nil
}

func addColumn(ctx context.Context, tx *sql.Tx, table, column, decl string) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info(?) WHERE name = ?`, table, column).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", table, column, decl))
	return err
}

// migrateCompact rewrites the ledger and the rows in their compact forms
// (codes.go): a state keeps every identity and a row of every retained run,
// and the first forms spent 340 bytes an identity and 300 a row a run.
//
// ledger: the key (the external_id, see keyOf), status, profile id, the
// digest of the content (what the profile holds, or what was sent while
// pending), the last attempt (ms) and its timeout (ms), the run that last
// sent or created it, and origin, named, others and absent as before.
//
// rows: keyed by run_id << 32 | seq, so a run's rows are one range and are
// appended in order; line as line - seq (0 bytes for most inputs), NULL for
// a sync's absent rows; fields as before, or values only when the row has
// the run's columns (fields.go); the ids of a row that is sent have their
// place from the start (noID), so recording the outcome rewrites the row in
// place. The rows do not name their identity: what a run needs to know of
// its identities it keeps in memory (runSet), filled as its rows are
// admitted, which a resumed run does again from its first row.
//
// runs: pruned, set when --keep-runs drops a run's rows, so that its report
// says it is gone rather than showing nothing.
func migrateCompact(ctx context.Context, tx *sql.Tx) error {
	const schema = `
CREATE TABLE ledger3 (
	key             TEXT PRIMARY KEY,
	status          INTEGER NOT NULL,
	profile_id      BLOB,
	content         BLOB NOT NULL,
	attempt_at      INTEGER,
	attempt_timeout INTEGER,
	run_id          INTEGER NOT NULL,
	origin          INTEGER NOT NULL DEFAULT 0,
	named           INTEGER NOT NULL DEFAULT 1,
	others          TEXT,
	absent          INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE rows3 (
	k             INTEGER PRIMARY KEY,
	line          INTEGER,
	status        INTEGER NOT NULL,
	profile_id    BLOB,
	attempts      INTEGER NOT NULL DEFAULT 0,
	request_id    BLOB,
	error_type    TEXT,
	error_message TEXT,
	fields        BLOB NOT NULL
);`
	if _, err := tx.ExecContext(ctx, schema); err != nil {
		return err
	}
	// runs.pruned: the run's rows are gone (--keep-runs); its summary stays.
	if err := addColumn(ctx, tx, "runs", "pruned", "INTEGER NOT NULL DEFAULT 0"); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE runs SET pruned = 1 WHERE NOT EXISTS (SELECT 1 FROM rows WHERE rows.run_id = runs.id)
		AND id < (SELECT max(id) FROM runs)`); err != nil {
		return err
	}
	if err := copyLedger(ctx, tx); err != nil {
		return err
	}
	if err := copyRows(ctx, tx); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `DROP TABLE ledger; DROP TABLE rows; ALTER TABLE ledger3 RENAME TO ledger; ALTER TABLE rows3 RENAME TO rows`)
	return err
}

func copyLedger(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT identity, status, COALESCE(profile_id, ''), request, COALESCE(attempt_at, 0), attempt_timeout, run_id, origin, named, others, absent FROM ledger`)
	if err != nil {
		return err
	}
	defer rows.Close()
	ins, err := tx.PrepareContext(ctx, `INSERT INTO ledger3 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer ins.Close()
	var pid []byte
	for rows.Next() {
		var identity, status, id, body, origin, others, absent string
		var at, timeout, run int64
		var named bool
		if err := rows.Scan(&identity, &status, &id, &body, &at, &timeout, &run, &origin, &named, &others, &absent); err != nil {
			return err
		}
		var req profile.Request
		_ = json.Unmarshal([]byte(body), &req)
		code := map[string]int{"created": ledgerCreated, "pending": ledgerPending, "deleted": ledgerDeleted}[status]
		o := originCreated
		if origin == "adopted" {
			o = originAdopted
		}
		a := map[string]int{"suspended": absentSuspended, "deleted": absentDeleted}[absent]
		pid = packID(pid, id)
		stored := pid
		if code == ledgerPending {
			stored = noID
		}
		var atMS any
		if at > 0 {
			atMS = at / 1e6
		}
		if _, err := ins.ExecContext(ctx, keyOf(identity), code, nullBytes(stored), profile.AppendDigest(nil, req), atMS, timeout/1e6, run, o, named,
			nullable(others), a); err != nil {
			return err
		}
	}
	return rows.Err()
}

func copyRows(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT run_id, seq, line, fields, status, profile_id, error_type, error_message, attempts, request_id FROM rows`)
	if err != nil {
		return err
	}
	defer rows.Close()
	ins, err := tx.PrepareContext(ctx, `INSERT INTO rows3 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer ins.Close()
	var pid, rid []byte
	for rows.Next() {
		var run, seq, line int64
		var status, id, et, em, reqID string
		var fields []byte
		var attempts int
		if err := rows.Scan(&run, &seq, &line, &fields, &status, &id, &et, &em, &attempts, &reqID); err != nil {
			return err
		}
		st, err := profile.ParseStatus(status)
		if err != nil {
			return err
		}
		var l any
		if line > 0 {
			l = line - seq
		}
		pid, rid = packID(pid, id), packID(rid, reqID)
		if _, err := ins.ExecContext(ctx, rowKey(run, seq), l, statusCode(st), nullBytes(pid), attempts, nullBytes(rid), nullable(et), nullable(em), fields); err != nil {
			return err
		}
	}
	return rows.Err()
}

// rowKey is the key of a run's row: its rows are the range
// [rowKey(run, 0), rowKey(run+1, 0)).
func rowKey(run, seq int64) int64 { return run<<32 | seq }

// maxSeq is the most rows a run can have.
const maxSeq = 1<<32 - 1
