// Package reconcile reads the org back. The API has no idempotency key and
// no filter by external_id, so the only way to learn whether a timed-out
// create made a profile, or what profiles the org already holds, is to list
// them, newest first. Walk pages through that listing, paced by the shared
// governor; Reconciler matches a batch of parked rows against it, in one
// pass that stops at the oldest attempt.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/provision/provision/internal/client"
	"github.com/provision/provision/internal/governor"
	"github.com/provision/provision/internal/profile"
)

// Lister lists profiles newest first.
type Lister interface {
	ListNewest(ctx context.Context, cursor string, limit int) (client.Page, client.Result)
}

// Pacer is the governor shared by every sender.
type Pacer = governor.Pacer

// ErrFatal wraps a list failure that must stop the job (credentials refused).
var ErrFatal = errors.New("listing stopped")

// Walker pages through the org's profiles, newest first.
type Walker struct {
	Lister Lister
	Pacer  Pacer
	// PageSize is the list limit; 0 = 100 (the API's maximum).
	PageSize int
	// MaxErrors bounds consecutive failed list requests before giving up.
	MaxErrors int
	// Clock, when set, sees every answer's headers and the local time it
	// arrived: its Date header measures the server's clock.
	Clock func(h http.Header, received time.Time)
	// Brief, when set, names profiles the caller only counts: they are
	// handed over holding only ID, ExternalID and CreatedAt, undecoded
	// otherwise (client.Page.Decode).
	Brief func(profile.Profile) bool
	Now   func() time.Time
}

// WalkStats is the cost of one walk.
type WalkStats struct {
	Pages  int // list requests that succeeded
	Listed int // profiles looked at
}

// Walk calls fn with each page, newest first, until fn returns done, the
// listing ends, or ctx ends. A failed list request is repeated (listing is
// safe to repeat) with backoff, up to MaxErrors in a row. The next page is
// requested as soon as this one's cursor is read, before it is decoded,
// so the server renders a page while the last is decoded and recorded;
// when fn returns done, that page is dropped.
func (w *Walker) Walk(ctx context.Context, fn func(page []profile.Profile) (done bool, err error)) (WalkStats, error) {
	return w.walk(ctx, nil, fn)
}

// Since walks the profiles created at or after since (server time), and
// stops at the first older one. since is read as each page arrives. The
// next page is requested before this one is decoded only when this one's
// last (oldest) profile is not older than since: a walk whose pages are in
// order never asks for a page it does not use.
func (w *Walker) Since(ctx context.Context, since func() time.Time, fn func(page []profile.Profile) error) (WalkStats, error) {
	return w.walk(ctx, since, func(page []profile.Profile) (bool, error) { return false, fn(page) })
}

// fetched is one page, or why there is none.
type fetched struct {
	page client.Page
	err  error
}

// fetching is one page on its way: head as soon as the answer is in (its
// cursor and Oldest readable), page once it is decoded, in the goroutine
// that fetched it.
type fetching struct {
	head, page chan fetched
}

// walk pages through the listing. With since set, each page is cut at its
// first profile older than since, and that page is the last one wanted.
// The next page is asked for as soon as this one's head is in, so a
// walk's requests, which follow one another (each needs the last one's
// cursor), are not held up by decoding; each page is decoded by the
// goroutine that fetched it, while the caller handles the one before.
func (w *Walker) walk(ctx context.Context, since func() time.Time, fn func([]profile.Profile) (bool, error)) (WalkStats, error) {
	var st WalkStats
	fetchCtx, cancel := context.WithCancel(ctx)
	var inflight []*fetching // oldest first: at most this page and the next
	start := func(cursor string) *fetching {
		f := &fetching{head: make(chan fetched, 1), page: make(chan fetched, 1)}
		inflight = append(inflight, f)
		go func() {
			page, err := w.fetch(fetchCtx, cursor)
			f.head <- fetched{page, err}
			if err == nil {
				if err = page.Decode(w.Brief); err != nil {
					err = fmt.Errorf("listing profiles: %w", err)
				}
			}
			f.page <- fetched{page, err}
		}()
		return f
	}
	defer func() {
		cancel()
		for _, f := range inflight {
			<-f.page // no request of this walk outlives it
		}
	}()
	cur := start("")
	for {
		h := <-cur.head
		if h.err != nil {
			return st, h.err
		}
		last := h.page.NextPage == nil || *h.page.NextPage == ""
		var cutAt time.Time
		if since != nil {
			cutAt = since()
		}
		var next *fetching
		if !last {
			if oldest, ok := h.page.Oldest(); ok && (since == nil || !oldest.Before(cutAt)) {
				next = start(*h.page.NextPage)
			}
		}
		f := <-cur.page
		inflight = inflight[1:]
		if f.err != nil {
			return st, f.err
		}
		st.Pages++
		st.Listed += len(f.page.Data)
		data := f.page.Data
		if since != nil {
			for i, p := range data {
				if p.CreatedAt.Before(cutAt) {
					data, last = data[:i], true // newest first: everything after is older still
					break
				}
			}
		}
		if !last && next == nil {
			next = start(*h.page.NextPage)
		}
		done, err := fn(data)
		if err != nil || done || last {
			return st, err
		}
		cur = next
	}
}

// fetch requests one page, repeating a failed request with backoff.
func (w *Walker) fetch(ctx context.Context, cursor string) (client.Page, error) {
	limit := w.PageSize
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	maxErrors := w.MaxErrors
	if maxErrors <= 0 {
		maxErrors = 8
	}
	now := w.Now
	if now == nil {
		now = time.Now
	}
	for failures := 0; ; {
		if err := w.Pacer.Wait(ctx); err != nil {
			return client.Page{}, err
		}
		page, res := w.Lister.ListNewest(ctx, cursor, limit)
		received := now()
		sig := governor.ParseHeaders(res.Header, res.Status, received)
		w.Pacer.Observe(sig)
		if w.Clock != nil && res.Header != nil {
			w.Clock(res.Header, received)
		}
		if res.Kind == client.Created {
			return page, nil
		}
		if res.Kind == client.Fatal {
			return client.Page{}, fmt.Errorf("%w: %s", ErrFatal, res.Message)
		}
		failures++
		if failures >= maxErrors || ctx.Err() != nil {
			return client.Page{}, fmt.Errorf("listing profiles failed %d times, last: %s", failures, res.Message)
		}
		if governor.Sleep(ctx, governor.Backoff(failures, 200*time.Millisecond, 10*time.Second, sig.RetryAfter, 0.5)) != nil {
			return client.Page{}, ctx.Err()
		}
	}
}

// Parked is a row whose create may or may not have made a profile.
type Parked struct {
	Seq       int64
	Line      int
	Identity  string
	Request   profile.Request // what was sent: what the profile would hold
	AttemptAt time.Time       // local time the unresolved request was sent (or first marked pending)
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
	Walker
	// Margin is subtracted from the oldest attempt time to allow for the
	// difference between this machine's clock and the server's, after
	// Offset has been added.
	Margin time.Duration
	// Offset returns the estimated server-minus-local clock offset and
	// whether there is an estimate. It is read after the first page has
	// arrived, so a Clock hook that measures the Date header has had its
	// say; without an estimate, only Margin applies.
	Offset func() (time.Duration, bool)
}

// Run lists profiles back to the oldest attempt of the batch and returns,
// for each parked row (by Seq), every distinct profile that matches it
// exactly: none means nothing was created and the row is safe to send
// again; more than one means duplicates exist (made earlier, perhaps by
// another tool), which the caller reports rather than hides.
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
	shift := func() time.Duration {
		s := -r.Margin
		if r.Offset != nil {
			if off, ok := r.Offset(); ok {
				s += off
			}
		}
		return s
	}
	seen := make(map[string]bool)
	ws, err := r.Since(ctx, func() time.Time { return oldest.Add(shift()) }, func(page []profile.Profile) error {
		s := shift()
		for _, p := range page {
			if seen[p.ID] {
				continue // a profile met twice (pages shift as profiles are created) counts once
			}
			seen[p.ID] = true
			for _, i := range byIdentity[identityOf(p)] {
				b := batch[i]
				if b.Request.Matches(p) && !p.CreatedAt.Before(b.AttemptAt.Add(s)) {
					found[b.Seq] = append(found[b.Seq], p)
				}
			}
		}
		return nil
	})
	st.Pages, st.Listed = ws.Pages, ws.Listed
	if err != nil {
		return found, st, err
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
