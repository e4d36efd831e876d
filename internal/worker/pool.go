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

// Pacer is the shared governor: Wait before every request, Observe every answer.
type Pacer interface {
	Wait(ctx context.Context) error
	Observe(governor.Signal)
}

// Task is one row to send.
type Task struct {
	Seq      int64
	Line     int
	Identity string
	Request  profile.Request
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
	Creator     Creator
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
		res := p.Creator.Create(send, t.Request)
		d.Attempts++
		d.Result = res
		sig := governor.ParseHeaders(res.Header, res.Status, now())
		p.Pacer.Observe(sig)
		if res.Kind != client.Retry || d.Attempts >= maxAttempts {
			return d
		}
		delay := governor.Backoff(d.Attempts, base, capDelay, sig.RetryAfter, rand.Float64())
		if governor.Sleep(stop, delay) != nil {
			d.Stopped = true
			return d
		}
	}
}
