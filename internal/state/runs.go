package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/provision/provision/internal/profile"
)

// Run is one execution of a command over one input.
type Run struct {
	ID       int64
	Command  string
	Input    string
	Columns  []string
	Mapping  string // where the identity came from, as Spec.Mapping
	API      string // the contract spoken
	Started  time.Time
	Finished time.Time // zero while unfinished
	ExitCode int
	Summary  json.RawMessage
	Resumed  bool // BeginRun continued an unfinished run of the same command and input
	Pruned   bool // its rows are gone (--keep-runs): only its summary is left
}

// Spec is what BeginRun needs to know of a run.
type Spec struct {
	Command string
	Input   string   // the file as given ("-" for stdin); with Command it keys resumption
	Columns []string // the input's columns, for the report
	// Mapping says where rows take their identity from (e.g. the column
	// that feeds external_id); a run whose mapping differs from the last
	// run's would see every user as new.
	Mapping string
	// Version is the contract spoken; duplicates are named in its words.
	Version profile.Version
}

// BeginRun starts a run, or resumes the latest run when it did not finish and
// was the same command over the same input: the rows it settled keep their
// statuses, so a resumed run's report reads as one run.
func (s *Store) BeginRun(spec Spec) (Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cols, _ := json.Marshal(spec.Columns)
	if spec.Columns == nil {
		cols = []byte("[]")
	}
	ctx := context.Background()
	last, err := s.lastRunLocked(ctx)
	if err != nil && !errors.Is(err, ErrNoRun) {
		return Run{}, err
	}
	if err := s.writeHeld(true); err != nil {
		return Run{}, err
	}
	if err := s.begin(); err != nil {
		return Run{}, err
	}
	if err == nil && last.Finished.IsZero() && last.Command == spec.Command && last.Input == spec.Input {
		if !slices.Equal(last.Columns, spec.Columns) {
			// Rows store their values under the run's columns: with other
			// columns, the rows read so far are read again from the start.
			if _, err := s.conn.ExecContext(ctx, `DELETE FROM rows WHERE k > ? AND k < ?`, rowKey(last.ID, 0), rowKey(last.ID+1, 0)); err != nil {
				return Run{}, fmt.Errorf("state: %w", err)
			}
			s.set.close()
			s.set = nil
		}
		if _, err := s.conn.ExecContext(ctx, `UPDATE runs SET columns = ?, mapping = ?, api = ? WHERE id = ?`, string(cols), spec.Mapping, spec.Version.String(), last.ID); err != nil {
			return Run{}, fmt.Errorf("state: %w", err)
		}
		last.Columns, last.Mapping, last.API, last.Resumed = spec.Columns, spec.Mapping, spec.Version.String(), true
		s.version, s.columns = spec.Version, spec.Columns
		return last, s.commitLocked()
	}
	now := s.now()
	res, err := s.conn.ExecContext(ctx, `INSERT INTO runs (command, input, columns, started_at, mapping, api) VALUES (?, ?, ?, ?, ?, ?)`,
		spec.Command, spec.Input, string(cols), now.UnixNano(), spec.Mapping, spec.Version.String())
	if err != nil {
		return Run{}, fmt.Errorf("state: %w", err)
	}
	id, _ := res.LastInsertId()
	s.version, s.columns = spec.Version, spec.Columns
	return Run{ID: id, Command: spec.Command, Input: spec.Input, Columns: spec.Columns, Mapping: spec.Mapping, API: spec.Version.String(), Started: now}, s.commitLocked()
}

// FinishRun records how a run ended, drops rows past its last sequence
// number (left by an earlier, longer version of a resumed input), and keeps
// the rows of the keep most recent runs only (keep < 1 keeps one).
func (s *Store) FinishRun(runID int64, lastSeq int64, exitCode int, summary []byte, keep int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin(); err != nil {
		return err
	}
	if err := s.writeHeld(true); err != nil {
		return err
	}
	ctx := context.Background()
	if _, err := s.conn.ExecContext(ctx, `DELETE FROM rows WHERE k > ? AND k < ?`, rowKey(runID, lastSeq), rowKey(runID+1, 0)); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if _, err := s.conn.ExecContext(ctx, `UPDATE runs SET finished_at = ?, exit_code = ?, summary = ? WHERE id = ?`, s.now().UnixNano(), exitCode, string(summary), runID); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	// A nightly run over a full export stores every row; keeping the rows of
	// every run would grow the file without bound. The ledger is kept whole.
	var oldest sql.NullInt64
	if err := s.conn.QueryRowContext(ctx, `SELECT min(id) FROM (SELECT id FROM runs ORDER BY id DESC LIMIT ?)`, max(keep, 1)).Scan(&oldest); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if oldest.Valid {
		if _, err := s.conn.ExecContext(ctx, `DELETE FROM rows WHERE k < ?`, rowKey(oldest.Int64, 0)); err != nil {
			return fmt.Errorf("state: %w", err)
		}
		if _, err := s.conn.ExecContext(ctx, `UPDATE runs SET pruned = 1 WHERE id < ? AND pruned = 0`, oldest.Int64); err != nil {
			return fmt.Errorf("state: %w", err)
		}
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

// LastMapping returns the identity mapping of the most recent run, before
// the one given, of a command that sends (run or sync); "" and false when
// there was none.
func (s *Store) LastMapping(before int64) (string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var m string
	err := s.conn.QueryRowContext(context.Background(),
		`SELECT mapping FROM runs WHERE id < ? AND command IN ('run', 'sync') AND mapping != '' ORDER BY id DESC LIMIT 1`, before).Scan(&m)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("state: %w", err)
	}
	return m, true, nil
}

// RunByID returns the run with that id; ErrNoRun if the state has none.
func (s *Store) RunByID(id int64) (Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runLocked(context.Background(), `WHERE id = ?`, id)
}

// Runs returns every run the state remembers, oldest first.
func (s *Store) Runs() ([]Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Run
	for after := int64(0); ; {
		r, err := s.runLocked(context.Background(), `WHERE id > ? ORDER BY id LIMIT 1`, after)
		if errors.Is(err, ErrNoRun) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out, after = append(out, r), r.ID
	}
}

func (s *Store) lastRunLocked(ctx context.Context) (Run, error) {
	return s.runLocked(ctx, `ORDER BY id DESC LIMIT 1`)
}

func (s *Store) runLocked(ctx context.Context, where string, args ...any) (Run, error) {
	var r Run
	var cols string
	var started int64
	var finished, exit sql.NullInt64
	var summary sql.NullString
	err := s.conn.QueryRowContext(ctx, `SELECT id, command, input, columns, mapping, api, started_at, finished_at, exit_code, summary, pruned FROM runs `+where, args...).
		Scan(&r.ID, &r.Command, &r.Input, &cols, &r.Mapping, &r.API, &started, &finished, &exit, &summary, &r.Pruned)
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
