package governor

import (
	"math"
	"testing"
	"time"
)

// at is a fixed instant plus d: the tests' clock.
func at(d time.Duration) time.Time { return time.Date(2026, 3, 24, 12, 0, 0, 0, time.UTC).Add(d) }

// obs is one answer fed to nextState at a given offset from at(0).
type obs struct {
	after time.Duration
	sig   Signal
}

func run(st state, cfg Config, seq []obs) state {
	for _, o := range seq {
		st = nextState(st, o.sig, at(o.after), cfg)
	}
	return st
}

// every returns n copies of sig spaced by step, starting at from.
func every(from, step time.Duration, n int, sig Signal) []obs {
	out := make([]obs, n)
	for i := range out {
		out[i] = obs{from + time.Duration(i)*step, sig}
	}
	return out
}

// steady is a state past discovery, pacing at r.
func steady(r float64) state {
	return state{rate: r, lastGrow: at(0), winStart: at(0), minSeen: r}
}

// answers are the signals the table tests feed to nextState.
type answers struct {
	ok, full, partial, low, tooMany, tooMany0, overload, netErr, srvErr, badReq, gateway, unavail Signal
}

func newAnswers() answers {
	return answers{
		ok:       Signal{Status: 200},
		full:     Signal{Status: 200, Limit: 10, Remaining: 9}, // one token missing: the answer's own
		partial:  Signal{Status: 200, Limit: 10, Remaining: 6}, // between the marks
		low:      Signal{Status: 200, Limit: 10, Remaining: 3}, // more than half empty
		tooMany:  Signal{Status: 429, RetryAfter: time.Second}, // throttled, with retry-after
		tooMany0: Signal{Status: 429},                          // throttled, no retry-after
		overload: Signal{Status: 529},                          // overloaded
		netErr:   Signal{Status: 0},                            // transport error
		srvErr:   Signal{Status: 500, Limit: 10, Remaining: 9}, // outcome unknown
		badReq:   Signal{Status: 400, Limit: 10, Remaining: 9}, // the row's fault, not the pace's
		gateway:  Signal{Status: 504},                          // timeout
		unavail:  Signal{Status: 503, RetryAfter: 2 * time.Second},
	}
}

// rem is a good answer from a bucket of 10 with n tokens left.
func rem(n int) Signal { return Signal{Status: 200, Limit: 10, Remaining: n} }

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestNextStateDecrease(t *testing.T) {
	a := newAnswers()
	tests := []struct {
		name       string
		st         state
		cfg        Config
		seq        []obs
		wantRate   float64
		wantPause  time.Time // zero: no pause
		wantPauses int64
		wantCuts   int64
		wantSlow   bool // still in slow start
	}{
		{
			name:     "429 lowers the pace and pauses everyone for retry-after",
			st:       steady(100),
			seq:      []obs{{0, a.tooMany}},
			wantRate: 100 * hardCut, wantPause: at(time.Second), wantPauses: 1, wantCuts: 1,
		},
		{
			name:     "429 without retry-after lowers the pace without a pause",
			st:       steady(100),
			seq:      []obs{{0, a.tooMany0}},
			wantRate: 100 * hardCut, wantCuts: 1,
		},
		{
			name: "the 429s of requests in flight during the pause lower only once",
			st:   steady(100),
			seq: []obs{
				{0, a.tooMany}, {5 * time.Millisecond, a.tooMany}, {20 * time.Millisecond, a.tooMany},
				{900 * time.Millisecond, a.tooMany},
			},
			// The last one asks for a pause to 1.9 s; honoured, but no new cut.
			wantRate: 100 * hardCut, wantPause: at(1900 * time.Millisecond), wantPauses: 1, wantCuts: 1,
		},
		{
			name:     "429s without a pause lower only once per window",
			st:       steady(100),
			seq:      []obs{{0, a.tooMany0}, {100 * time.Millisecond, a.tooMany0}, {hardWindow - time.Millisecond, a.tooMany0}},
			wantRate: 100 * hardCut, wantCuts: 1,
		},
		{
			name:     "a 429 after the window lowers again",
			st:       steady(100),
			seq:      []obs{{0, a.tooMany0}, {hardWindow, a.tooMany0}},
			wantRate: 100 * hardCut * hardCut, wantCuts: 2,
		},
		{
			name:     "a 429 after the pause is a new episode",
			st:       steady(100),
			seq:      []obs{{0, a.tooMany}, {1100 * time.Millisecond, a.tooMany}},
			wantRate: 100 * hardCut * hardCut, wantPause: at(2100 * time.Millisecond), wantPauses: 2, wantCuts: 2,
		},
		{
			name:     "529 lowers",
			st:       steady(100),
			seq:      []obs{{0, a.overload}},
			wantRate: 100 * overloadCut, wantCuts: 1,
		},
		{
			name:     "503 with retry-after lowers and pauses",
			st:       steady(100),
			seq:      []obs{{0, a.unavail}},
			wantRate: 100 * overloadCut, wantPause: at(2 * time.Second), wantPauses: 1, wantCuts: 1,
		},
		{
			name:     "a 429 ending slow start halves the pace",
			st:       state{rate: 160, slowStart: true, lastGrow: at(0), winStart: at(0)},
			seq:      []obs{{0, a.tooMany0}},
			wantRate: 80, wantCuts: 1,
		},
		{
			name:     "a 429 while probing near the mark lowers less",
			st:       state{rate: 101, mark: 100, lastGrow: at(0), winStart: at(0)},
			seq:      []obs{{0, a.tooMany0}},
			wantRate: 101 * nearMarkCut, wantCuts: 1,
		},
		{
			name:     "the pace never falls below the floor",
			st:       steady(minRate),
			seq:      []obs{{0, a.tooMany0}},
			wantRate: minRate, wantCuts: 1,
		},
		{
			name:     "a bucket that stays more than half empty lowers gently",
			st:       state{rate: 100, levelOK: true, lastGrow: at(0), winStart: at(0)},
			seq:      []obs{{0, rem(3)}, {softWindow, rem(3)}},
			wantRate: 100 * softCut, wantCuts: 1,
		},
		{
			name:     "a bucket that falls fast lowers at once",
			st:       state{rate: 100, levelOK: true, lastGrow: at(0), winStart: at(0)},
			seq:      []obs{{0, rem(4)}, {20 * time.Millisecond, rem(3)}, {40 * time.Millisecond, rem(2)}},
			wantRate: 100 * softCut, wantCuts: 1,
		},
		{
			name:     "a clump that empties the bucket, which then fills again, lowers nothing",
			st:       state{rate: 100, levelOK: true, lastGrow: at(0), winStart: at(0)},
			seq:      []obs{{0, rem(3)}, {softWindow, rem(4)}, {2 * softWindow, rem(5)}, {3 * softWindow, rem(1)}, {4 * softWindow, rem(2)}},
			wantRate: 100,
		},
		{
			name:     "a draining bucket lowers once per window",
			st:       state{rate: 100, levelOK: true, lastGrow: at(0), winStart: at(0)},
			seq:      every(0, 10*time.Millisecond, 100, rem(3)), // 0 to 990 ms
			wantRate: 100 * softCut, wantCuts: 1,
		},
		{
			name:     "a bucket still draining a window after the decrease lowers again",
			st:       state{rate: 100, levelOK: true, lastGrow: at(0), winStart: at(0)},
			seq:      every(0, 10*time.Millisecond, 101, rem(3)), // 0 to 1000 ms
			wantRate: 100 * softCut * softCut, wantCuts: 2,
		},
		{
			name:     "a partly drained bucket holds the pace",
			st:       state{rate: 100, levelOK: true, lastGrow: at(0), winStart: at(0)},
			seq:      every(0, 10*time.Millisecond, 100, a.partial),
			wantRate: 100,
		},
		{
			name:     "discovery holds at a few missing tokens",
			st:       state{rate: 130, slowStart: true, levelOK: true, lastGrow: at(0), winStart: at(0)},
			seq:      every(0, 10*time.Millisecond, 100, a.partial),
			wantRate: 130, wantSlow: true,
		},
		{
			name:     "discovery ends when the bucket keeps draining",
			st:       state{rate: 130, slowStart: true, levelOK: true, lastGrow: at(0), winStart: at(0)},
			seq:      []obs{{0, rem(6)}, {10 * time.Millisecond, rem(4)}, {20 * time.Millisecond, rem(2)}},
			wantRate: 130 * slowStartExitCut, wantCuts: 1,
		},
		{
			name:     "a level never seen full is not trusted to lower the pace",
			st:       steady(100),
			seq:      every(0, 10*time.Millisecond, 100, Signal{Status: 200, Limit: 6000, Remaining: 4}),
			wantRate: 100 * math.Pow(1+blindGrowth*0.01, 99),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(tt.st, tt.cfg, tt.seq)
			if !near(got.rate, tt.wantRate) {
				t.Errorf("rate = %v, want %v", got.rate, tt.wantRate)
			}
			if !got.pausedUntil.Equal(tt.wantPause) {
				t.Errorf("paused until %v, want %v", got.pausedUntil, tt.wantPause)
			}
			if got.pauses != tt.wantPauses {
				t.Errorf("pauses = %d, want %d", got.pauses, tt.wantPauses)
			}
			if got.decreases != tt.wantCuts {
				t.Errorf("decreases = %d, want %d", got.decreases, tt.wantCuts)
			}
			if got.slowStart != tt.wantSlow {
				t.Errorf("slow start = %v, want %v", got.slowStart, tt.wantSlow)
			}
			if got.minSeen > got.rate {
				t.Errorf("min rate %v above rate %v", got.minSeen, got.rate)
			}
		})
	}
}

func TestNextStateGrowth(t *testing.T) {
	a := newAnswers()
	tests := []struct {
		name     string
		st       state
		cfg      Config
		seq      []obs
		min, max float64 // bounds of the resulting pace
	}{
		{
			name: "good answers grow by steadyGrowth per second, not per answer",
			st:   state{rate: 50, levelOK: true, lastGrow: at(0), winStart: at(0)},
			seq:  every(10*time.Millisecond, 10*time.Millisecond, 100, a.full), // 1 s of answers
			// 100 compounding steps of 0.1% each: just over 10%.
			min: 50 * (1 + steadyGrowth), max: 50 * math.Exp(steadyGrowth),
		},
		{
			name: "16 answers at the same instant grow no more than one",
			st:   state{rate: 50, levelOK: true, lastGrow: at(0), winStart: at(0)},
			seq:  every(100*time.Millisecond, 0, 16, a.full),
			min:  50 * (1 + steadyGrowth*0.1), max: 50 * (1 + steadyGrowth*0.1),
		},
		{
			name: "growth never passes the ceiling",
			st:   state{rate: 97, levelOK: true, lastGrow: at(0), winStart: at(0)},
			cfg:  Config{Ceiling: 98},
			seq:  every(10*time.Millisecond, 10*time.Millisecond, 3000, a.full),
			min:  98, max: 98,
		},
		{
			name: "slow start doubles every slowStartDoubling",
			st:   state{rate: 10, slowStart: true, lastGrow: at(0), winStart: at(0)},
			seq:  every(10*time.Millisecond, 10*time.Millisecond, int(2*slowStartDoubling/(10*time.Millisecond)), a.full),
			min:  40, max: 40,
		},
		{
			name: "slow start without headers doubles every blindStartDoubling, and per blindStartAnswers answers",
			st:   state{rate: 10, slowStart: true, lastGrow: at(0), winStart: at(0)},
			seq:  every(10*time.Millisecond, 10*time.Millisecond, int(2*blindStartDoubling/(10*time.Millisecond)), a.ok),
			min:  40 * math.Pow(1+1/blindStartAnswers, float64(2*blindStartDoubling/(10*time.Millisecond))),
			max:  40 * math.Pow(1+1/blindStartAnswers, float64(2*blindStartDoubling/(10*time.Millisecond))),
		},
		{
			name: "slow start without headers is clocked by answers: many at once grow the pace",
			st:   state{rate: 100, slowStart: true, lastGrow: at(0), winStart: at(0)},
			seq:  every(0, 0, 32, a.ok),
			min:  100 * math.Pow(1+1/blindStartAnswers, 32), max: 100 * math.Pow(1+1/blindStartAnswers, 32),
		},
		{
			name: "answers do not clock slow start with headers: growth is per second there",
			st:   state{rate: 100, slowStart: true, lastGrow: at(0), winStart: at(0)},
			seq:  every(0, 0, 32, a.full),
			min:  100, max: 100,
		},
		{
			name: "without headers good answers grow too, but slowly",
			st:   steady(50),
			seq:  every(10*time.Millisecond, 10*time.Millisecond, 100, a.ok),
			min:  50 * (1 + blindGrowth), max: 50 * math.Exp(blindGrowth),
		},
		{
			name: "near the mark growth slows to probing",
			st:   state{rate: 99, mark: 100, levelOK: true, lastGrow: at(0), winStart: at(0)},
			seq:  every(10*time.Millisecond, 10*time.Millisecond, 100, a.full),
			min:  99 * (1 + probeGrowth), max: 99 * math.Exp(probeGrowth),
		},
		{
			name: "transport errors, 5xx and timeouts don't raise the pace",
			st:   steady(50),
			seq: append(append(every(10*time.Millisecond, 10*time.Millisecond, 100, a.netErr),
				every(1010*time.Millisecond, 10*time.Millisecond, 100, a.srvErr)...),
				every(2010*time.Millisecond, 10*time.Millisecond, 100, a.gateway)...),
			min: 50, max: 50,
		},
		{
			name: "a 400 is the row's fault: the pace still grows",
			st:   state{rate: 50, levelOK: true, lastGrow: at(0), winStart: at(0)},
			seq:  every(10*time.Millisecond, 10*time.Millisecond, 100, a.badReq),
			min:  50 * (1 + steadyGrowth), max: 50 * math.Exp(steadyGrowth),
		},
		{
			name: "no growth while the workers use less than half the pace",
			st:   state{rate: 50, levelOK: true, lastGrow: at(0), winStart: at(0), tput: 10},
			seq:  every(100*time.Millisecond, 100*time.Millisecond, 50, a.full), // 10 answers/s
			min:  50, max: 50,
		},
		{
			name: "slow start stops at four times the answer rate",
			st:   state{rate: 30, slowStart: true, levelOK: true, lastGrow: at(0), winStart: at(0), tput: 10},
			seq:  every(100*time.Millisecond, 100*time.Millisecond, 20, a.full), // 10 answers/s
			min:  40, max: 40,
		},
		{
			name: "a long quiet gap grows no more than maxGrowStep",
			st:   state{rate: 50, levelOK: true, lastGrow: at(0), winStart: at(time.Hour - 100*time.Millisecond)},
			seq:  []obs{{time.Hour, a.full}},
			min:  50 * (1 + steadyGrowth), max: 50 * (1 + steadyGrowth),
		},
		{
			name: "good answers that arrive during a pause don't grow",
			st:   state{rate: 50, levelOK: true, pausedUntil: at(time.Second), lastGrow: at(time.Second), winStart: at(0)},
			seq:  every(0, 10*time.Millisecond, 50, a.full),
			min:  50, max: 50,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := run(tt.st, tt.cfg, tt.seq)
			if st.rate < tt.min-1e-9 || st.rate > tt.max+1e-9 {
				t.Errorf("rate = %v, want in [%v, %v]", st.rate, tt.min, tt.max)
			}
		})
	}
}

func TestNextStateHeadersSetPace(t *testing.T) {
	// 200 tokens missing from a per-minute bucket of 1000, full again in 10 s:
	// the bucket refills at 20/s.
	credible := func(rem int, reset time.Duration) Signal {
		return Signal{Status: 200, Limit: 1000, Remaining: rem, Reset: at(reset)}
	}
	tests := []struct {
		name string
		st   state
		cfg  Config
		sig  Signal
		want float64
	}{
		{"the refill rate sets the pace directly, up", steady(5), Config{}, credible(800, 10*time.Second), 20},
		{"the refill rate sets the pace directly, down", steady(90), Config{}, credible(800, 10*time.Second), 20},
		{"it ends discovery", state{rate: 10, slowStart: true}, Config{}, credible(800, 10*time.Second), 20},
		{"capped by the ceiling", steady(5), Config{Ceiling: 15}, credible(800, 10*time.Second), 15},
		{"less as the bucket empties", steady(5), Config{}, credible(0, 50*time.Second), 20 * softCut},
		{"a reset too near to trust leaves the level in charge", steady(50), Config{}, Signal{Status: 200, Limit: 10, Remaining: 9, Reset: at(10 * time.Millisecond)}, 50},
		{"a reset in the past is ignored", steady(50), Config{}, credible(800, -time.Second), 50},
		{"a full bucket gives no estimate", steady(50), Config{}, credible(1000, 10*time.Second), 50},
		{"a bucket of one token", steady(5), Config{}, Signal{Status: 200, Limit: 1, Remaining: 0, Reset: at(5 * time.Second)}, 0.2 * softCut},
		{"a reset beyond an hour is garbage", steady(50), Config{}, credible(800, 24*time.Hour), 50},
		{"a change within the dead band is ignored", steady(20.2), Config{}, credible(800, 10*time.Second), 20.2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := nextState(tt.st, tt.sig, at(0), tt.cfg)
			if !near(got.rate, tt.want) {
				t.Errorf("rate = %v, want %v", got.rate, tt.want)
			}
			if tt.st.slowStart && got.slowStart {
				t.Error("still in slow start")
			}
		})
	}
}

func TestNextStateEstimateSmoothed(t *testing.T) {
	st := steady(20)
	// Concurrent answers with estimates of 20 and one outlier of 40.
	for i, rate := range []float64{20, 20, 40, 20} {
		reset := time.Duration(200 / rate * float64(time.Second))
		st = nextState(st, Signal{Status: 200, Limit: 1000, Remaining: 800, Reset: at(reset)}, at(0), Config{})
		if st.rate > 26 {
			t.Fatalf("answer %d: one outlier moved the pace to %v", i, st.rate)
		}
	}
}

func TestInitialState(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		wantRate  float64
		wantSlow  bool
		wantFloor float64
	}{
		{"discovery starts at the initial pace in slow start", Config{Initial: 10}, 10, true, minRate},
		{"a ceiling is where the pace starts", Config{Ceiling: 98, Initial: 10}, 98, false, minRate},
		{"a ceiling under the floor lowers the floor", Config{Ceiling: 0.05, Initial: 10}, 0.05, false, 0.05},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := initialState(tt.cfg, at(0))
			if st.rate != tt.wantRate || st.slowStart != tt.wantSlow {
				t.Errorf("rate %v slow start %v, want %v %v", st.rate, st.slowStart, tt.wantRate, tt.wantSlow)
			}
			if f := floorRate(tt.cfg); f != tt.wantFloor {
				t.Errorf("floor = %v, want %v", f, tt.wantFloor)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		status int
		want   answerKind
	}{
		{200, answerGood}, {201, answerGood}, {400, answerGood}, {401, answerGood}, {404, answerGood},
		{413, answerGood}, {429, answerHard}, {503, answerHard}, {529, answerHard},
		{0, answerNeutral}, {408, answerNeutral}, {500, answerNeutral}, {502, answerNeutral}, {504, answerNeutral},
		{100, answerNeutral},
	}
	for _, tt := range tests {
		if got := classify(tt.status); got != tt.want {
			t.Errorf("classify(%d) = %v, want %v", tt.status, got, tt.want)
		}
	}
}
