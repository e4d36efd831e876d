// Package reconcile resolves creates whose outcome is unknown. The API has
// no idempotency key and no filter by external_id, so the only way to learn
// whether a timed-out create made a profile is to list the profiles created
// since the attempt, newest first, and match them to the parked rows. One
// pass serves a whole batch of parked rows, and stops at the oldest attempt.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/provision/provision/internal/client"
	"github.com/provision/provision/internal/governor"
	"github.com/provision/provision/internal/profile"
)

// Lister lists profiles newest first.
type Lister interface {
	ListNewest(ctx context.Context, cursor string, limit int) (client.Page, client.Result)
}

// Pacer is the governor shared with the workers.
type Pacer interface {
	Wait(ctx context.Context) error
	Observe(governor.Signal)
}

// Parked is a row whose create may or may not have made a profile.
type Parked struct {
	Seq       int64
	Line      int
	Identity  string
	Request   profile.Request
	AttemptAt time.Time // local time the unresolved request was sent (or first marked pending)
}

// Stats is the cost and yield of one pass.
type Stats struct {
	Pages    int // list requests made
	Listed   int // profiles looked at
	Found    int // parked rows matched to exactly one profile
	Multiple int // parked rows matched to more than one profile
	NotFound int // parked rows with no profile: safe to send again
}

// Reconciler lists and matches.
type Reconciler struct {
	Lister Lister
	Pacer  Pacer
	// Margin is subtracted from the oldest attempt time to allow for the
	// difference between this machine's clock and the server's, after
	// Offset has been added.
	Margin time.Duration
	// Offset returns the estimated server-minus-local clock offset and
	// whether there is an estimate; without one, only Margin applies.
	Offset func() (time.Duration, bool)
	// PageSize is the list limit; 0 = 100 (the API's maximum).
	PageSize int
	// MaxErrors bounds consecutive failed list requests before giving up.
	MaxErrors int
	Now       func() time.Time
}

// ErrFatal wraps a list failure that must stop the job (credentials refused).
var ErrFatal = errors.New("reconciliation stopped")

// Run lists profiles back to the oldest attempt of the batch and returns,
// for each parked row (by Seq), every profile that matches it exactly:
// none means nothing was created and the row is safe to send again; more
// than one means duplicates exist (made earlier, perhaps by another tool),
// which the caller reports rather than hides.
func (r *Reconciler) Run(ctx context.Context, batch []Parked) (map[int64][]profile.Profile, Stats, error) {
	var st Stats
	found := make(map[int64][]profile.Profile, len(batch))
	if len(batch) == 0 {
		return found, st, nil
	}
	byIdentity := make(map[string][]int, len(batch))
	oldest := batch[0].AttemptAt
	for i, p := range batch {
		byIdentity[p.Identity] = append(byIdentity[p.Identity], i)
		if p.AttemptAt.Before(oldest) {
			oldest = p.AttemptAt
		}
	}
	shift := -r.Margin
	if r.Offset != nil {
		if off, ok := r.Offset(); ok {
			shift += off
		}
	}
	cutoff := oldest.Add(shift)
	limit := r.PageSize
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	maxErrors := r.MaxErrors
	if maxErrors <= 0 {
		maxErrors = 8
	}
	now := r.Now
	if now == nil {
		now = time.Now
	}

	cursor, failures := "", 0
	for {
		if err := r.Pacer.Wait(ctx); err != nil {
			return found, st, err
		}
		page, res := r.Lister.ListNewest(ctx, cursor, limit)
		st.Pages++
		r.Pacer.Observe(governor.ParseHeaders(res.Header, res.Status, now()))
		if res.Kind != client.Created {
			if res.Kind == client.Fatal {
				return found, st, fmt.Errorf("%w: %s", ErrFatal, res.Message)
			}
			failures++
			if failures >= maxErrors || ctx.Err() != nil {
				return found, st, fmt.Errorf("listing profiles failed %d times, last: %s", failures, res.Message)
			}
			sig := governor.ParseHeaders(res.Header, res.Status, now())
			if governor.Sleep(ctx, governor.Backoff(failures, 200*time.Millisecond, 10*time.Second, sig.RetryAfter, 0.5)) != nil {
				return found, st, ctx.Err()
			}
			continue // a list is safe to repeat
		}
		failures = 0
		done := false
		for _, p := range page.Data {
			st.Listed++
			if p.CreatedAt.Before(cutoff) {
				done = true // newest first: everything after this is older still
				break
			}
			for _, i := range byIdentity[identityOf(p)] {
				b := batch[i]
				if b.Request.Matches(p) && !p.CreatedAt.Before(b.AttemptAt.Add(shift)) {
					found[b.Seq] = append(found[b.Seq], p)
				}
			}
		}
		if done || page.NextPage == nil || *page.NextPage == "" {
			break
		}
		cursor = *page.NextPage
	}
	for _, b := range batch {
		switch n := len(found[b.Seq]); {
		case n == 0:
			st.NotFound++
		case n == 1:
			st.Found++
		default:
			st.Multiple++
		}
	}
	return found, st, nil
}

// identityOf is the ledger identity a profile would have had as a request.
func identityOf(p profile.Profile) string { return p.Request().Identity() }
