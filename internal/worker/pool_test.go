package worker

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/provision/provision/internal/client"
	"github.com/provision/provision/internal/governor"
	"github.com/provision/provision/internal/profile"
)

// fakeCreator answers each request with the next result of its script.
type fakeCreator struct {
	mu     sync.Mutex
	script []client.Result
	calls  int
}

func (f *fakeCreator) Create(context.Context, profile.Request) client.Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.script[min(f.calls, len(f.script)-1)]
	f.calls++
	return r
}

type countingPacer struct{ waits, observed atomic.Int64 }

func (p *countingPacer) Wait(ctx context.Context) error { p.waits.Add(1); return ctx.Err() }
func (p *countingPacer) Observe(governor.Signal)        { p.observed.Add(1) }

func runOne(t *testing.T, stop context.Context, script ...client.Result) (Done, *fakeCreator, *countingPacer) {
	t.Helper()
	c, p := &fakeCreator{script: script}, &countingPacer{}
	pool := &Pool{Creator: c, Pacer: p, Concurrency: 2, MaxAttempts: 3, BackoffBase: time.Millisecond, BackoffMax: 2 * time.Millisecond}
	tasks := make(chan Task, 1)
	tasks <- Task{Seq: 1}
	close(tasks)
	var got []Done
	var mu sync.Mutex
	pool.Run(stop, context.Background(), tasks, func(d Done) { mu.Lock(); got = append(got, d); mu.Unlock() })
	if len(got) != 1 {
		t.Fatalf("%d outcomes for one task", len(got))
	}
	return got[0], c, p
}

func TestPoolRetriesOnlyWhatIsSafe(t *testing.T) {
	retry := client.Result{Kind: client.Retry, Status: 429}
	for _, tc := range []struct {
		name     string
		script   []client.Result
		kind     client.Kind
		attempts int
	}{
		{"created at once", []client.Result{{Kind: client.Created}}, client.Created, 1},
		{"429 then created", []client.Result{retry, retry, {Kind: client.Created}}, client.Created, 3},
		{"retries run out", []client.Result{retry}, client.Retry, 3},
		{"unknown is never resent", []client.Result{{Kind: client.Unknown, Status: 500}, {Kind: client.Created}}, client.Unknown, 1},
		{"rejected is never resent", []client.Result{{Kind: client.Rejected, Status: 400}, {Kind: client.Created}}, client.Rejected, 1},
		{"fatal is never resent", []client.Result{{Kind: client.Fatal, Status: 401}, {Kind: client.Created}}, client.Fatal, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, c, p := runOne(t, context.Background(), tc.script...)
			if d.Result.Kind != tc.kind || d.Attempts != tc.attempts || c.calls != tc.attempts || d.Stopped {
				t.Fatalf("kind %v attempts %d calls %d stopped %v, want %v %d", d.Result.Kind, d.Attempts, c.calls, d.Stopped, tc.kind, tc.attempts)
			}
			if p.waits.Load() != int64(tc.attempts) || p.observed.Load() != int64(tc.attempts) {
				t.Errorf("paced %d and observed %d of %d requests", p.waits.Load(), p.observed.Load(), tc.attempts)
			}
		})
	}
}

func TestPoolStopsBeforeSending(t *testing.T) {
	stop, cancel := context.WithCancel(context.Background())
	cancel()
	d, c, _ := runOne(t, stop, client.Result{Kind: client.Created})
	if !d.Stopped || d.Attempts != 0 || c.calls != 0 {
		t.Fatalf("after stop: %+v, %d calls", d, c.calls)
	}
}
