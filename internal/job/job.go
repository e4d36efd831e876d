// Package job runs the flow of one command (docs/ARCHITECTURE.md, "One row,
// from export to report"): it reads the org, reads the export, admits every
// row through the state (which decides skip, park, update or send, and
// marks rows pending before they are sent), feeds the worker pool,
// reconciles unknown outcomes in batches, records every outcome, and sweeps
// the org for duplicates, so that the report can be rendered from the state
// alone.
package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/provision/provision/internal/client"
	"github.com/provision/provision/internal/profile"
	"github.com/provision/provision/internal/reader"
	"github.com/provision/provision/internal/reconcile"
	"github.com/provision/provision/internal/report"
	"github.com/provision/provision/internal/state"
	"github.com/provision/provision/internal/worker"
)

// API is what a run needs from the server.
type API interface {
	worker.Writer
	reconcile.Lister
}

// Config is one run's wiring and knobs.
type Config struct {
	// Target names the org (base URL, and workspace when one is used): the
	// state is bound to it on first use and refuses another.
	Target string
	// Mapping says where rows take their identity from; a run whose mapping
	// differs from the last run's stops, unless Remap says it is meant.
	Mapping string
	Remap   bool
	// Version is the API contract spoken: its rules are checked before
	// anything is sent.
	Version profile.Version
	// NoAdopt skips listing the org when the ledger is empty (an org known
	// to be empty).
	NoAdopt bool
	// Sync makes the org match the export: rows whose profile holds other
	// data are updated, and managed profiles the export no longer names
	// are handled by Absent, within MaxAbsent.
	Sync      bool
	Absent    Absent
	MaxAbsent Limit
	// IdentityColumn is the input column identities are read from: absent
	// profiles show theirs there in the report.
	IdentityColumn string
	// Dry: the API's writes are answered by a stand-in and nothing is
	// paced or swept; a plan runs so, on a copy of the state.
	Dry bool
	// Probe is how many records are read ahead, and the mapping judged
	// on them (reader.CheckMapping), before anything is listed or sent: a
	// --map to a key no JSONL line has stops the run with nothing sent. A
	// CSV header is judged as it is: 0.
	Probe       int
	Input       *reader.Reader
	InputName   string // the file as given, "-" for stdin; with the command it keys resumption
	Store       *state.Store
	API         API
	Pacer       worker.Pacer
	Concurrency int
	MaxAttempts int
	MaxFailures int // stop after more failed rows than this; 0 = no budget
	// Batch is how many rows, at least, are marked pending in one commit
	// before any of them is sent (up to maxBatches times as many while the
	// workers have rows queued), and how many parked rows trigger a
	// reconciliation pass.
	Batch int
	// Settle is how long after an unknown outcome the reconciliation waits
	// before listing, so a request still being processed has finished.
	Settle time.Duration
	// Timeout is the per-request timeout. The server is taken to finish a
	// request within Timeout plus Settle of its send, whatever became of the
	// client: an unknown outcome is looked up only then.
	Timeout time.Duration
	// ClockMargin widens the listing window for clock differences.
	ClockMargin time.Duration
	Progress    report.Progress
	Logger      *slog.Logger
	Now         func() time.Time
	// Settled, when set, is called once every row of the run is recorded
	// and committed, just before the sweep, which runs on beside whatever
	// it starts (the report, read from the state). Only a sweep that finds
	// duplicates changes the run's rows after that: Result.Marked.
	Settled func(state.Run)
}

// Result is how a run ended.
type Result struct {
	Run        state.Run
	Rows       int64 // input rows read
	Reconciled int   // rows whose unknown outcome a listing resolved
	Stopped    string
	Fatal      bool // stopped by refused credentials
	Adopted    int  // profiles the org held that the ledger did not know, now recorded
	// Duplicates are second profiles of identities the ledger maps, found
	// by the catch-up at the start or the sweep at the end.
	Duplicates []state.Duplicate
	Strays     int // pending entries of rows no longer in the export, reconciled
	// Marked: the sweep found duplicates and marked the run's rows for
	// them, after Settled was called.
	Marked bool
}

// parked is a row waiting for a reconciliation pass. Its profile is not
// looked for before ready, when the server can no longer be working on its
// request: a request that timed out or whose connection broke may still be
// in the server's hands, and so may a request of a process that was
// killed, and a listing made before the server stores the profile finds
// nothing, so the row would be created twice. The server is taken to
// finish within Timeout plus Settle of the send, so ready is:
//   - for this process's own requests, Settle after the later of the
//     timeout and the moment the outcome became unknown (a broken
//     connection makes it unknown early);
//   - for a row an earlier process left pending, Timeout plus Settle after
//     this run's start: its request went out before that process ended.
//
// AttemptAt, when the row was marked pending, is no base for it: the row
// may have waited in the queue long after that.
type parked struct {
	reconcile.Parked
	ready time.Time
	// send is what to send if no profile is found: the row as the export
	// has it now, which may differ from what the unresolved attempt sent.
	send profile.Request
	// stray: a pending entry that no row of this export names; found or
	// not, nothing is sent for it.
	stray bool
}

type runner struct {
	cfg     Config
	in      *probed // the input, its first records read ahead
	run     state.Run
	log     *slog.Logger
	now     func() time.Time
	stop    context.CancelCauseFunc
	started time.Time // when this run took over the state: every earlier process was gone by then

	tasks       chan worker.Task
	outcomes    chan state.Outcome // to recordLoop, in the order they happened
	recorded    chan struct{}      // closed when recordLoop has stored every outcome
	open        atomic.Int64       // rows sent or parked and not yet settled
	producerEnd atomic.Bool
	failures    atomic.Int64
	reconciled  atomic.Int64
	strays      atomic.Int64
	fatal       atomic.Bool

	mu       sync.Mutex
	parked   []parked
	offset   time.Duration // server minus local clock: the smallest estimate seen
	offsetOK bool
	recErr   error
	dups     []state.Duplicate

	own own // the profiles this run recorded as created, for its sweep
}

// Run provisions every row of the input. stop ends dispatching (first
// signal); send is the context of requests on the wire (cancelled by a second
// signal or after the grace period). Every row is recorded in the state
// before Run returns, whatever happens.
func Run(stop, send context.Context, cfg Config) (Result, error) {
	if cfg.Batch <= 0 {
		cfg.Batch = 64
	}
	cfg.Concurrency = max(cfg.Concurrency, 1) // the command line sets it; see cmd/provision/flags.go
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	in, err := probe(stop, cfg.Input, cfg.Probe)
	if err != nil {
		return Result{}, err
	}
	cfg.Store.SetAttemptTimeout(cfg.Timeout)
	if err := cfg.Store.Bind(cfg.Target); err != nil {
		return Result{}, err
	}
	if err := checkMapping(cfg.Store, cfg.Mapping, cfg.Remap); err != nil {
		return Result{}, err
	}
	command := "run"
	if cfg.Sync {
		command = "sync"
	}
	run, err := cfg.Store.BeginRun(state.Spec{Command: command, Input: cfg.InputName, Columns: cfg.Input.Columns(), Mapping: cfg.Mapping, Version: cfg.Version})
	if err != nil {
		return Result{}, err
	}
	if run.Resumed {
		cfg.Logger.Info("resuming an unfinished run of the same input", "run", run.ID)
	}
	stopCtx, cancel := context.WithCancelCause(stop)
	defer cancel(nil)
	// The task queue holds up to two of the largest batches, so the workers
	// have rows to send while the producer admits and commits the next one.
	r := &runner{cfg: cfg, run: run, in: in, log: cfg.Logger, now: cfg.Now, stop: cancel, started: cfg.Now(),
		tasks:    make(chan worker.Task, max(cfg.Concurrency, 2*maxBatches*cfg.Batch)),
		outcomes: make(chan state.Outcome, 4*cfg.Batch), recorded: make(chan struct{})}
	go r.recordLoop()

	// The org is the truth: before anything is sent, learn what it holds
	// that the ledger does not (all of it when the ledger is new).
	adopted, err := r.readOrg(stopCtx)
	if err != nil {
		close(r.outcomes)
		<-r.recorded
		res := Result{Run: run, Fatal: errors.Is(err, reconcile.ErrFatal), Stopped: err.Error()}
		if cause := context.Cause(stopCtx); stopCtx.Err() != nil && cause != nil && !errors.Is(cause, context.Canceled) {
			res.Stopped, err = cause.Error(), nil // stopped by a signal, not failed
		}
		return res, err
	}

	pool := &worker.Pool{Creator: cfg.API, Writer: cfg.API, Pacer: cfg.Pacer, Concurrency: cfg.Concurrency, MaxAttempts: cfg.MaxAttempts, Now: cfg.Now}
	if cfg.Dry {
		pool.Pacer = unpaced{} // nothing goes out: nothing to pace
	}
	var wg sync.WaitGroup
	var rows int64
	var readErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		rows, readErr = r.produce(stopCtx)
		if readErr == nil && stopCtx.Err() == nil {
			r.parkStrays()
		}
		r.producerEnd.Store(true)
	}()
	go func() {
		defer wg.Done()
		r.reconcileLoop(stopCtx)
	}()
	pool.Run(stopCtx, send, r.tasks, r.settle(stopCtx))
	wg.Wait()
	close(r.outcomes) // nothing records any more
	<-r.recorded

	res := Result{Run: run, Rows: rows, Reconciled: int(r.reconciled.Load()), Fatal: r.fatal.Load(), Adopted: adopted, Strays: int(r.strays.Load())}
	if cause := context.Cause(stopCtx); stopCtx.Err() != nil && cause != nil {
		res.Stopped = cause.Error()
		if errors.Is(cause, context.Canceled) {
			res.Stopped = "interrupted"
		}
	}
	if err := cfg.Store.Commit(); err != nil {
		return res, err
	}
	if readErr != nil {
		return res, readErr
	}
	if r.recErr != nil {
		return res, r.recErr
	}
	if res.Stopped == "" && !cfg.Dry {
		if cfg.Settled != nil {
			cfg.Settled(run)
		}
		n := len(r.dups)
		err := r.sweep(stopCtx)
		res.Marked = len(r.dups) > n
		if err != nil {
			res.Stopped = "sweep: " + err.Error()
			res.Fatal = errors.Is(err, reconcile.ErrFatal)
		}
	}
	res.Duplicates = r.dups
	return res, nil
}

// produce reads every record, admits it, and sends rows in batches: a batch
// is committed (durably pending) before any of its rows is handed to a
// worker.
func (r *runner) produce(stop context.Context) (int64, error) {
	var seq int64
	leftover := false // a row an earlier run left pending has been seen
	noID := 0         // valid rows without an external_id
	batch := make([]worker.Task, 0, maxBatches*r.cfg.Batch)
	// full says when to commit the batch and hand it out: when it is as
	// large as it may be, or at least Batch rows and the workers are about
	// to run out of rows. A commit (an fsync, and every page the batch
	// touched written again) is what a row costs most after its request,
	// so while the workers have rows queued the producer admits more.
	full := func() bool {
		return len(batch) == cap(batch) || (len(batch) >= r.cfg.Batch && len(r.tasks) < r.cfg.Concurrency)
	}
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := r.cfg.Store.Commit(); err != nil {
			return err
		}
		for i, t := range batch {
			select {
			case r.tasks <- t:
			case <-stop.Done():
				// Not sent: release the rest so the next run sends them without a listing.
				for _, u := range batch[i:] {
					r.settleUnsent(u, 0)
				}
				batch = batch[:0]
				return nil
			}
		}
		batch = batch[:0]
		return nil
	}
	// abandon ends the run on a state error: the rows admitted but never
	// handed to a worker are settled here, or the run would wait for them
	// forever.
	abandon := func(err error) error {
		r.fail(err)
		for _, t := range batch {
			r.settleUnsent(t, 0)
		}
		batch = batch[:0]
		return err
	}
	for stop.Err() == nil {
		rec, err := r.in.Next(stop)
		if errors.Is(err, io.EOF) || errors.Is(err, errStopped) {
			break
		}
		if err != nil {
			return seq, errors.Join(fmt.Errorf("reading the input after record %d: %w", seq, err), flush())
		}
		seq++
		in := state.Input{Seq: seq, Line: rec.Line, Fields: rec.Fields, Request: rec.Request, Problem: rec.Problem}
		if in.Problem == nil {
			in.Problem = profile.ValidateFor(rec.Request, r.cfg.Version)
		}
		in.Sync = r.cfg.Sync
		if rec.Request.ExternalID == nil && in.Problem == nil {
			noID++
		}
		d, err := r.cfg.Store.Admit(r.run.ID, in)
		if err != nil {
			return seq, abandon(err)
		}
		switch {
		case r.cfg.Sync && d.ProfileID != "" && d.ErrorType == "" && (d.Status == profile.StatusSkipped || d.Status == profile.StatusCreated):
			t, settled := r.syncRow(seq, rec.Line, rec.Request, d)
			if settled {
				continue
			}
			r.open.Add(1)
			batch = append(batch, t)
			if full() {
				if err := flush(); err != nil {
					return seq, abandon(err)
				}
			}
		case d.Send:
			r.open.Add(1)
			batch = append(batch, worker.Task{Seq: seq, Line: rec.Line, Identity: rec.Request.Identity(), Request: rec.Request})
			if full() {
				if err := flush(); err != nil {
					return seq, abandon(err)
				}
			}
		case d.Status == profile.StatusPending:
			r.open.Add(1)
			if !leftover {
				leftover = true
				r.log.Info("rows an earlier run left pending are looked for once it would have given up on them: --timeout (its own, if longer) and --settle after this run's start",
					"not_before", r.started.Add(r.cfg.Timeout+r.cfg.Settle).Format(time.TimeOnly), "timeout", r.cfg.Timeout.String(), "settle", r.cfg.Settle.String())
			}
			// An earlier process left it pending: its request, if any, went
			// out before that process ended, so before this run started, and
			// that process would have waited for it until its timeout after
			// that (this run's, if the state does not say).
			r.park(parked{Parked: reconcile.Parked{Seq: seq, Line: rec.Line, Identity: rec.Request.Identity(), Request: d.Sent, AttemptAt: d.AttemptAt},
				send: rec.Request}, r.started.Add(max(r.cfg.Timeout, d.AttemptTimeout)))
		default:
			r.cfg.Progress.Add(d.Status)
		}
	}
	if noID > 0 {
		r.log.Warn("rows without an external_id are identified by their content: a changed row is then another user", "rows", noID)
	}
	// Every input row is on its way before the check of the whole run, so
	// it no longer holds the last batch back. A sync's absent profiles,
	// which are no rows of the export, come after it.
	if err := flush(); err != nil {
		return seq, abandon(err)
	}
	// The state noted, as it admitted the rows, ids whose folded form an
	// earlier row had; with none, this reads nothing.
	if groups, err := r.cfg.Store.Variants(context.Background(), r.run.ID, 5); err == nil && len(groups) > 0 {
		r.log.Warn("external_ids that differ only by case or surrounding spaces are different users to the API", "examples", fmt.Sprint(groups))
	}
	if r.cfg.Sync && stop.Err() == nil {
		var err error
		seq, err = r.absentees(stop, seq, func(t worker.Task) error {
			r.open.Add(1)
			batch = append(batch, t)
			if full() {
				return flush()
			}
			return nil
		})
		if err != nil {
			return seq, abandon(err)
		}
	}
	if err := flush(); err != nil {
		return seq, abandon(err)
	}
	return seq, r.cfg.Store.Commit()
}

// maxBatches is how many times Batch rows one commit may mark pending.
const maxBatches = 4

// park queues a row for reconciliation; unknownSince is when its outcome
// became unknown to this process.
func (r *runner) park(p parked, unknownSince time.Time) {
	p.ready = unknownSince.Add(r.cfg.Settle)
	r.mu.Lock()
	r.parked = append(r.parked, p)
	r.mu.Unlock()
}

// record queues an outcome for recordLoop. Workers so never wait for the
// state's lock, which the producer holds through each commit's fsync. The
// delay costs no safety: an outcome is durable only at the next commit
// anyway, and until then the row is pending in the ledger, which is what
// the next run reconciles if this one dies.
func (r *runner) record(o state.Outcome) {
	if r.cfg.Dry {
		o.Attempts = 0 // a plan sends no write
	}
	r.outcomes <- o
}

// recordLoop stores the queued outcomes in order, as many at a time as have
// queued up, until the run closes the queue.
func (r *runner) recordLoop() {
	defer close(r.recorded)
	buf := make([]state.Outcome, 0, 4*r.cfg.Batch)
	for o := range r.outcomes {
		buf = append(buf[:0], o)
	more:
		for len(buf) < cap(buf) {
			select {
			case o, ok := <-r.outcomes:
				if !ok {
					break more
				}
				buf = append(buf, o)
			default:
				break more
			}
		}
		if err := r.cfg.Store.RecordAll(r.run.ID, buf); err != nil {
			r.fail(err)
		}
	}
}

// fail stops the run on a state error: nothing more may be sent once
// outcomes can no longer be recorded.
func (r *runner) fail(err error) {
	r.mu.Lock()
	if r.recErr == nil {
		r.recErr = err
	}
	r.mu.Unlock()
	r.stop(fmt.Errorf("state error: %w", err))
}

// finish settles one row for good (in this run).
func (r *runner) finish(status profile.Status) {
	r.open.Add(-1)
	r.cfg.Progress.Add(status)
}

// done settles a parked row; a stray is no row of the input, so the
// progress does not count it.
func (r *runner) done(p parked, status profile.Status) {
	if p.stray {
		r.open.Add(-1)
		return
	}
	r.finish(status)
}

// settleUnsent records a row that was never (successfully) sent: its pending
// ledger entry is dropped, so the next run sends it without a listing.
func (r *runner) settleUnsent(t worker.Task, attempts int) {
	r.record(state.Outcome{Seq: t.Seq, Identity: t.Identity, Status: profile.StatusPending, Release: true, Attempts: attempts,
		ErrorType: "not_sent", ErrorMessage: "the run stopped before this row was sent; the next run sends it"})
	r.finish(profile.StatusPending)
}

// settle is the pool's done callback: it turns each classified outcome into
// a recorded status.
func (r *runner) settle(stop context.Context) func(worker.Done) {
	return func(d worker.Done) {
		if d.Op != worker.OpCreate {
			r.settleWrite(d)
			return
		}
		res := d.Result
		o := state.Outcome{Seq: d.Seq, Identity: d.Identity, Attempts: d.Attempts, RequestID: res.RequestID,
			ErrorType: res.ErrorType, ErrorMessage: res.Message}
		switch {
		case d.Attempts == 0 || (d.Stopped && res.Kind == client.Retry):
			r.settleUnsent(d.Task, d.Attempts)
			return
		case res.Kind == client.Created:
			o.Status, o.ProfileID, o.CreatedAt = profile.StatusCreated, res.Profile.ID, res.Profile.CreatedAt
			o.ErrorType, o.ErrorMessage = "", ""
			r.noteOffset(res.Profile.CreatedAt.Sub(d.Sending))
			r.record(o)
			if !r.cfg.Dry {
				r.own.add(d.Identity, res.Profile.ID)
			}
			r.finish(profile.StatusCreated)
		case res.Kind == client.Unknown:
			o.Status = profile.StatusPending
			o.ErrorMessage = res.Message + "; the profile may exist: it is looked up before the row is sent again"
			r.record(o)
			if stop.Err() != nil {
				r.finish(profile.StatusPending) // left for the next run to reconcile
				return
			}
			// A broken connection makes the outcome unknown before the
			// timeout would have, but the server may still be working on
			// the request until then, as it may after a timeout.
			r.park(parked{Parked: reconcile.Parked{Seq: d.Seq, Line: d.Line, Identity: d.Identity, Request: d.Request, AttemptAt: d.Sending}, send: d.Request},
				later(r.now(), d.Sending.Add(r.cfg.Timeout)))
		default: // Rejected, Fatal, or Retry with the attempts used up
			o.Status, o.Release = profile.StatusFailed, true
			if res.Kind == client.Retry {
				o.ErrorMessage = fmt.Sprintf("gave up after %d attempts: %s", d.Attempts, res.Message)
			}
			r.record(o)
			r.finish(profile.StatusFailed)
			r.failed(res)
		}
	}
}

// failed counts a failed row: refused credentials stop the run at once,
// and past --max-failures so does the error budget.
func (r *runner) failed(res client.Result) {
	if res.Kind == client.Fatal {
		r.fatal.Store(true)
		r.stop(fmt.Errorf("the API refused the credentials (%s)", res.Message))
		return
	}
	if n := r.failures.Add(1); r.cfg.MaxFailures > 0 && n > int64(r.cfg.MaxFailures) {
		r.stop(fmt.Errorf("error budget spent: %d rows failed (--max-failures %d)", n, r.cfg.MaxFailures))
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func (r *runner) noteOffset(d time.Duration) {
	r.mu.Lock()
	if !r.offsetOK || d < r.offset {
		r.offset, r.offsetOK = d, true
	}
	r.mu.Unlock()
}

func (r *runner) clockOffset() (time.Duration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.offset, r.offsetOK
}

// reconcileLoop owns the end of the run: it reconciles parked rows in
// batches, sends back those that no listing found, and closes the task
// channel once the input is read and every row is settled.
func (r *runner) reconcileLoop(stop context.Context) {
	defer close(r.tasks)
	rec := &reconcile.Reconciler{Walker: r.walker(), Margin: r.cfg.ClockMargin, Offset: r.clockOffset}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var firstParked time.Time
	for {
		r.mu.Lock()
		n := len(r.parked)
		r.mu.Unlock()
		open := r.open.Load()
		ended := r.producerEnd.Load()
		switch {
		case stop.Err() != nil && n > 0:
			// Stopping: parked rows stay pending in the state for the next run.
			for _, p := range r.takeParked() {
				r.done(p, profile.StatusPending)
			}
			continue
		case ended && open == 0:
			return
		case n > 0 && (n >= r.cfg.Batch || (ended && int64(n) == open) || (!firstParked.IsZero() && r.now().Sub(firstParked) > 30*time.Second)):
			firstParked = time.Time{}
			r.reconcileBatch(stop, rec, r.takeParked())
			continue
		case n > 0 && firstParked.IsZero():
			firstParked = r.now()
		}
		<-tick.C
	}
}

func (r *runner) takeParked() []parked {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.parked
	r.parked = nil
	return p
}

func (r *runner) reconcileBatch(stop context.Context, rec *reconcile.Reconciler, batch []parked) {
	ready := batch[0].ready
	rows := make([]reconcile.Parked, len(batch))
	for i, p := range batch {
		rows[i] = p.Parked
		if p.ready.After(ready) {
			ready = p.ready
		}
	}
	if wait := ready.Sub(r.now()); wait > 0 {
		r.cfg.Progress.Waiting(fmt.Sprintf("%d unknown outcomes: looked up at %s (--timeout + --settle after their send)", len(batch), ready.Format(time.TimeOnly)))
		select {
		case <-time.After(wait):
		case <-stop.Done():
		}
	}
	r.cfg.Progress.Waiting(fmt.Sprintf("looking up %d unknown outcomes", len(batch)))
	defer r.cfg.Progress.Waiting("")
	if stop.Err() != nil {
		for _, p := range batch {
			r.done(p, profile.StatusPending)
		}
		return
	}
	start := r.now()
	found, st, err := rec.Run(stop, rows)
	r.log.Info("reconciled unknown outcomes", "rows", len(batch), "pages", st.Pages, "listed", st.Listed,
		"found", st.Found, "multiple", st.Multiple, "not_found", st.NotFound, "elapsed", r.now().Sub(start).Round(time.Millisecond).String())
	if err != nil {
		if errors.Is(err, reconcile.ErrFatal) {
			r.fatal.Store(true)
		}
		r.stop(fmt.Errorf("reconciliation: %w", err))
		for _, p := range batch {
			r.done(p, profile.StatusPending)
		}
		return
	}
	var again []worker.Task
	for _, p := range batch {
		matches := found[p.Seq]
		if len(matches) == 0 {
			if p.stray {
				// Nothing was created and the export no longer has the row:
				// forget the attempt.
				r.record(state.Outcome{Identity: p.Identity, Status: profile.StatusPending, Release: true})
				r.done(p, profile.StatusPending)
				continue
			}
			if err := r.cfg.Store.Resend(p.Identity, p.send); err != nil {
				r.fail(err)
				r.done(p, profile.StatusPending)
				continue
			}
			again = append(again, worker.Task{Seq: p.Seq, Line: p.Line, Identity: p.Identity, Request: p.send})
			continue
		}
		// Keep the oldest as the row's profile and name the others: they
		// are duplicates that someone must look at.
		oldest := matches[0]
		for _, m := range matches {
			if m.CreatedAt.Before(oldest.CreatedAt) {
				oldest = m
			}
		}
		o := state.Outcome{Seq: p.Seq, Identity: p.Identity, Status: profile.StatusCreated, ProfileID: oldest.ID, CreatedAt: oldest.CreatedAt}
		if len(matches) > 1 {
			ids := make([]string, 0, len(matches))
			for _, m := range matches {
				ids = append(ids, m.ID)
				if m.ID != oldest.ID {
					o.Others = append(o.Others, m.ID)
				}
			}
			o.ErrorType = profile.ErrorMultipleMatch
			o.ErrorMessage = fmt.Sprintf("line %d: %d profiles match this row: %s; kept the oldest", p.Line, len(matches), strings.Join(ids, ", "))
		} else if diff := profile.Changes(p.Request, p.send); len(diff) > 0 && !p.stray {
			// The profile holds what was sent; the export has changed since.
			o.ErrorType = profile.ErrorProfileChanged
			o.ErrorMessage = fmt.Sprintf("line %d: %s: changed since the profile was created; run creates profiles and does not update them (provision sync does)",
				p.Line, strings.Join(diff, ", "))
		}
		if p.stray {
			o.Seq = 0
			r.log.Info("a row no longer in the export had been created by a run that was stopped; the ledger now knows its profile",
				"identity", p.Identity, "user_profile_id", oldest.ID)
		}
		r.record(o)
		if !r.cfg.Dry {
			r.own.add(p.Identity, oldest.ID)
		}
		r.reconciled.Add(1)
		r.done(p, profile.StatusCreated)
	}
	// The new attempt times are durable before any row goes out again.
	if err := r.cfg.Store.Commit(); err != nil {
		r.fail(err)
	}
	for _, t := range again {
		select {
		case r.tasks <- t:
		case <-stop.Done():
			r.finish(profile.StatusPending)
		}
	}
}

// probed replays the records read ahead by probe, then reads on, in a
// goroutine of its own: a stop must end a run even while the read is
// blocked (stdin that nothing writes to), so produce waits on either.
type probed struct {
	rd   *reader.Reader
	recs []reader.Record
	err  error // what ended the read-ahead early, returned in its turn
	feed chan readResult
}

type readResult struct {
	rec reader.Record
	err error
}

// errStopped ends produce's read when the run is stopping.
var errStopped = errors.New("stopped")

// probe reads up to n records ahead and judges the mapping on them. A stop
// ends the read-ahead; the run then stops as it would have.
func probe(stop context.Context, rd *reader.Reader, n int) (*probed, error) {
	p := &probed{rd: rd}
	for len(p.recs) < n {
		rec, err := p.read(stop)
		if err != nil {
			p.err = err
			break
		}
		p.recs = append(p.recs, rec)
	}
	if !errors.Is(p.err, errStopped) {
		if err := rd.CheckMapping(); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Next returns the records read ahead, then the rest of the input, or
// errStopped once stop is done.
func (p *probed) Next(stop context.Context) (reader.Record, error) {
	if len(p.recs) > 0 {
		rec := p.recs[0]
		p.recs[0] = reader.Record{}
		p.recs = p.recs[1:]
		return rec, nil
	}
	if p.err != nil {
		return reader.Record{}, p.err
	}
	rec, err := p.read(stop)
	if err != nil {
		p.err = err
	}
	return rec, err
}

// read takes the next record from the reading goroutine, started on first
// use.
func (p *probed) read(stop context.Context) (reader.Record, error) {
	if p.feed == nil {
		p.feed = make(chan readResult, 64)
		go func() {
			for {
				rec, err := p.rd.Next()
				p.feed <- readResult{rec, err}
				if err != nil {
					close(p.feed)
					return
				}
			}
		}()
	}
	select {
	case r := <-p.feed:
		return r.rec, r.err
	case <-stop.Done():
		return reader.Record{}, errStopped
	}
}
