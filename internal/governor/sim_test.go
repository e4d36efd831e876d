package governor

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// simServer is a token-bucket server like the emulator's: capacity burst,
// refilled at rate per second, a 429 with a whole-second retry-after when empty.
type simServer struct {
	rate, burst float64
	tokens      float64
	last        time.Time
	noHeaders   bool
	limitHeader int // anthropic-ratelimit-requests-limit to send; 0 = the burst
}

func (s *simServer) refill(now time.Time) {
	if now.After(s.last) {
		s.tokens = math.Min(s.burst, s.tokens+now.Sub(s.last).Seconds()*s.rate)
		s.last = now
	}
}

// take decides one request at now.
func (s *simServer) take(now time.Time) int {
	s.refill(now)
	if s.tokens >= 1 {
		s.tokens--
		return http.StatusOK
	}
	return http.StatusTooManyRequests
}

// headers renders the bucket's state at now, as the server sends it.
func (s *simServer) headers(status int, now time.Time) http.Header {
	s.refill(now)
	h := http.Header{}
	h.Set("Date", now.UTC().Format(http.TimeFormat))
	if status == http.StatusTooManyRequests {
		wait := math.Ceil((1 - s.tokens) / s.rate)
		h.Set("Retry-After", strconv.Itoa(int(math.Max(wait, 1))))
	}
	if s.noHeaders {
		return h
	}
	// As the emulator does: reset is when the bucket would be full if it held
	// exactly remaining tokens now, so (limit-remaining)/(reset-now) is the
	// refill rate at the server's instant.
	full := time.Duration((s.burst - math.Floor(s.tokens)) / s.rate * float64(time.Second))
	h.Set("Anthropic-Ratelimit-Requests-Limit", strconv.Itoa(cmpOr(s.limitHeader, int(s.burst))))
	h.Set("Anthropic-Ratelimit-Requests-Remaining", strconv.Itoa(int(math.Floor(s.tokens))))
	h.Set("Anthropic-Ratelimit-Requests-Reset", now.Add(full).UTC().Format(time.RFC3339Nano))
	return h
}

type simScenario struct {
	name        string
	limit       float64       // server's refill rate, requests/s; 0 = simLimit
	burst       float64       // server's bucket capacity; 0 = simBurst
	latency     time.Duration // 0 = simLatency
	duration    time.Duration // 0 = simDuration
	cfg         Config
	workers     int
	noHeaders   bool
	limitHeader int  // limit header of an inconsistent server; 0 = the burst
	decideLate  bool // the server sleeps its latency before taking a token
	headersLate bool // the server takes a token on arrival, renders headers after its latency
	jitter      time.Duration
	lateness    time.Duration // a sleep ends up to this much late, as on a busy machine
}

type simResult struct {
	sent, ok, throttled int
	achieved            float64 // successes per second / server limit
	share429            float64
	stats               Stats
}

const (
	simLimit    = 100.0
	simBurst    = 10.0
	simLatency  = 20 * time.Millisecond
	simDuration = 50 * time.Second
)

type simEvent struct {
	at     time.Time
	seq    int
	worker int
	kind   int
	status int
	header http.Header
}

const (
	evReady  = iota // the worker calls Wait and queues for the turn
	evAdmit         // the worker holding the turn asks for a slot
	evSlot          // the worker's slot has come (it handed the turn on when it took the slot)
	evDecide        // the request reaches the server's bucket
	evAnswer        // the answer reaches the worker
)

type simQueue []simEvent

func (q simQueue) Len() int { return len(q) }
func (q simQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q simQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)   { *q = append(*q, x.(simEvent)) }
func (q *simQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// simulate runs the governor's own admitAt/observeAt (the pure decision and the
// rate.Limiter, both driven by explicit times) against simServer with
// sc.workers workers in simulated time. It mirrors Governor.Wait step by step
// and the worker pool's retry of a 429 after Backoff.
func simulate(sc simScenario) simResult {
	sc.limit = cmpOr(sc.limit, simLimit)
	sc.burst = cmpOr(sc.burst, simBurst)
	sc.latency = cmpOr(sc.latency, simLatency)
	sc.duration = cmpOr(sc.duration, simDuration)
	start := time.Date(2026, 3, 24, 12, 0, 0, 0, time.UTC)
	end := start.Add(sc.duration)
	cfg := sc.cfg
	cfg.Now = func() time.Time { return start }
	g := New(cfg)
	srv := &simServer{rate: sc.limit, burst: sc.burst, tokens: sc.burst, last: start, noHeaders: sc.noHeaders, limitHeader: sc.limitHeader}
	rnd := rand.New(rand.NewPCG(1, 2))
	latency := func() time.Duration {
		if sc.jitter == 0 {
			return sc.latency
		}
		return sc.latency - sc.jitter + time.Duration(rnd.Int64N(int64(2*sc.jitter)+1))
	}

	// wake is when a sleep of d begun at t ends.
	wake := func(t time.Time, d time.Duration) time.Time {
		if d <= 0 {
			return t
		}
		if sc.lateness > 0 {
			d += time.Duration(rnd.Int64N(int64(sc.lateness) + 1))
		}
		return t.Add(d)
	}
	q := &simQueue{}
	seq := 0
	push := func(e simEvent) {
		seq++
		e.seq = seq
		heap.Push(q, e)
	}
	attempts := make([]int, sc.workers)
	for w := range sc.workers {
		push(simEvent{at: start, worker: w, kind: evReady})
	}
	holder := -1 // the worker holding Wait's turn
	var queue []int
	release := func(at time.Time) {
		holder = -1
		if len(queue) > 0 {
			holder, queue = queue[0], queue[1:]
			push(simEvent{at: at, worker: holder, kind: evAdmit})
		}
	}
	var res simResult
	for q.Len() > 0 {
		e := heap.Pop(q).(simEvent)
		if e.at.After(end) {
			break
		}
		switch e.kind {
		case evReady:
			if holder >= 0 {
				queue = append(queue, e.worker)
				continue
			}
			holder = e.worker
			push(simEvent{at: e.at, worker: e.worker, kind: evAdmit})
		case evAdmit:
			d, r := g.admitAt(e.at)
			if r == nil {
				push(simEvent{at: wake(e.at, d), worker: e.worker, kind: evAdmit})
				continue
			}
			release(e.at)
			push(simEvent{at: wake(e.at, d), worker: e.worker, kind: evSlot})
		case evSlot:
			if g.pauseLeft(e.at) > 0 {
				push(simEvent{at: e.at, worker: e.worker, kind: evReady})
				continue
			}
			res.sent++
			lat := latency()
			if sc.decideLate {
				push(simEvent{at: e.at.Add(lat), worker: e.worker, kind: evDecide})
				continue
			}
			status := srv.take(e.at)
			var h http.Header
			if !sc.headersLate {
				h = srv.headers(status, e.at)
			}
			push(simEvent{at: e.at.Add(lat), worker: e.worker, kind: evAnswer, status: status, header: h})
		case evDecide:
			status := srv.take(e.at)
			push(simEvent{at: e.at, worker: e.worker, kind: evAnswer, status: status, header: srv.headers(status, e.at)})
		case evAnswer:
			h := e.header
			if h == nil {
				h = srv.headers(e.status, e.at)
			}
			sig := ParseHeaders(h, e.status, e.at)
			g.observeAt(sig, e.at)
			if e.status == http.StatusOK {
				res.ok++
				attempts[e.worker] = 0
				push(simEvent{at: e.at, worker: e.worker, kind: evReady})
				continue
			}
			res.throttled++
			attempts[e.worker]++
			b := Backoff(attempts[e.worker], 100*time.Millisecond, 5*time.Second, sig.RetryAfter, rnd.Float64())
			push(simEvent{at: e.at.Add(b), worker: e.worker, kind: evReady})
		}
	}
	res.achieved = float64(res.ok) / sc.duration.Seconds() / sc.limit
	if res.sent > 0 {
		res.share429 = float64(res.throttled) / float64(res.sent)
	}
	res.stats = g.Stats()
	return res
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func TestSimulation(t *testing.T) {
	tests := []struct {
		sc          simScenario
		minAchieved float64
		max429      float64
	}{
		{simScenario{name: "discover", workers: 16}, 0.90, 0.05},
		{simScenario{name: "discover/64 workers", workers: 64}, 0.90, 0.05},
		{simScenario{name: "discover/jitter", workers: 16, jitter: 5 * time.Millisecond}, 0.90, 0.05},
		{simScenario{name: "discover/decide late", workers: 16, decideLate: true}, 0.90, 0.05},
		{simScenario{name: "discover/headers late", workers: 16, headersLate: true}, 0.90, 0.05},
		// The length of make bench's runs: 3000 rows, and 600 with BENCH_QUICK.
		// The emulator sleeps its latency before taking a token.
		{simScenario{name: "discover/30 s", workers: 16, decideLate: true, duration: 30 * time.Second}, 0.90, 0.05},
		{simScenario{name: "discover/6 s", workers: 16, decideLate: true, duration: 6 * time.Second}, 0.90, 0.05},
		{simScenario{name: "ceiling 98/6 s", workers: 16, decideLate: true, cfg: Config{Ceiling: 98}, duration: 6 * time.Second}, 0.97, 0},
		{simScenario{name: "ceiling 98", workers: 16, cfg: Config{Ceiling: 98}}, 0.97, 0},
		{simScenario{name: "ceiling 98/jitter", workers: 16, cfg: Config{Ceiling: 98}, jitter: 5 * time.Millisecond}, 0.97, 0},
		{simScenario{name: "ceiling 98/decide late", workers: 16, cfg: Config{Ceiling: 98}, decideLate: true}, 0.97, 0},
		{simScenario{name: "ceiling 98/64 workers", workers: 64, cfg: Config{Ceiling: 98}}, 0.97, 0},
		{simScenario{name: "ceiling 98/late timers", workers: 16, cfg: Config{Ceiling: 98}, decideLate: true, lateness: 20 * time.Millisecond}, 0.97, 0},
		{simScenario{name: "discover/late timers", workers: 16, decideLate: true, lateness: 20 * time.Millisecond}, 0.90, 0.05},
		// A busy machine: the server's 20 ms sleeps end 5 to 35 ms after they
		// begin, so requests reach its bucket in clumps, and the client's
		// timers fire up to 30 ms late.
		{simScenario{name: "discover/busy machine", workers: 16, decideLate: true, jitter: 15 * time.Millisecond, lateness: 30 * time.Millisecond}, 0.90, 0.05},
		{simScenario{name: "ceiling 98/busy machine", workers: 16, cfg: Config{Ceiling: 98}, decideLate: true, jitter: 15 * time.Millisecond, lateness: 30 * time.Millisecond}, 0.97, 0},
		// A ceiling above the server's limit: the level brings the pace down.
		{simScenario{name: "ceiling 150", workers: 16, cfg: Config{Ceiling: 150}}, 0.90, 0.05},
		// Without rate-limit headers only 429s tell; each costs a 1 s pause.
		{simScenario{name: "discover/no headers", workers: 16, noHeaders: true}, 0.80, 0.01},
		// A limit header on another scale than remaining (6000 per minute over
		// a bucket of 10) must not be read as a bucket that is always draining.
		{simScenario{name: "discover/inconsistent limit", workers: 16, limitHeader: 6000}, 0.80, 0.01},
		// Few workers: the workers are the bottleneck, not the pace.
		{simScenario{name: "discover/1 worker", workers: 1}, 0.49, 0},
		// Other servers: a lower and a higher limit than the benchmark's, and
		// a per-minute API limit (50 RPM: bucket 50, refill 50/60 per second)
		// whose reset is far enough ahead to give the refill rate directly.
		{simScenario{name: "discover/limit 5", workers: 16, limit: 5, burst: 5}, 0.90, 0.05},
		{simScenario{name: "discover/limit 400", workers: 16, limit: 400, burst: 40, duration: 20 * time.Second}, 0.90, 0.05},
		{simScenario{name: "discover/50 rpm", workers: 4, limit: 50.0 / 60, burst: 50, latency: time.Second, duration: 20 * time.Minute}, 0.90, 0.05},
	}
	for _, tt := range tests {
		t.Run(tt.sc.name, func(t *testing.T) {
			t.Parallel()
			r := simulate(tt.sc)
			t.Logf("%s: sent %d, ok %d, 429 %d: achieved %.3f of the limit, 429 share %.4f; pauses %d, decreases %d, final rate %.1f, min rate %.1f",
				tt.sc.name, r.sent, r.ok, r.throttled, r.achieved, r.share429, r.stats.Pauses, r.stats.Decreases, r.stats.Rate, r.stats.MinRate)
			if r.achieved < tt.minAchieved {
				t.Errorf("achieved %.3f of the limit, want >= %.2f", r.achieved, tt.minAchieved)
			}
			if r.share429 > tt.max429 {
				t.Errorf("429 share %.4f, want <= %.2f", r.share429, tt.max429)
			}
		})
	}
}

// The simulation must not depend on anything but its inputs.
func TestSimulationDeterministic(t *testing.T) {
	sc := simScenario{name: "discover", workers: 16, jitter: 5 * time.Millisecond}
	if a, b := simulate(sc), simulate(sc); a != b {
		t.Errorf("two runs differ: %+v vs %+v", a, b)
	}
}

// Against a fast server that sends no rate-limit headers (no limit at all, or
// one that says nothing) the workers, not the pace, must soon be the
// bottleneck: discovery is clocked by the answers, so a short run does not
// spend a second of it ramping up from the initial pace.
func TestSimulationBlindRampReachesTheWorkers(t *testing.T) {
	const workers, latency, d = 16, 2 * time.Millisecond, 4 * time.Second
	r := simulate(simScenario{name: "unlimited, no headers", workers: workers, noHeaders: true,
		limit: 1e6, burst: 1e6, latency: latency, duration: d})
	ideal := float64(workers) * d.Seconds() / latency.Seconds()
	t.Logf("%d ok in %v, %.3f of what %d workers at %v can do; final rate %.0f", r.ok, d, float64(r.ok)/ideal, workers, latency, r.stats.Rate)
	if got := float64(r.ok) / ideal; got < 0.92 {
		t.Errorf("%d ok in %v = %.3f of the workers' %v, want >= 0.92", r.ok, d, got, ideal)
	}
}
