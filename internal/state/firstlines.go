package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
)

// DefaultFirstLinesInMemory is how many identities FirstLines keeps in
// memory before it moves on to a temporary file: about 40 MiB at most,
// and room for the exports most runs see without touching the disk.
const DefaultFirstLinesInMemory = 1 << 20

// firstLinesBatch is how many inserts go into one transaction of the
// temporary file.
const firstLinesBatch = 4096

// FirstLines remembers the line on which each identity (by its 64-bit hash)
// first appeared, for validate, which keeps no state file but must still
// find duplicates. The first identities are kept in a map; past that, in a
// temporary SQLite file next to the report, which Close removes, so memory
// stays bounded however long the input is (docs/ARCHITECTURE.md, "Invariant 4: bounded memory").
type FirstLines struct {
	mem    map[uint64]int32
	memCap int
	dir    string

	path     string // the temporary file, once spilled
	db       *sql.DB
	conn     *sql.Conn
	ins, get *sql.Stmt
	inTx     int
}

// NewFirstLines returns an empty set that keeps up to inMemory identities in
// memory (DefaultFirstLinesInMemory if 0) and the rest in a temporary file
// in dir (os.TempDir() if "").
func NewFirstLines(dir string, inMemory int) *FirstLines {
	if inMemory <= 0 {
		inMemory = DefaultFirstLinesInMemory
	}
	return &FirstLines{mem: map[uint64]int32{}, memCap: inMemory, dir: dir}
}

// Add records that key appears on line. If it appeared before, it returns
// the first line it appeared on and dup = true, and records nothing.
func (f *FirstLines) Add(key uint64, line int) (first int, dup bool, err error) {
	if l, ok := f.mem[key]; ok {
		return int(l), true, nil
	}
	if f.db == nil {
		if len(f.mem) < f.memCap {
			f.mem[key] = int32(line)
			return line, false, nil
		}
		if err := f.spill(); err != nil {
			return 0, false, err
		}
	}
	ctx := context.Background()
	if f.inTx == 0 {
		if _, err := f.conn.ExecContext(ctx, "BEGIN"); err != nil {
			return 0, false, f.fail(err)
		}
	}
	if f.inTx++; f.inTx == firstLinesBatch {
		defer func() {
			f.inTx = 0
			if _, cerr := f.conn.ExecContext(ctx, "COMMIT"); cerr != nil && err == nil {
				err = f.fail(cerr)
			}
		}()
	}
	res, err := f.ins.ExecContext(ctx, int64(key), line)
	if err != nil {
		return 0, false, f.fail(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return 0, false, f.fail(err)
	} else if n == 1 {
		return line, false, nil
	}
	if err := f.get.QueryRowContext(ctx, int64(key)).Scan(&first); err != nil {
		return 0, false, f.fail(err)
	}
	return first, true, nil
}

func (f *FirstLines) fail(err error) error {
	return fmt.Errorf("duplicate check (temporary file %s): %w", f.path, err)
}

// spill opens the temporary file. It is scratch space: no journal, no
// fsync; the map stays as it is and answers for the identities it holds.
func (f *FirstLines) spill() (err error) {
	tmp, err := os.CreateTemp(f.dir, "provision-validate-*.db")
	if err != nil {
		return fmt.Errorf("duplicate check: a temporary file for more than %d identities: %w", f.memCap, err)
	}
	path := tmp.Name()
	tmp.Close()
	db, err := sql.Open("sqlite", "file:"+uriEscaper.Replace(path)+"?_pragma=journal_mode(OFF)&_pragma=synchronous(OFF)&_pragma=cache_size(-8192)")
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("duplicate check (temporary file %s): %w", path, err)
	}
	defer func() {
		if err != nil {
			db.Close()
			os.Remove(path)
			err = fmt.Errorf("duplicate check (temporary file %s): %w", path, err)
		}
	}()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE first_lines (key INTEGER PRIMARY KEY, line INTEGER NOT NULL)`); err != nil {
		return err
	}
	ins, err := conn.PrepareContext(ctx, `INSERT INTO first_lines (key, line) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`)
	if err != nil {
		return err
	}
	get, err := conn.PrepareContext(ctx, `SELECT line FROM first_lines WHERE key = ?`)
	if err != nil {
		return err
	}
	f.path, f.db, f.conn, f.ins, f.get = path, db, conn, ins, get
	return nil
}

// spilled reports whether the set has moved on to its temporary file.
func (f *FirstLines) spilled() bool { return f.db != nil }

// Close removes the temporary file, if there is one.
func (f *FirstLines) Close() error {
	f.mem = nil
	if f.db == nil {
		return nil
	}
	var errs []error
	for _, st := range []*sql.Stmt{f.ins, f.get} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	if f.conn != nil {
		errs = append(errs, f.conn.Close())
	}
	errs = append(errs, f.db.Close(), os.Remove(f.path))
	f.db = nil
	return errors.Join(errs...)
}
