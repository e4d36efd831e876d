package profile

import "fmt"

// Status is what became of one input row (or, in a sync, of one managed
// profile the export no longer names). It is the one vocabulary that the
// state stores, the job decides and the report writes; the report's status
// column is its string.
type Status string

// Every status, in the order reports and summaries list them.
const (
	StatusCreated     Status = "created"     // created by this run; the id is given
	StatusUpdated     Status = "updated"     // sync: changed fields sent; the id is given
	StatusSkipped     Status = "skipped"     // provisioned earlier, or unchanged in a sync; the id is given
	StatusSuspended   Status = "suspended"   // sync --absent suspend: no longer in the export
	StatusReactivated Status = "reactivated" // sync: a suspended profile whose user came back
	StatusDeleted     Status = "deleted"     // sync --absent delete: no longer in the export
	StatusAbsent      Status = "absent"      // sync --absent ignore: no longer in the export, left alone
	StatusInvalid     Status = "invalid"     // broke a rule; nothing was sent
	StatusFailed      Status = "failed"      // the API refused it, or retries ran out
	StatusPending     Status = "pending"     // outcome unknown, or not sent; the next run resolves it
	StatusValid       Status = "valid"       // validate only: the row would be sent
)

// Statuses returns every status in the order reports and summaries list them.
func Statuses() []Status {
	return []Status{StatusCreated, StatusUpdated, StatusSkipped, StatusSuspended, StatusReactivated, StatusDeleted,
		StatusAbsent, StatusInvalid, StatusFailed, StatusPending, StatusValid}
}

// ParseStatus returns the status named s, as stored or written.
func ParseStatus(s string) (Status, error) {
	for _, st := range Statuses() {
		if string(st) == s {
			return st, nil
		}
	}
	return "", fmt.Errorf("unknown status %q", s)
}

// NeedsAttention reports whether a row with this status leaves the run
// unfinished: exit code 1 rather than 0.
func (s Status) NeedsAttention() bool {
	switch s {
	case StatusInvalid, StatusFailed, StatusPending:
		return true
	case StatusCreated, StatusUpdated, StatusSkipped, StatusSuspended, StatusReactivated, StatusDeleted, StatusAbsent, StatusValid:
		return false
	}
	panic("profile: status without a decision: " + string(s))
}

// Error types that are not rules of a request: what the org's truth, a
// sync and reconciliation report. Rules of a request are Rule* in rules.go.
const (
	ErrorProfileChanged  = "profile_changed"         // skipped, but the row's data differ from the profile's
	ErrorMultipleMatch   = "multiple_profiles_match" // several profiles hold this identity; nothing is sent
	ErrorDuplicate       = "duplicate_detected"      // a second profile appeared for an identity the ledger maps
	ErrorOutcomeUnknown  = "outcome_unknown"         // an earlier attempt's outcome is unknown; reconciled first
	ErrorNotSent         = "not_sent"                // the run stopped before sending the row
	ErrorAbsentThreshold = "absent_threshold"        // sync: held back by --max-absent
	ErrorCannotClear     = "cannot_clear"            // sync: a GA detail cannot be cleared once set
)

// ErrorNeedsAttention reports whether an error type on an otherwise settled row
// still calls for a person: the run exits 1.
func ErrorNeedsAttention(errorType string) bool {
	switch errorType {
	case ErrorMultipleMatch, ErrorDuplicate, ErrorAbsentThreshold:
		return true
	}
	return false
}
