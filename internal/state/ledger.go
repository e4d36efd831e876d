package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/provision/provision/internal/profile"
)

// dupOfSQL finds the first earlier row of the run with the same identity.
// It runs once per row, so it must be an index search: INDEXED BY makes the
// plan certain (without statistics the planner would walk the primary key).
const dupOfSQL = `SELECT line FROM rows INDEXED BY rows_identity_seq WHERE run_id = ? AND identity = ? AND seq < ? ORDER BY seq LIMIT 1`

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
		d = Decision{Status: profile.StatusInvalid, ErrorType: in.Problem.Rule, ErrorMessage: in.Problem.At(in.Line)}
		if in.Request.ExternalID != nil {
			// The export still names this user: a sync must not take a
			// row it cannot read for a user who left.
			identity = in.Request.Identity()
			if s.seen == nil || s.seen.run != runID {
				if err := s.loadSeen(runID); err != nil {
					return d, err
				}
			}
			s.seen.add(identity)
		}
	default:
		identity = in.Request.Identity()
		var err error
		if d, err = s.decide(runID, in, identity); err != nil {
			return d, err
		}
	}
	s.fieldBuf = encodeFields(s.fieldBuf, in.Fields)
	status := d.Status
	if d.Send {
		status = profile.StatusPending
	}
	if _, err := s.st.rowUpsert.Exec(runID, in.Seq, in.Line, nullable(identity), s.fieldBuf, string(status), d.ProfileID, d.ErrorType, d.ErrorMessage); err != nil {
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
			p := profile.DuplicateFor(in.Request, firstLine, s.version)
			return Decision{Status: profile.StatusInvalid, ErrorType: p.Rule, ErrorMessage: p.At(in.Line)}, nil
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
		return Decision{Send: true}, nil
	}

	e, err := s.entry(identity)
	if err != nil {
		return Decision{}, err
	}
	if !e.named {
		// An adopted profile that an export now names: a sync manages it.
		if _, err := s.st.ledgerNamed.Exec(identity); err != nil {
			return Decision{}, fmt.Errorf("state: %w", err)
		}
	}
	switch {
	case e.status == ledgerDeleted:
		// A sync deleted this user's profile and the user is back: a new
		// profile, sent as any new row is.
		if _, err := s.st.ledgerRevive.Exec(hash, string(body), s.now().UnixNano(), int64(s.attemptTimeout), runID, identity); err != nil {
			return Decision{}, fmt.Errorf("state: %w", err)
		}
		return Decision{Send: true}, nil
	case e.status == ledgerPending:
		return Decision{Status: profile.StatusPending, AttemptAt: time.Unix(0, e.attemptAt), AttemptTimeout: time.Duration(e.attemptTimeout), Sent: e.sent(),
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
		return Decision{Status: status, ProfileID: e.profileID, Known: e.sent(), Absent: e.absent}, nil
	}
	if e.hash != hash {
		return Decision{Status: status, ProfileID: e.profileID, ErrorType: profile.ErrorProfileChanged, ErrorMessage: changedMessage(in.Line, e, in.Request)}, nil
	}
	return Decision{Status: status, ProfileID: e.profileID}, nil
}

// Ledger entry statuses. A pending entry was (or is about to be) sent and
// its outcome is not known; a created one maps its identity to a profile.
const (
	ledgerPending = "pending"
	ledgerCreated = "created"
	ledgerDeleted = "deleted" // by a sync; the entry remembers it did
)

type entry struct {
	status, profileID, hash, request, createdAt, origin, absent string
	attemptAt, attemptTimeout, runID                            int64
	named                                                       bool
	others                                                      []string
}

func (s *Store) entry(identity string) (entry, error) {
	var e entry
	var others string
	if err := s.st.ledgerGet.QueryRow(identity).Scan(&e.status, &e.profileID, &e.hash, &e.request, &e.attemptAt, &e.attemptTimeout, &e.createdAt, &e.runID,
		&e.origin, &e.named, &others, &e.absent); err != nil {
		return e, fmt.Errorf("state: %w", err)
	}
	e.others = strings.Fields(others)
	return e, nil
}

// sent is the request the entry was last sent (or adopted) with.
func (e entry) sent() profile.Request {
	var r profile.Request
	_ = json.Unmarshal([]byte(e.request), &r)
	return r
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

// changedMessage names the fields whose values differ from those the
// profile holds, as far as the ledger knows.
func changedMessage(line int, e entry, now profile.Request) string {
	diff := profile.Changes(e.sent(), now)
	when := ""
	if e.createdAt != "" {
		when = " since " + e.createdAt
	}
	fields := strings.Join(diff, ", ")
	if fields == "" {
		fields = "the profile"
	}
	return fmt.Sprintf("line %d: %s: changed%s; run creates profiles and does not update them (provision sync does)", line, fields, when)
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
	return nil
}

func (s *Store) recordLocked(runID int64, o Outcome) error {
	var err error
	switch o.Status {
	case profile.StatusCreated:
		_, err = s.st.ledgerCreated.Exec(o.ProfileID, o.CreatedAt.UTC().Format(time.RFC3339Nano), runID, strings.Join(o.Others, " "), o.Identity)
	case profile.StatusFailed:
		_, err = s.st.ledgerDelete.Exec(o.Identity)
	case profile.StatusPending:
		if o.Release {
			_, err = s.st.ledgerDelete.Exec(o.Identity)
		}
	case profile.StatusUpdated, profile.StatusReactivated, profile.StatusSuspended:
		absent := ""
		if o.Status == profile.StatusSuspended {
			absent = "suspended"
		}
		var body []byte
		if body, err = json.Marshal(o.Want); err == nil {
			_, err = s.st.ledgerUpdated.Exec(string(body), o.Want.ContentHash(), absent, o.Identity)
		}
	case profile.StatusDeleted:
		_, err = s.st.ledgerDeleted.Exec(o.Identity)
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
	if _, err := s.st.rowOutcome.Exec(string(o.Status), o.ProfileID, o.ErrorType, o.ErrorMessage, o.Attempts, o.RequestID, o.RequestID, runID, o.Seq); err != nil {
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
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if _, err := s.st.ledgerRetry.Exec(s.now().UnixNano(), int64(s.attemptTimeout), string(body), req.ContentHash(), identity); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return nil
}
