package state

import (
	"fmt"

	"github.com/provision/provision/internal/profile"
)

// maxWaiting bounds the rows held with their outcome behind a row still in
// flight: past it they are written out of order (a slow request must not
// make the store hold the rows of a whole run).
const maxWaiting = 1024

// held are the rows of the run admitted to be sent and not written yet.
// A row to be sent is written once, with its first outcome: one statement,
// where an insert at admission and an update at the outcome were two. The
// rows are written in input order, as they were when admission wrote them
// (a row whose outcome comes early waits for the rows before it), so the
// rows' table is appended to rather than split. Anything that reads a
// run's rows first writes every held row (writeHeld(true)), those still in
// flight as pending with a place for the ids they will get. A process
// killed with rows held loses them; their ledger entries are pending, and
// the run that resumes admits every row again.
type held struct {
	rows    map[int64]*heldRow
	order   []int64 // keys in the order admitted; written ones are dropped from the front
	waiting int     // rows with an outcome, not written
}

// heldRow is a row as Admit saw it and, once recorded, its outcome.
type heldRow struct {
	line         int64 // less the sequence number, as stored
	fields       []byte
	done         bool
	status       profile.Status
	profileID    string
	requestID    string
	errorType    string
	errorMessage string
	attempts     int
}

// hold keeps row k (line less seq, encoded fields) until its outcome.
func (h *held) hold(k, line int64, fields []byte) {
	if h.rows == nil {
		h.rows = make(map[int64]*heldRow)
	}
	h.rows[k] = &heldRow{line: line, fields: append([]byte(nil), fields...)}
	h.order = append(h.order, k)
}

// line is the stored line of row k, if it is held.
func (h *held) line(k int64) (int64, bool) {
	if r, ok := h.rows[k]; ok {
		return r.line, true
	}
	return 0, false
}

// record gives held row k its outcome, as the rows' update would: the
// status, ids and error replaced, the attempts added, the request id kept
// when the outcome has none. It reports whether k was held.
func (h *held) record(k int64, o Outcome) bool {
	r, ok := h.rows[k]
	if !ok {
		return false
	}
	if !r.done {
		r.done = true
		h.waiting++
	}
	r.status, r.profileID, r.errorType, r.errorMessage = o.Status, o.ProfileID, o.ErrorType, o.ErrorMessage
	r.attempts += o.Attempts
	if o.RequestID != "" {
		r.requestID = o.RequestID
	}
	return true
}

// writeHeld writes the held rows that may be written: those with an
// outcome and no row before them still in flight, or past maxWaiting every
// row with an outcome; with all, every held row (pending if in flight).
// The caller holds s.mu.
func (s *Store) writeHeld(all bool) error {
	h := &s.held
	// The rows ready in input order: the front of the queue.
	n := 0
	for n < len(h.order) && (all || h.rows[h.order[n]].done) {
		n++
	}
	if n == 0 && (all || h.waiting <= maxWaiting) {
		return nil
	}
	if err := s.begin(); err != nil {
		return err
	}
	for i, k := range h.order[:n] {
		if err := s.writeHeldOne(k); err != nil {
			h.order = h.order[i:]
			return err
		}
	}
	h.order = h.order[n:]
	if h.waiting <= maxWaiting {
		return nil
	}
	// Too many wait behind a row in flight: write them out of order.
	kept := h.order[:0]
	for i, k := range h.order {
		if !h.rows[k].done {
			kept = append(kept, k)
			continue
		}
		if err := s.writeHeldOne(k); err != nil {
			h.order = append(kept, h.order[i:]...)
			return err
		}
	}
	h.order = kept
	return nil
}

// writeHeldOne writes held row k and lets it go.
func (s *Store) writeHeldOne(k int64) error {
	r := s.held.rows[k]
	if err := s.writeHeldRow(k, r); err != nil {
		return err
	}
	delete(s.held.rows, k)
	if r.done {
		s.held.waiting--
	}
	return nil
}

func (s *Store) writeHeldRow(k int64, r *heldRow) error {
	status, pid, rid := profile.StatusPending, any(noID), any(noID)
	if r.done {
		s.idBuf = packID(s.idBuf, r.profileID)
		s.ridBuf = packID(s.ridBuf, r.requestID)
		status, pid, rid = r.status, nullBytes(s.idBuf), nullBytes(s.ridBuf)
	}
	if _, err := s.st.rowUpsert.Exec(k, r.line, statusCode(status), pid, rid,
		nullable(r.errorType), nullable(r.errorMessage), r.fields, r.attempts); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return nil
}
