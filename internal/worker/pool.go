// Package worker sends create requests through a fixed pool of workers that
// share one pacing governor. It retries only what is safe to send again
// (nothing was created); every other outcome goes back to the caller at once,
// so that an unknown outcome is reconciled, never resent blindly.
package worker

import (
	"context"
	"math/rand/v2"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/provision/provision/internal/client"
	"github.com/provision/provision/internal/governor"
	"github.com/provision/provision/internal/profile"
)

// Creator sends one create request and classifies its outcome.
type Creator interface {
	Create(ctx context.Context, req profile.Request) client.Result
}

// Writer sends every write a sync makes: creates, partial updates and
// deletes.
type Writer interface {
	Creator
	Update(ctx context.Context, id string, body any) client.Result
	Delete(ctx context.Context, id string) client.Result
}

// Op is what a task asks of the server.
type Op uint8

// The operations. A create is the only one that is not safe to send
// again: the API has no idempotency key, so an unknown outcome of a create
// goes back to the caller for reconciliation, while an update (same fields
// again) or a delete (a profile already gone counts as deleted) is retried.
const (
	OpCreate Op = iota
	OpUpdate
	OpDelete
)

// Pacer is the governor shared by every sender.
type Pacer = governor.Pacer

// Task is one row to send.
type Task struct {
	Seq      int64
	Line     int
	Identity string
	Request  profile.Request // create: the request; update: the desired content
	Op       Op
	// ProfileID and Body are the target and partial body of an update
	// (ProfileID alone for a delete).
	ProfileID string
	Body      any
	// Status is what the row becomes when the write succeeds (updated,
	// suspended, reactivated, deleted); Note says what changed, and
	// ErrType flags it (cannot_clear) though the write succeeds.
	Status  profile.Status
	Note    string
	ErrType string
}

// Done is the end of one task in this pool: its last result and the number
// of requests it took. Stopped is set when the pool stopped before the task
// reached a final outcome; its last result (if any) was then safe to resend,
// so nothing was created.
type Done struct {
	Task
	Result   client.Result
	Attempts int
	Stopped  bool
	Sending  time.Time // when the last request went out, for clock-offset estimates
}

// Pool sends tasks with bounded concurrency.
type Pool struct {
	// Creator sends creates; Writer, when set, every operation (it is then
	// also the Creator).
	Creator     Creator
	Writer      Writer
	Pacer       Pacer
	Concurrency int
	MaxAttempts int           // requests per task for retryable outcomes; 0 = 5
	BackoffBase time.Duration // 0 = 200ms
	BackoffMax  time.Duration // 0 = 30s
	Now         func() time.Time
}

// Run sends every task from tasks until the channel closes. stop ends
// dispatching: tasks taken after it is done are returned unsent and retry
// waits end early; requests already on the wire run on under send, which the
// caller cancels only to abandon them. done is called once per task, from the
// worker goroutines.
func (p *Pool) Run(stop, send context.Context, tasks <-chan Task, done func(Done)) {
	var g errgroup.Group
	for range max(p.Concurrency, 1) {
		g.Go(func() error {
			for t := range tasks {
				done(p.one(stop, send, t))
			}
			return nil
		})
	}
	_ = g.Wait() // workers return no errors: every outcome goes to done
}

func (p *Pool) one(stop, send context.Context, t Task) Done {
	maxAttempts := p.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = 5
	}
	base, capDelay := p.BackoffBase, p.BackoffMax
	if base <= 0 {
		base = 200 * time.Millisecond
	}
	if capDelay <= 0 {
		capDelay = 30 * time.Second
	}
	now := p.Now
	if now == nil {
		now = time.Now
	}
	d := Done{Task: t}
	for {
		if stop.Err() != nil || p.Pacer.Wait(stop) != nil {
			d.Stopped = true
			return d
		}
		d.Sending = now()
		res := p.send(send, t)
		d.Attempts++
		d.Result = res
		sig := governor.ParseHeaders(res.Header, res.Status, now())
		p.Pacer.Observe(sig)
		if !p.retry(t, res) || d.Attempts >= maxAttempts {
			return d
		}
		delay := governor.Backoff(d.Attempts, base, capDelay, sig.RetryAfter, rand.Float64())
		if governor.Sleep(stop, delay) != nil {
			d.Stopped = true
			return d
		}
	}
}

func (p *Pool) send(ctx context.Context, t Task) client.Result {
	switch t.Op {
	case OpCreate:
		if p.Writer != nil {
			return p.Writer.Create(ctx, t.Request)
		}
		return p.Creator.Create(ctx, t.Request)
	case OpUpdate:
		return p.Writer.Update(ctx, t.ProfileID, t.Body)
	case OpDelete:
		return p.Writer.Delete(ctx, t.ProfileID)
	}
	panic("worker: unknown op")
}

// retry reports whether an outcome may be sent again: what created nothing
// for any operation, and an unknown outcome of a write that is safe to
// repeat.
func (p *Pool) retry(t Task, res client.Result) bool {
	switch res.Kind {
	case client.Retry:
		return true
	case client.Unknown:
		return t.Op != OpCreate
	case client.Created, client.Rejected, client.Fatal:
		return false
	}
	panic("worker: unknown outcome kind")
}
