// Package governor paces every request of a run through one shared, adaptive
// limiter (docs/ARCHITECTURE.md, "Invariant 3: one governor"): a 429 slows
// all workers, not only the one that saw it, and without a --rate the
// governor finds the server's limit by itself. The numbers live in the
// constants of pace.go; this comment says why they act as they do.
//
// The next pace is decided by a pure function, nextState, of the current
// state, one answer's Signal and the time; the Governor wraps it in a mutex
// and applies the pace to a golang.org/x/time/rate limiter. The limiter's burst
// is 1 by default: evenly spaced requests never empty a small server bucket
// the way bursts do. Slots are reserved at most horizon ahead, so a change of
// pace applies within horizon, and a timer that fires late on a busy machine
// is made up for by the other workers instead of delaying every slot.
//
// Three signals are used, strongest first:
//
//   - A 429 lowers the pace, most in slow start (slowStartHardCut), least
//     when it came while probing near the last limit (nearMarkCut), and
//     marks the pace it cut as the limit. A 503 or 529 says the server is
//     busy, not where its limit is: it lowers the pace gently (overloadCut)
//     and leaves the mark alone, so a trickle of them cannot walk the pace
//     down to nothing. With a retry-after, every worker pauses until it has
//     passed. The requests in flight when the bucket ran dry come back
//     refused together, so only the first refusal of an episode counts:
//     those arriving while paused or within hardWindow of the last decrease
//     change nothing.
//   - The bucket's level, anthropic-ratelimit-requests-remaining out of
//     -limit, falls as soon as the pace exceeds the refill rate, long before
//     the server refuses anything. The pace grows only while the bucket is
//     nearly full (nearlyFull of it, or one token, missing) and holds while
//     it is partly drained. Once more than draining of it is empty the pace
//     drops by softCut (at most once per softWindow), but only if the level
//     keeps falling, by fallFast tokens at once or at all over a softWindow:
//     requests that reach the server in a clump empty a few tokens even under
//     the limit, and just under it the bucket fills again slowly, so a low
//     level alone would cut a correct --rate for nothing. Discovery ends, with
//     slowStartExitCut, at the same sign. The pace so settles at the refill
//     rate without 429s.
//   - The refill rate itself, (limit − remaining) / (reset − now), sets the
//     pace directly when it can be trusted, less up to 1 − softCut as the
//     bucket empties, so the pace settles where the level holds steady.
//     reset may have whole-second resolution and the answer's transit shifts
//     it, so the estimate counts only when the bucket needs at least
//     minEstimateSpan to refill: true of per-minute API limits, never of a
//     sub-second emulator bucket, where the level does the work.
//     ParseHeaders rebases reset by the Date header when the clocks differ by
//     more than maxClockSkew.
//
// Growth is per second of good answers, not per answer, so 16 workers grow
// the pace no faster than one. Discovery (slow start) doubles the pace every
// slowStartDoubling while the bucket is nearly full; afterwards the pace
// grows by steadyGrowth a second, then by probeGrowth from just under the
// mark (the pace at which the limit last showed), like CUBIC's plateau: it
// returns quickly and then creeps. Without rate-limit headers a 429 is the only sign
// and each costs a pause, so once a 429 has shown the limit growth is slower
// still (blindGrowth, then blindProbeGrowth). Before that, discovery without
// headers doubles every blindStartDoubling and is clocked by the answers as
// well, as TCP's slow start is (blindStartAnswers), so against a fast server
// that has no limit the pace soon stops being what holds the workers back.
// The pace never passes the ceiling, nor tputFactor times the measured rate
// of answers (more in discovery, where the measure trails the pace): a pace
// the workers can't use is never tested and would overshoot once they could.
// With a ceiling the governor starts at it, so a --rate just under the
// server's limit is used from the first request.
//
// retry-after is in whole seconds, so a one-second pause can follow a bucket
// that was empty for a few milliseconds, and at 100/s that costs 100
// requests. The pause is honoured (the server asked for it), but it lowers
// the pace only once, and the level keeps such pauses rare.
//
// sim_test.go drives this same code against a simulated token-bucket server
// in simulated time: it is what justifies each constant, and what to run
// again after changing one.
package governor

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// horizon is how far ahead slots are reserved: the lateness of a timer that
// the other workers make up for, and the most a change of pace is delayed by.
const horizon = 50 * time.Millisecond

// Config sets up a Governor. The zero value discovers the limit, starting
// at defaultInitial.
type Config struct {
	Ceiling float64                                          // requests/s never exceeded; 0 = no ceiling (discover the limit)
	Initial float64                                          // starting pace when there is no ceiling; 0 = defaultInitial
	Burst   int                                              // limiter burst; 0 = 1 (even spacing)
	Now     func() time.Time                                 // clock; nil = time.Now
	Sleep   func(ctx context.Context, d time.Duration) error // waits d or until ctx is done; nil = a timer
}

// Stats counts what the governor has seen and done.
type Stats struct {
	Throttled  int64   // 429 answers seen
	Overloaded int64   // 503 and 529 answers seen
	Pauses     int64   // global pauses started to honour a retry-after
	Decreases  int64   // times the pace was lowered
	Rate       float64 // current pace, requests/s
	MinRate    float64 // lowest pace so far, requests/s
}

// Governor is the one pacing limiter that every worker of a run shares.
type Governor struct {
	cfg  Config
	turn chan struct{} // holds one token: whoever has it is the next request out

	mu  sync.Mutex
	st  state
	lim *rate.Limiter
}

// New returns a Governor for cfg, filling in the defaults.
func New(cfg Config) *Governor {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = Sleep
	}
	if cfg.Burst < 1 {
		cfg.Burst = 1
	}
	if cfg.Ceiling < 0 || math.IsNaN(cfg.Ceiling) || math.IsInf(cfg.Ceiling, 0) {
		cfg.Ceiling = 0
	}
	if cfg.Initial <= 0 || math.IsNaN(cfg.Initial) || math.IsInf(cfg.Initial, 0) {
		cfg.Initial = defaultInitial
	}
	now := cfg.Now()
	st := initialState(cfg, now)
	g := &Governor{cfg: cfg, turn: make(chan struct{}, 1), st: st, lim: rate.NewLimiter(rate.Limit(st.rate), cfg.Burst)}
	g.turn <- struct{}{}
	return g
}

// Wait blocks until one request may go out: after any global pause and at the
// current pace. It returns ctx.Err() if ctx is done first.
//
// Workers queue for a single turn (FIFO, as a channel's receivers are), and
// the worker holding it takes the next slot of the limiter only once that
// slot is within horizon; it then hands the turn on and sleeps to its slot.
// Were every worker to reserve a slot on arrival, 16 workers would hold slots
// up to 16 intervals ahead at the pace of when they asked, and a change of
// pace would reach the server only after all of them had gone out. Were only
// one slot reserved at a time, a timer firing late on a busy machine would
// delay every later slot, and the pace would never be reached.
func (g *Governor) Wait(ctx context.Context) error {
	for {
		select {
		case <-g.turn:
		case <-ctx.Done():
			return ctx.Err()
		}
		d, res, err := g.takeSlot(ctx)
		g.turn <- struct{}{}
		if err != nil {
			return err
		}
		if d > 0 {
			if err := g.cfg.Sleep(ctx, d); err != nil {
				res.CancelAt(g.cfg.Now())
				return err
			}
		}
		// A pause that began while this worker slept to its slot applies to
		// it too; afterwards it queues again, so the workers resume at the
		// pace rather than all at once.
		if g.pauseLeft(g.cfg.Now()) == 0 {
			return nil
		}
	}
}

// takeSlot, called with the turn held, waits out any pause and reserves the
// next slot once it is within horizon, returning the delay until it.
func (g *Governor) takeSlot(ctx context.Context) (time.Duration, *rate.Reservation, error) {
	for {
		if err := ctx.Err(); err != nil {
			return 0, nil, err
		}
		d, res := g.admitAt(g.cfg.Now())
		if res != nil {
			return d, res, nil
		}
		if err := g.cfg.Sleep(ctx, d); err != nil {
			return 0, nil, err
		}
	}
}

// admitAt reserves the next slot of the limiter and returns the delay until
// it, or, when there is a pause or the slot is beyond horizon, returns how long
// to wait before asking again (and no reservation).
func (g *Governor) admitAt(now time.Time) (time.Duration, *rate.Reservation) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.Before(g.st.pausedUntil) {
		return g.st.pausedUntil.Sub(now), nil
	}
	// The limiter's tokens go negative by the slots already reserved; the
	// next slot is where they are back to one.
	next := time.Duration((1 - g.lim.TokensAt(now)) / g.st.rate * float64(time.Second))
	if next > horizon {
		return next - horizon, nil
	}
	res := g.lim.ReserveN(now, 1)
	return res.DelayFrom(now), res
}

// pauseLeft is how much of a global pause remains at now; 0 when none.
func (g *Governor) pauseLeft(now time.Time) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return max(g.st.pausedUntil.Sub(now), 0)
}

// Observe feeds one answer to the governor. Every worker calls it after every
// answer; it is safe for concurrent use.
func (g *Governor) Observe(s Signal) {
	g.observeAt(s, g.cfg.Now())
}

func (g *Governor) observeAt(s Signal, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	old := g.st.rate
	g.st = nextState(g.st, s, now, g.cfg)
	if g.st.rate != old {
		g.lim.SetLimitAt(now, rate.Limit(g.st.rate))
	}
}

// Rate returns the current pace in requests per second.
func (g *Governor) Rate() float64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.st.rate
}

// Stats returns the counts so far and the current and lowest pace.
func (g *Governor) Stats() Stats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return Stats{
		Throttled:  g.st.throttled,
		Overloaded: g.st.overloaded,
		Pauses:     g.st.pauses,
		Decreases:  g.st.decreases,
		Rate:       g.st.rate,
		MinRate:    g.st.minSeen,
	}
}

// Sleep waits d, or until ctx is done (then it returns ctx.Err()); the
// default Config.Sleep, shared with the retry waits of the pool.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Pacer is what a sender needs of the governor: Wait before every request,
// Observe every answer. Workers, listings and reconciliation share one.
type Pacer interface {
	Wait(ctx context.Context) error
	Observe(Signal)
}

var _ Pacer = (*Governor)(nil)
