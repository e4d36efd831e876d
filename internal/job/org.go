package job

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/provision/provision/internal/profile"
	"github.com/provision/provision/internal/reconcile"
	"github.com/provision/provision/internal/state"
)

// MappingError says the run would take its identities from elsewhere than
// the last run did: every user would look new, and be created again.
type MappingError struct {
	Was, Now string
}

func (e *MappingError) Error() string {
	return fmt.Sprintf("the identity mapping changed: the last run took it from %s, this one from %s; every user would be created again. "+
		"Restore the last run's --map, or pass --remap if the change is meant", e.Was, e.Now)
}

// checkMapping compares the run's identity mapping with the last run's.
func checkMapping(st *state.Store, mapping string, remap bool) error {
	if mapping == "" || remap {
		return nil
	}
	was, ok, err := st.LastMapping(1 << 62)
	if err != nil || !ok || was == mapping {
		return err
	}
	return &MappingError{Was: was, Now: mapping}
}

// walker pages through the org with the run's governor, measuring the
// server's clock from every answer.
func (r *runner) walker() reconcile.Walker {
	return reconcile.Walker{Lister: r.cfg.API, Pacer: r.cfg.Pacer, Clock: r.noteDate, Now: r.now}
}

// noteDate measures the server's clock from an answer's Date header. The
// header is whole seconds and written before the answer left, so Date minus
// the local arrival time is at most the true offset: a window shifted by it
// starts early, never late.
func (r *runner) noteDate(h http.Header, received time.Time) {
	if d, err := http.ParseTime(h.Get("Date")); err == nil {
		r.noteOffset(d.Sub(received))
	}
}

// readOrg brings the ledger up to date with the org before anything is
// sent. A ledger that has never listed its org (new, deleted, or written by
// an older version) lists all of it and adopts what it finds; otherwise
// the catch-up lists what was created since the ledger last listed the
// org, less the clock margin (a create under way then may have shown
// later, with an earlier created_at): profiles made by a second host, by another tool,
// or after the backup the state was restored from. It returns how many
// profiles were adopted.
func (r *runner) readOrg(ctx context.Context) (int, error) {
	st := r.cfg.Store
	mark, err := st.Watermark()
	if err != nil {
		return 0, err
	}
	empty, err := st.Empty()
	if err != nil {
		return 0, err
	}
	full := mark.IsZero()
	if full && empty && r.cfg.NoAdopt {
		r.log.Info("the ledger is empty and --no-adopt is set: the org is taken to hold none of these users")
		return 0, nil
	}
	obs, ws, elapsed, err := r.list(ctx, full, mark.Add(-r.cfg.ClockMargin), nil)
	what := "catch-up: listed the profiles created since the state last listed the org"
	if full {
		what = "adoption: listed the whole org"
	}
	r.log.Info(what, "pages", ws.Pages, "listed", ws.Listed, "adopted", obs.Adopted, "duplicates", len(obs.Duplicates),
		"elapsed", elapsed.Round(time.Millisecond).String())
	if err != nil {
		return obs.Adopted, fmt.Errorf("listing the org: %w", err)
	}
	r.dups = append(r.dups, obs.Duplicates...)
	return obs.Adopted, nil
}

// list walks the org (all of it, or back to since in server time), records
// what it finds in the ledger page by page, and moves the mark the next
// catch-up lists from: the server's time when this walk began (from the
// Date header of its first answer), since the ledger now knows every
// profile visible then. Not the newest created_at: an org where nothing new
// is made would then be listed back to its last bulk load every night.
// known, when set, names profiles the ledger is known to map already: they
// are counted but not looked up.
func (r *runner) list(ctx context.Context, all bool, since time.Time, known func(profile.Profile) bool) (state.Observed, reconcile.WalkStats, time.Duration, error) {
	var obs state.Observed
	start := r.now()
	w := r.walker()
	// Profiles known already are counted only: they need not be decoded.
	w.Brief = known
	var began time.Time
	clock := w.Clock
	w.Clock = func(h http.Header, received time.Time) {
		if d, err := http.ParseTime(h.Get("Date")); err == nil && began.IsZero() {
			began = d
		}
		clock(h, received)
	}
	var rest []profile.Profile
	observe := func(page []profile.Profile) error {
		if known != nil {
			rest = rest[:0]
			for _, p := range page {
				if !known(p) {
					rest = append(rest, p)
					continue
				}
				obs.Listed++
				if p.CreatedAt.After(obs.Newest) {
					obs.Newest = p.CreatedAt
				}
			}
			page = rest
		}
		return r.cfg.Store.Observe(page, &obs)
	}
	var ws reconcile.WalkStats
	var err error
	if all {
		ws, err = w.Walk(ctx, func(page []profile.Profile) (bool, error) { return false, observe(page) })
	} else {
		ws, err = w.Since(ctx, func() time.Time { return since }, observe)
	}
	if err == nil {
		mark := began
		if mark.IsZero() {
			mark = obs.Newest // a server without Date headers: what it showed
		}
		err = r.cfg.Store.AdvanceWatermark(mark)
	}
	return obs, ws, r.now().Sub(start), err
}

// ownCap bounds the profiles of a run that its sweep knows without a
// lookup (16 bytes each: 2 MiB at most). A larger run's sweep looks the
// rest up.
const ownCap = 1 << 17

// own is what this run recorded as created: a hash of each identity with
// the id the ledger now maps it to. Its sweep lists every one of these
// profiles again, and the ledger's answer for them is known (the same id:
// nothing to do), so they need no lookup, which is most of a sweep's cost.
// 128 bits of SHA-256 make a profile of another id or identity match an
// entry by chance with a probability of n/2^128: never. The keys are
// sorted once, when the sweep first asks: a slice holds them in a third
// of a map's memory.
type own struct {
	mu     sync.Mutex
	keys   [][16]byte
	sorted bool
}

func ownKey(identity, id string) [16]byte {
	h := sha256.New()
	h.Write([]byte(identity))
	h.Write([]byte{0})
	h.Write([]byte(id))
	var k [16]byte
	copy(k[:], h.Sum(nil))
	return k
}

func compareKeys(a, b [16]byte) int { return bytes.Compare(a[:], b[:]) }

// add notes that the ledger maps identity to the profile id.
func (o *own) add(identity, id string) {
	if id == "" {
		return
	}
	k := ownKey(identity, id)
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.keys) < ownCap {
		o.keys = append(o.keys, k)
		o.sorted = false
	}
}

// has reports whether p is a profile this run recorded under p's identity.
func (o *own) has(p profile.Profile) bool {
	k := ownKey(p.Request().Identity(), p.ID)
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.sorted {
		slices.SortFunc(o.keys, compareKeys)
		o.sorted = true
	}
	_, ok := slices.BinarySearchFunc(o.keys, k, compareKeys)
	return ok
}

// sweep runs after the last outcome is recorded: it lists what was created
// since the run's start (in server time, less the margin) and reports every
// profile of an identity that the ledger maps to another id, on the run's
// row for it. With the catch-up at every start, a duplicate from any cause
// is seen by the next run at the latest.
func (r *runner) sweep(ctx context.Context) error {
	off, _ := r.clockOffset()
	since := r.run.Started.Add(off - r.cfg.ClockMargin)
	obs, ws, elapsed, err := r.list(ctx, false, since, r.own.has)
	r.log.Info("sweep: listed the profiles created since the run started", "pages", ws.Pages, "listed", ws.Listed,
		"adopted", obs.Adopted, "duplicates", len(obs.Duplicates), "elapsed", elapsed.Round(time.Millisecond).String())
	for _, d := range obs.Duplicates {
		if _, merr := r.cfg.Store.MarkDuplicate(r.run.ID, d); merr != nil && err == nil {
			err = merr
		}
		r.log.Warn("duplicate profile", "identity", d.Identity, "kept", d.Kept, "duplicate", d.Other)
	}
	r.dups = append(r.dups, obs.Duplicates...)
	return err
}

// parkStrays queues for reconciliation the pending entries that no row of
// this export names: rows of an earlier export sent by a run that was
// killed. Their requests went out before this run started.
func (r *runner) parkStrays() {
	strays, err := r.cfg.Store.PendingOutside(r.run.ID)
	if err != nil {
		r.fail(err)
		return
	}
	if len(strays) == 0 {
		return
	}
	r.log.Info("pending entries of rows this export no longer has are reconciled too", "entries", len(strays))
	for _, s := range strays {
		r.open.Add(1)
		r.strays.Add(1)
		r.park(parked{Parked: reconcile.Parked{Identity: s.Identity, Request: s.Sent, AttemptAt: s.AttemptAt}, stray: true},
			r.started.Add(max(r.cfg.Timeout, s.AttemptTimeout)))
	}
}

// Adopt lists the whole org and records every profile in the ledger: what
// a new state does before its first run, on demand (after a restore, say).
// Only Store, API, Pacer, Target, Logger and Now of cfg are used.
func Adopt(ctx context.Context, cfg Config) (state.Observed, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := cfg.Store.Bind(cfg.Target); err != nil {
		return state.Observed{}, err
	}
	r := &runner{cfg: cfg, log: cfg.Logger, now: cfg.Now}
	obs, ws, elapsed, err := r.list(ctx, true, time.Time{}, nil)
	r.log.Info("adoption: listed the whole org", "pages", ws.Pages, "listed", ws.Listed, "adopted", obs.Adopted,
		"duplicates", len(obs.Duplicates), "elapsed", elapsed.Round(time.Millisecond).String())
	for _, d := range obs.Duplicates {
		r.log.Warn("duplicate profile", "identity", d.Identity, "kept", d.Kept, "duplicate", d.Other)
	}
	return obs, err
}
