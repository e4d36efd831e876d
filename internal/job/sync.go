package job

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/provision/provision/internal/client"
	"github.com/provision/provision/internal/governor"
	"github.com/provision/provision/internal/profile"
	"github.com/provision/provision/internal/state"
	"github.com/provision/provision/internal/worker"
)

// Absent is what a sync does to a managed profile the export no longer
// names.
type Absent string

// The --absent policies.
const (
	AbsentIgnore  Absent = "ignore"  // report it, touch nothing
	AbsentSuspend Absent = "suspend" // set account_status suspended (GA only)
	AbsentDelete  Absent = "delete"  // delete the profile
)

// ParseAbsent reads an --absent value.
func ParseAbsent(s string) (Absent, error) {
	switch a := Absent(s); a {
	case AbsentIgnore, AbsentSuspend, AbsentDelete:
		return a, nil
	}
	return "", fmt.Errorf("--absent %q: use ignore, suspend or delete", s)
}

// Limit is --max-absent: a number of profiles, or a percentage of the
// managed ones.
type Limit struct {
	N       int
	Percent float64 // used when N < 0
}

// ParseLimit reads "N" or "P%".
func ParseLimit(s string) (Limit, error) {
	if p, ok := strings.CutSuffix(strings.TrimSpace(s), "%"); ok {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || f < 0 || f > 100 {
			return Limit{}, fmt.Errorf("--max-absent %q: a percentage is 0%% to 100%%", s)
		}
		return Limit{N: -1, Percent: f}, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return Limit{}, fmt.Errorf("--max-absent %q: use a number of profiles (e.g. 50) or a percentage of the managed ones (e.g. 5%%)", s)
	}
	return Limit{N: n}, nil
}

// Of is the limit for a state that manages managed profiles.
func (l Limit) Of(managed int) int {
	if l.N >= 0 {
		return l.N
	}
	return int(math.Floor(float64(managed) * l.Percent / 100))
}

func (l Limit) String() string {
	if l.N >= 0 {
		return strconv.Itoa(l.N)
	}
	return strconv.FormatFloat(l.Percent, 'f', -1, 64) + "%"
}

// syncRow decides what a sync does with a row whose identity has a
// profile: nothing (settled now), or an update task. A profile a sync
// suspended is set active again, unless the row says otherwise.
func (r *runner) syncRow(seq int64, line int, row profile.Request, d state.Decision) (worker.Task, bool) {
	status := profile.StatusUpdated
	if d.Absent == "suspended" && row.AccountStatus == nil && r.cfg.Version.Accepts("account_status") {
		row.AccountStatus = profile.Str(string(profile.AccountActive))
		status = profile.StatusReactivated
	}
	u := profile.Diff(d.Known, row, r.cfg.Version)
	identity := row.Identity()
	note, errType := "", ""
	if len(u.Uncleared) > 0 {
		errType = profile.ErrorCannotClear
		note = fmt.Sprintf("line %d: %s: empty in the export, but the API cannot clear it once set; the profile keeps its value", line, strings.Join(u.Uncleared, ", "))
	}
	if u.Empty() {
		if errType != "" {
			r.record(state.Outcome{Seq: seq, Identity: identity, Status: d.Status, ProfileID: d.ProfileID, ErrorType: errType, ErrorMessage: note})
		}
		r.cfg.Progress.Add(d.Status)
		return worker.Task{}, true
	}
	changed := "changed: " + strings.Join(u.Fields, ", ")
	if note != "" {
		changed += "; " + note
	}
	return worker.Task{Seq: seq, Line: line, Identity: identity, Request: u.Want, Op: worker.OpUpdate, ProfileID: d.ProfileID,
		Body: u.Body(r.cfg.Version), Status: status, Note: changed, ErrType: errType}, false
}

// absentees handles the managed profiles that no row of this sync named,
// after the last row: each gets a report row past the input's (seq on from
// the last row's) and, by the --absent policy and within --max-absent, a
// suspension or a deletion handed to add. It returns the last seq used.
func (r *runner) absentees(ctx context.Context, seq int64, add func(worker.Task) error) (int64, error) {
	st := r.cfg.Store
	absent, suspended, err := st.CountAbsent(r.run.ID)
	if err != nil || absent == 0 {
		return seq, err
	}
	managed, err := st.Managed()
	if err != nil {
		return seq, err
	}
	acting := 0
	switch r.cfg.Absent {
	case AbsentSuspend:
		acting = absent - suspended
	case AbsentDelete:
		acting = absent
	case AbsentIgnore:
	}
	limit := r.cfg.MaxAbsent.Of(managed)
	hold := acting > limit
	verb := strings.TrimSuffix(string(r.cfg.Absent), "e") + "ed" // suspended, deleted
	if hold {
		r.log.Warn("the safeguard holds every absent profile: more would go than --max-absent allows", "would_be_"+verb, acting,
			"managed", managed, "max_absent", r.cfg.MaxAbsent.String(), "limit", limit)
	} else {
		r.log.Info("managed profiles the export no longer names", "absent", absent, "policy", string(r.cfg.Absent), "acting", acting)
	}
	column := r.cfg.IdentityColumn
	if column == "" {
		column = "external_id"
	}
	err = st.EachAbsent(ctx, r.run.ID, func(a state.Absentee) error {
		seq++
		status, errType, msg := profile.StatusAbsent, "", ""
		var task *worker.Task
		switch {
		case r.cfg.Absent == AbsentIgnore:
			msg = "no longer in the export; left as it is (--absent ignore)"
		case r.cfg.Absent == AbsentSuspend && a.Suspended:
			msg = "no longer in the export; suspended by an earlier sync"
		case hold:
			errType = profile.ErrorAbsentThreshold
			msg = fmt.Sprintf("held back: %d managed profiles of %d would be %s, more than --max-absent %s allows (%d); raise --max-absent if the export is right",
				acting, managed, verb, r.cfg.MaxAbsent, limit)
		case r.cfg.Absent == AbsentSuspend:
			u := profile.Suspend(a.Known, profile.AccountSuspended)
			task = &worker.Task{Seq: seq, Identity: a.Identity, Request: u.Want, Op: worker.OpUpdate, ProfileID: a.ProfileID,
				Body: u.Body(r.cfg.Version), Status: profile.StatusSuspended, Note: "no longer in the export: account_status suspended"}
		case r.cfg.Absent == AbsentDelete:
			task = &worker.Task{Seq: seq, Identity: a.Identity, Op: worker.OpDelete, ProfileID: a.ProfileID,
				Status: profile.StatusDeleted, Note: "no longer in the export: deleted"}
		}
		if task != nil {
			if err := st.AddAbsentRow(r.run.ID, seq, a, column, profile.StatusPending, "", "not sent yet"); err != nil {
				return err
			}
			return add(*task)
		}
		if err := st.AddAbsentRow(r.run.ID, seq, a, column, status, errType, msg); err != nil {
			return err
		}
		r.cfg.Progress.Add(status)
		return nil
	})
	return seq, err
}

// settleWrite records the outcome of an update or a delete. Both are safe
// to send again, so the pool has retried unknown outcomes; what is left is
// done, refused, or not sent.
func (r *runner) settleWrite(d worker.Done) {
	res := d.Result
	o := state.Outcome{Seq: d.Seq, Identity: d.Identity, Attempts: d.Attempts, RequestID: res.RequestID, ProfileID: d.ProfileID}
	switch {
	case d.Attempts == 0 || d.Stopped:
		o.Status, o.ErrorType = profile.StatusPending, profile.ErrorNotSent
		o.ErrorMessage = "the sync stopped before this change was sent; the next sync sends it"
	case res.Kind == client.Created:
		o.Status, o.Want, o.ErrorType, o.ErrorMessage = d.Task.Status, d.Request, d.ErrType, d.Note
	default:
		o.Status, o.ErrorType, o.ErrorMessage = profile.StatusFailed, res.ErrorType, res.Message
		if res.Kind == client.Retry || res.Kind == client.Unknown {
			o.ErrorMessage = fmt.Sprintf("gave up after %d attempts: %s", d.Attempts, res.Message)
		}
	}
	r.record(o)
	r.finish(o.Status)
	if o.Status == profile.StatusFailed {
		r.failed(res)
	}
}

// unpaced is the pacer of a plan, whose writes never leave.
type unpaced struct{}

func (unpaced) Wait(ctx context.Context) error { return ctx.Err() }
func (unpaced) Observe(governor.Signal)        {}
