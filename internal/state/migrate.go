package state

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are the schema's versions, in order. The database records how
// many it has applied in PRAGMA user_version; Open applies the rest, each in
// its own transaction. A migration is never edited once released: a change
// is a new migration at the end. docs/ARCHITECTURE.md describes the tables.
var migrations = []func(ctx context.Context, tx *sql.Tx) error{
	migrateSeed,
	migrateOrgTruth,
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
	return nil
}

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
