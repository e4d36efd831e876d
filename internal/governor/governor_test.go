package governor

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock whose Sleep moves time forward instead of blocking:
// a sleeper wakes at its target, or at once if another has already moved the
// clock past it.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps int
	hook   func(n int) // called at the n-th sleep (1-based) before time moves; may call Observe
}

func newFakeClock() *fakeClock { return &fakeClock{t: at(0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.sleeps++
	n, hook, target := c.sleeps, c.hook, c.t.Add(d)
	c.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	c.mu.Lock()
	if target.After(c.t) {
		c.t = target
	}
	c.mu.Unlock()
	return nil
}

func (c *fakeClock) elapsed() time.Duration { return c.Now().Sub(at(0)) }

func newFake(cfg Config) (*Governor, *fakeClock) {
	c := newFakeClock()
	cfg.Now, cfg.Sleep = c.Now, c.Sleep
	return New(cfg), c
}

func approx(got, want time.Duration) bool {
	d := got - want
	return d > -time.Millisecond && d < time.Millisecond
}

func TestNewDefaults(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		wantRate  float64
		wantBurst int
	}{
		{"zero value discovers from 20/s", Config{}, 20, 1},
		{"initial pace", Config{Initial: 25}, 25, 1},
		{"a ceiling is the starting pace", Config{Ceiling: 98, Initial: 25}, 98, 1},
		{"burst", Config{Ceiling: 98, Burst: 5}, 98, 5},
		{"nonsense is ignored", Config{Ceiling: math.NaN(), Initial: math.Inf(1), Burst: -3}, defaultInitial, 1},
		{"negative ceiling is no ceiling", Config{Ceiling: -1}, defaultInitial, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := New(tt.cfg)
			if g.Rate() != tt.wantRate {
				t.Errorf("Rate() = %v, want %v", g.Rate(), tt.wantRate)
			}
			if b := g.lim.Burst(); b != tt.wantBurst {
				t.Errorf("burst = %d, want %d", b, tt.wantBurst)
			}
			if s := g.Stats(); s.Rate != tt.wantRate || s.MinRate != tt.wantRate {
				t.Errorf("Stats() = %+v", s)
			}
		})
	}
}

func TestWaitPaces(t *testing.T) {
	g, c := newFake(Config{Ceiling: 10})
	for range 11 {
		if err := g.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// The first goes at once, the next ten 100 ms apart.
	if !approx(c.elapsed(), time.Second) {
		t.Errorf("11 requests at 10/s took %v of clock, want 1s", c.elapsed())
	}
}

func TestWaitHonoursPause(t *testing.T) {
	g, c := newFake(Config{Ceiling: 100})
	g.Observe(Signal{Status: 429, RetryAfter: 2 * time.Second})
	if err := g.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !approx(c.elapsed(), 2*time.Second) {
		t.Errorf("Wait returned after %v, want the 2s retry-after", c.elapsed())
	}
	// After the pause the workers resume at the pace, not all at once.
	before := c.elapsed()
	for range 5 {
		if err := g.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	perSlot := 1 / (100 * hardCut)
	want := time.Duration(5 * perSlot * float64(time.Second))
	if got := c.elapsed() - before; !approx(got, want) {
		t.Errorf("5 requests after the pause took %v, want %v", got, want)
	}
	s := g.Stats()
	if s.Throttled != 1 || s.Pauses != 1 || s.Decreases != 1 || s.Rate != 100*hardCut || s.MinRate != 100*hardCut {
		t.Errorf("Stats() = %+v", s)
	}
}

func TestWaitPauseStartedWhileQueued(t *testing.T) {
	g, c := newFake(Config{Ceiling: 10})
	if err := g.Wait(context.Background()); err != nil { // uses the limiter's one token
		t.Fatal(err)
	}
	// While the next worker sleeps towards its slot, another worker's answer is a 429.
	c.hook = func(n int) {
		if n == 1 {
			g.Observe(Signal{Status: 429, RetryAfter: time.Second})
		}
	}
	if err := g.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Its slot was 100 ms away; the pause runs to 1 s; then a fresh slot at the
	// lowered pace (the limiter has refilled its single token during the pause).
	if !approx(c.elapsed(), time.Second) {
		t.Errorf("Wait returned after %v, want 1s", c.elapsed())
	}
}

// TestWaitReservesWithinHorizon checks that the limiter never holds slots
// reserved further ahead than horizon, whatever the number of workers, so a
// change of pace reaches the server at once.
func TestWaitReservesWithinHorizon(t *testing.T) {
	c := newFakeClock()
	var g *Governor
	g = New(Config{Ceiling: 100, Now: c.Now, Sleep: func(ctx context.Context, d time.Duration) error {
		ahead := time.Duration((1 - g.lim.TokensAt(c.Now())) / g.Rate() * float64(time.Second))
		if ahead > horizon+10*time.Millisecond+time.Microsecond {
			t.Errorf("next free slot %v ahead: slots reserved beyond the horizon", ahead)
		}
		time.Sleep(20 * time.Microsecond) // real time: lets other workers pile in if they can
		return c.Sleep(ctx, d)
	}})
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 10 {
				if err := g.Wait(context.Background()); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	// 160 requests at 100/s: the first at once, then 159 slots.
	if got := c.elapsed(); got < 1590*time.Millisecond-time.Millisecond {
		t.Errorf("160 requests took %v of clock, want at least 1.59s", got)
	}
}

func TestWaitCancel(t *testing.T) {
	t.Run("already cancelled", func(t *testing.T) {
		g, _ := newFake(Config{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := g.Wait(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("Wait = %v, want context.Canceled", err)
		}
	})
	t.Run("during a pause, with others queued", func(t *testing.T) {
		blocked := make(chan struct{}, 1)
		g := New(Config{Ceiling: 100, Sleep: func(ctx context.Context, d time.Duration) error {
			select {
			case blocked <- struct{}{}:
			default:
			}
			<-ctx.Done()
			return ctx.Err()
		}})
		g.Observe(Signal{Status: 429, RetryAfter: time.Hour})
		ctx, cancel := context.WithCancel(context.Background())
		errs := make(chan error, 4)
		for range 4 {
			go func() { errs <- g.Wait(ctx) }()
		}
		<-blocked // one holds the turn and sleeps through the pause; the rest queue
		cancel()
		for range 4 {
			if err := <-errs; !errors.Is(err, context.Canceled) {
				t.Errorf("Wait = %v, want context.Canceled", err)
			}
		}
		// The turn was handed back: a new Wait is not stuck behind the cancelled ones.
		g2ctx, cancel2 := context.WithCancel(context.Background())
		cancel2()
		if err := g.Wait(g2ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("Wait = %v, want context.Canceled", err)
		}
	})
	t.Run("while waiting for a slot gives the slot back", func(t *testing.T) {
		g, _ := newFake(Config{Ceiling: 25}) // slots 40 ms apart, within the horizon
		if err := g.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		g.cfg.Sleep = func(context.Context, time.Duration) error { cancel(); return ctx.Err() }
		if err := g.Wait(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait = %v, want context.Canceled", err)
		}
		// The cancelled reservation is returned: the next slot is still 40 ms
		// after the first request, not 80 ms.
		d, res := g.admitAt(at(0))
		if res == nil || !approx(d, 40*time.Millisecond) {
			t.Errorf("next slot in %v, want 40ms", d)
		}
	})
}

// TestConcurrent runs many workers through one governor under -race: Wait and
// Observe interleave with 429s, errors and headers while a reader polls.
func TestConcurrent(t *testing.T) {
	g, _ := newFake(Config{Ceiling: 200})
	const workers, each = 16, 200
	signals := []Signal{
		{Status: 200, Limit: 10, Remaining: 9},
		{Status: 200, Limit: 10, Remaining: 3},
		{Status: 200},
		{Status: 0},
		{Status: 500},
		{Status: 429, RetryAfter: time.Second},
		{Status: 529},
	}
	var want429 int64
	for i := range workers * each {
		if signals[i%len(signals)].Status == 429 {
			want429++
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			_ = g.Rate()
			_ = g.Stats()
		}
	}()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if err := g.Wait(ctx); err != nil {
					t.Error(err)
					return
				}
				g.Observe(signals[(w*each+i)%len(signals)])
			}
		})
	}
	wg.Wait()
	cancel()
	<-done
	s := g.Stats()
	if s.Throttled != want429 {
		t.Errorf("throttled = %d, want %d", s.Throttled, want429)
	}
	if s.Rate < floorRate(g.cfg) || s.Rate > 200 || s.MinRate > s.Rate {
		t.Errorf("Stats() = %+v", s)
	}
}

func TestSleep(t *testing.T) {
	if err := Sleep(context.Background(), 0); err != nil {
		t.Errorf("Sleep(0) = %v", err)
	}
	if err := Sleep(context.Background(), time.Microsecond); err != nil {
		t.Errorf("Sleep(1µs) = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("sleep on a cancelled context = %v", err)
	}
	if err := Sleep(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep(0) on a cancelled context = %v", err)
	}
}

// TestRealClock checks the defaults, time.Now and a timer, rather than the
// fake clock of the other tests: several workers keep the pace (a Sleep that
// returned early would let them through at once), a retry-after pause holds
// on the real clock, and a cancelled context ends a pause at once. The upper
// bounds are loose, for a loaded machine; they catch a pace read wrong by an
// order of magnitude, not a late timer.
func TestRealClock(t *testing.T) {
	t.Run("workers keep the pace", func(t *testing.T) {
		const workers, each, rate = 4, 10, 200.0
		g := New(Config{Ceiling: rate})
		start := time.Now()
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for range each {
					if err := g.Wait(context.Background()); err != nil {
						t.Error(err)
						return
					}
					g.Observe(Signal{Status: 200, Limit: 10, Remaining: 9})
				}
			})
		}
		wg.Wait()
		// The first request goes at once (burst 1), each later one a slot later.
		want := time.Duration(float64(workers*each-1) / rate * float64(time.Second))
		if got := time.Since(start); got < want-time.Millisecond || got > 10*want {
			t.Errorf("%d requests at %g/s took %v, want %v", workers*each, rate, got, want)
		}
	})
	t.Run("a retry-after pause holds", func(t *testing.T) {
		g := New(Config{Ceiling: 1000})
		const pause = 100 * time.Millisecond
		start := time.Now()
		g.Observe(Signal{Status: 429, RetryAfter: pause})
		if err := g.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got < pause || got > 10*pause {
			t.Errorf("Wait returned after %v, want the %v retry-after", got, pause)
		}
	})
	t.Run("a cancelled context ends a pause", func(t *testing.T) {
		g := New(Config{Ceiling: 1000})
		g.Observe(Signal{Status: 429, RetryAfter: time.Hour})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		start := time.Now()
		if err := g.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Wait = %v, want context.DeadlineExceeded", err)
		}
		if got := time.Since(start); got > 2*time.Second {
			t.Errorf("Wait took %v; its context ended after 20ms", got)
		}
	})
}
