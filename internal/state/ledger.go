package state

import (
	"fmt"
	"strings"
	"time"

	"github.com/provision/provision/internal/profile"
)

// Input is one input row handed to Admit.
type Input struct {
	Seq     int64 // position in the input, from 1
	Line    int
	Fields  []profile.Field
	Request profile.Request
	Problem *profile.Problem // set: the row is invalid
	// Sync: a row whose profile holds other data is left to the caller to
	// update (Decision.Known), not marked profile_changed.
	Sync bool
}

// Decision is what Admit decided for a row.
type Decision struct {
	// Send: the row is new and is now pending in the ledger; send it once
	// the batch is committed. Otherwise Status says what it is.
	Send bool
	// Status: invalid, skipped, created (earlier in this run) or pending
	// (parked: an earlier attempt's outcome is unknown).
	Status       profile.Status
	ProfileID    string
	ErrorType    string
	ErrorMessage string
	// For a sync, of a row whose identity has a profile: what the ledger
	// knows the profile holds, and what a sync did to it (suspended).
	Known  profile.Request
	Absent string
	// For parked rows: when the unresolved attempt was made, the request
	// timeout of the process that made it (0 when not recorded), and the
	// request it sent, which is what reconciliation must look for (the
	// export may have changed since).
	AttemptAt      time.Time
	AttemptTimeout time.Duration
	Sent           profile.Request
}

// lineDelta is the stored line (less the sequence number) of row seq of
// the run, held or written.
func (s *Store) lineDelta(runID, seq int64) (int64, error) {
	if line, ok := s.held.line(rowKey(runID, seq)); ok {
		return line, nil
	}
	var delta int64
	if err := s.st.rowLine.QueryRow(rowKey(runID, seq)).Scan(&delta); err != nil {
		return 0, fmt.Errorf("state: %w", err)
	}
	return delta, nil
}

// Admit records an input row in the run and decides its fate from the
// ledger: invalid, duplicate of an earlier row, provisioned before, parked
// (an earlier attempt's outcome is unknown) or to be sent. A row to be sent is
// marked pending in the ledger within the same transaction, so once the
// caller has committed, the row is durably pending before its request goes
// out; the row itself is written with its first outcome (see held).
func (s *Store) Admit(runID int64, in Input) (Decision, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin(); err != nil {
		return Decision{}, err
	}
	if in.Seq < 1 || in.Seq > maxSeq {
		return Decision{}, fmt.Errorf("state: row %d: a run holds at most %d rows", in.Seq, int64(maxSeq))
	}
	set, err := s.runSetLocked(runID)
	if err != nil {
		return Decision{}, err
	}
	var d Decision
	switch {
	case in.Problem != nil:
		d = Decision{Status: profile.StatusInvalid, ErrorType: in.Problem.Rule, ErrorMessage: in.Problem.At(in.Line)}
		if in.Request.ExternalID != nil {
			// The export still names this user: a sync must not take a
			// row it cannot read for a user who left.
			if _, err := set.add(uint64(identOf(keyOf(in.Request.Identity()))), in.Seq); err != nil {
				return d, fmt.Errorf("state: %w", err)
			}
		}
	default:
		if d, err = s.decide(runID, set, in, keyOf(in.Request.Identity())); err != nil {
			return d, err
		}
	}
	s.fieldBuf = encodeFields(s.fieldBuf, in.Fields, s.columns)
	if d.Send {
		s.held.hold(rowKey(runID, in.Seq), int64(in.Line)-in.Seq, s.fieldBuf)
		return d, nil
	}
	s.idBuf = packID(s.idBuf, d.ProfileID)
	if _, err := s.st.rowUpsert.Exec(rowKey(runID, in.Seq), int64(in.Line)-in.Seq, statusCode(d.Status), nullBytes(s.idBuf), nil,
		nullable(d.ErrorType), nullable(d.ErrorMessage), s.fieldBuf, 0); err != nil {
		return d, fmt.Errorf("state: %w", err)
	}
	return d, nil
}

func (s *Store) decide(runID int64, set *runSet, in Input, key string) (Decision, error) {
	ident := uint64(identOf(key))
	first, err := set.add(ident, in.Seq)
	if err != nil {
		return Decision{}, fmt.Errorf("state: %w", err)
	}
	if first != in.Seq {
		delta, err := s.lineDelta(runID, first)
		if err != nil {
			return Decision{}, err
		}
		p := profile.DuplicateFor(in.Request, int(first+delta), s.version)
		return Decision{Status: profile.StatusInvalid, ErrorType: p.Rule, ErrorMessage: p.At(in.Line)}, nil
	}
	if in.Request.ExternalID != nil {
		set.noteVariant(key, ident, in.Seq)
	}

	s.contentBuf = profile.AppendDigest(s.contentBuf[:0], in.Request)
	now := s.now().UnixMilli()
	res, err := s.st.ledgerPending.Exec(key, noID, s.contentBuf, now, s.attemptTimeout.Milliseconds(), runID)
	if err != nil {
		return Decision{}, fmt.Errorf("state: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return Decision{}, fmt.Errorf("state: %w", err)
	} else if n == 1 {
		return Decision{Send: true}, nil
	}

	e, err := s.entry(key)
	if err != nil {
		return Decision{}, err
	}
	if !e.named {
		// An adopted profile that an export now names: a sync manages it.
		if _, err := s.st.ledgerNamed.Exec(key); err != nil {
			return Decision{}, fmt.Errorf("state: %w", err)
		}
	}
	switch {
	case e.status == ledgerDeleted:
		// A sync deleted this user's profile and the user is back: a new
		// profile, sent as any new row is.
		if _, err := s.st.ledgerRevive.Exec(noID, s.contentBuf, now, s.attemptTimeout.Milliseconds(), runID, key); err != nil {
			return Decision{}, fmt.Errorf("state: %w", err)
		}
		return Decision{Send: true}, nil
	case e.status == ledgerPending:
		return Decision{Status: profile.StatusPending, AttemptAt: time.UnixMilli(e.attemptAt), AttemptTimeout: time.Duration(e.attemptTimeout) * time.Millisecond, Sent: e.content,
			ErrorType: profile.ErrorOutcomeUnknown, ErrorMessage: "an earlier attempt's outcome is unknown; it is reconciled before anything is sent again"}, nil
	case len(e.others) > 0:
		ids := append([]string{e.profileID}, e.others...)
		return Decision{Status: profile.StatusSkipped, ProfileID: e.profileID, ErrorType: profile.ErrorMultipleMatch,
			ErrorMessage: fmt.Sprintf("line %d: %d profiles hold this identity: %s; nothing is sent for it until all but one are deleted (then run provision adopt)",
				in.Line, len(ids), strings.Join(ids, ", "))}, nil
	}
	status := profile.StatusSkipped
	if e.runID == runID {
		status = profile.StatusCreated // by an earlier process of this same run
	}
	if in.Sync {
		return Decision{Status: status, ProfileID: e.profileID, Known: e.content, Absent: e.absentWord()}, nil
	}
	if string(e.raw) != string(s.contentBuf) {
		return Decision{Status: status, ProfileID: e.profileID, ErrorType: profile.ErrorProfileChanged, ErrorMessage: changedMessage(in.Line, e, in.Request)}, nil
	}
	return Decision{Status: status, ProfileID: e.profileID}, nil
}

type entry struct {
	status, origin, absent    int
	profileID                 string
	raw                       []byte          // the content's digest as stored
	content                   profile.Request // the same, parsed
	attemptAt, attemptTimeout int64           // ms
	runID                     int64
	named                     bool
	others                    []string
}

func (s *Store) entry(key string) (entry, error) {
	var e entry
	var pid []byte
	var others string
	if err := s.st.ledgerGet.QueryRow(key).Scan(&e.status, &pid, &e.raw, &e.attemptAt, &e.attemptTimeout, &e.runID,
		&e.origin, &e.named, &others, &e.absent); err != nil {
		return e, fmt.Errorf("state: %w", err)
	}
	e.profileID = unpackID(pid)
	e.others = strings.Fields(others)
	var err error
	if e.content, err = profile.ParseDigest(e.raw, externalID(key)); err != nil {
		return e, fmt.Errorf("state: ledger entry %q: %w", key, err)
	}
	return e, nil
}

// absentWord is what a sync did to the entry's profile, as Decision.Absent
// says it.
func (e entry) absentWord() string {
	switch e.absent {
	case absentSuspended:
		return "suspended"
	case absentDeleted:
		return "deleted"
	}
	return ""
}

// changedMessage names the fields whose values differ from those the
// profile holds, as far as the ledger knows.
func changedMessage(line int, e entry, now profile.Request) string {
	fields := strings.Join(profile.Changes(e.content, now), ", ")
	if fields == "" {
		fields = "the profile"
	}
	return fmt.Sprintf("line %d: %s: changed; run creates profiles and does not update them (provision sync does)", line, fields)
}

// Outcome is what became of a row that was sent (or reconciled).
type Outcome struct {
	Seq          int64
	Identity     string
	Status       profile.Status // created, failed or pending
	ProfileID    string
	CreatedAt    time.Time
	ErrorType    string
	ErrorMessage string
	RequestID    string
	Attempts     int // requests sent for this outcome, added to the row's count
	// Others are further profiles found holding the identity (created:
	// reconciliation found several); the ledger remembers them.
	Others []string
	// Want is what the profile holds after an update (updated, suspended,
	// reactivated): the ledger's knowledge of the org moves with it.
	Want profile.Request
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
	// The held rows these outcomes made ready are written once, together.
	return s.writeHeld(false)
}

func (s *Store) recordLocked(runID int64, o Outcome) error {
	var err error
	key := keyOf(o.Identity)
	switch o.Status {
	case profile.StatusCreated:
		s.idBuf = packID(s.idBuf, o.ProfileID)
		others := strings.Join(o.Others, " ")
		_, err = s.st.ledgerCreated.Exec(nullBytes(s.idBuf), runID, nullable(others), key)
	case profile.StatusFailed:
		_, err = s.st.ledgerDelete.Exec(key)
	case profile.StatusPending:
		if o.Release {
			_, err = s.st.ledgerDelete.Exec(key)
		}
	case profile.StatusUpdated, profile.StatusReactivated, profile.StatusSuspended:
		absent := absentNone
		if o.Status == profile.StatusSuspended {
			absent = absentSuspended
		}
		s.contentBuf = profile.AppendDigest(s.contentBuf[:0], o.Want)
		_, err = s.st.ledgerUpdated.Exec(s.contentBuf, absent, key)
	case profile.StatusDeleted:
		_, err = s.st.ledgerDeleted.Exec(key)
	case profile.StatusSkipped, profile.StatusAbsent:
		// Only the row changes: a sync left the profile as it is.
	default:
		return fmt.Errorf("state: cannot record status %q", o.Status)
	}
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if o.Seq == 0 {
		return nil // an entry no row of this run names (see PendingOutside)
	}
	if s.held.record(rowKey(runID, o.Seq), o) {
		return nil // written by RecordAll, in input order
	}
	s.idBuf = packID(s.idBuf, o.ProfileID)
	s.ridBuf = packID(s.ridBuf, o.RequestID)
	if _, err := s.st.rowOutcome.Exec(statusCode(o.Status), nullBytes(s.idBuf), nullable(o.ErrorType), nullable(o.ErrorMessage), o.Attempts,
		nullBytes(s.ridBuf), rowKey(runID, o.Seq)); err != nil {
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

// Resend marks a parked row as about to be sent again with req, after
// reconciliation found no profile for it: its attempt time moves forward,
// since every older attempt is now known to have created nothing, and the
// ledger keeps req, since that is what a later reconciliation must match.
func (s *Store) Resend(identity string, req profile.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin(); err != nil {
		return err
	}
	s.contentBuf = profile.AppendDigest(s.contentBuf[:0], req)
	if _, err := s.st.ledgerRetry.Exec(s.now().UnixMilli(), s.attemptTimeout.Milliseconds(), s.contentBuf, keyOf(identity)); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return nil
}
