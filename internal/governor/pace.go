package governor

import (
	"math"
	"time"
)

// Tuning of the pacing decision. They are constants, not configuration: the
// simulation test in sim_test.go is what justifies each value, and changing one
// should mean running it again.
const (
	// defaultInitial is the discovery pace before anything is known. Even a
	// small tier's bucket (50 requests a minute) absorbs it until the level
	// signal turns it down, and slow start reaches 100/s from it in well
	// under a second, where starting at 10/s cost a further 0.25 s of ramp.
	defaultInitial = 20.0
	// minRate keeps a run of 429s from pacing the workers down to nothing.
	minRate = 0.1

	// slowStartDoubling is how fast discovery grows before the first sign of
	// the server's limit.
	slowStartDoubling = 250 * time.Millisecond
	// blindStartDoubling replaces slowStartDoubling while no answer has
	// carried rate-limit headers: a server that sends none (the emulator
	// without --rate, a proxy) has no bucket level to watch, and the first
	// 429 ends slow start anyway, so the ramp need not be held back for a
	// signal that will never come.
	blindStartDoubling = 40 * time.Millisecond
	// blindStartAnswers clocks discovery without headers by the answers too,
	// as TCP's slow start is clocked by acknowledgements: each good answer
	// adds 1/blindStartAnswers to the pace, so with 16 requests in flight the
	// pace at most doubles per round trip on top of the timed doubling. Below
	// about 140/s the timed doubling dominates; against a fast server that
	// sends no headers (one without a limit, or a local one) the pace reaches
	// what the workers can do in a few round trips instead of a second.
	blindStartAnswers = 32.0
	// steadyGrowth is the growth per second of good answers after that sign:
	// gentle, so the bucket's level (or a 429) stops it before it overshoots far.
	steadyGrowth = 0.10
	// probeGrowth is the growth per second near the mark, the pace at which
	// the server last showed its limit: the pace comes back quickly to just
	// under it and then creeps, so it spends its time close to the limit
	// rather than swinging across it.
	probeGrowth = 0.01
	// blindGrowth replaces steadyGrowth for a server that sends no rate-limit
	// headers: the pace overshoots the limit until the bucket is empty, by
	// more the faster it grows.
	blindGrowth = 0.03
	// blindProbeGrowth replaces probeGrowth for a server that sends no
	// rate-limit headers: there only a 429 tells where the limit is, and each
	// costs a retry-after pause, so probing is slower and the 429s rarer.
	blindProbeGrowth = 0.0025
	// probeBelow and probeAbove bound, relative to the mark, where the pace
	// probes slowly: it comes back quickly to just under the mark, and once
	// well past it the server's limit has evidently been raised.
	probeBelow = 0.03
	probeAbove = 0.1
	// maxGrowStep bounds the growth one answer can apply after a long quiet gap.
	maxGrowStep = time.Second

	// hardCut is the multiplicative decrease on a 429 (a 503 or 529 takes
	// overloadCut).
	hardCut = 0.7
	// slowStartHardCut is the decrease when slow start ends with a 429: the
	// pace may have doubled since the bucket began to drain.
	slowStartHardCut = 0.5
	// nearMarkCut replaces hardCut when the 429 came while probing near the
	// mark: the overshoot is small then, and the pause has refilled the bucket.
	nearMarkCut = 0.9
	// overloadCut is the decrease on a 503 or 529.
	overloadCut = 0.9
	// hardWindow groups the 429s of requests already in flight into one decrease.
	hardWindow = 500 * time.Millisecond
	// slowStartExitCut undoes most of the last doubling when discovery first
	// sees the bucket keep draining, so it leaves slow start below the limit.
	slowStartExitCut = 0.75
	// nearlyFull is the share of the bucket (at least one token) that may be
	// missing while the pace still grows: after its own request a worker sees
	// one token fewer even when the pace is well under the refill rate.
	nearlyFull = 0.2
	// draining is the share of the bucket missing beyond which the pace is
	// decreased if the level keeps falling; between nearlyFull and it, the
	// pace holds.
	draining = 0.5
	// softCut is the decrease when the bucket is draining but not yet empty.
	softCut = 0.9
	// softWindow is the least time between two soft decreases, so the answers to
	// requests sent before a decrease don't trigger another one, and the time
	// over which a low bucket must keep falling to cause one.
	softWindow = 500 * time.Millisecond
	// fallFast is a fall of the bucket, in tokens, quick enough to decrease at
	// once rather than after softWindow.
	fallFast = 2.0

	// minEstimateSpan is the shortest time-to-full for which (limit-remaining) /
	// (reset-now) is trusted: a whole-second reset, the network's latency and a
	// Date-header correction are all small against it.
	minEstimateSpan = 5 * time.Second
	// maxEstimateSpan is the longest time-to-full believed: beyond it the reset
	// is more likely garbage than a limit worth pacing to.
	maxEstimateSpan = time.Hour
	// estimateWeight smooths the estimates of concurrent answers so one noisy
	// header does not move the pace by itself.
	estimateWeight = 0.25
	// setDeadBand is the relative change below which an estimate leaves the pace alone.
	setDeadBand = 0.02
	// estimateMaxAge is how long a smoothed estimate is kept between credible answers.
	estimateMaxAge = 10 * time.Second

	// tputWindow is the window over which the answer rate is measured.
	tputWindow = 250 * time.Millisecond
	// tputFactor bounds the pace to this multiple of the measured answer rate,
	// so the pace doesn't grow without limit when the workers, not the pace,
	// are the bottleneck (growth that nothing has tested).
	tputFactor = 2.0
	// slowStartTputFactor replaces tputFactor in slow start: the pace doubles
	// within one window there, so the measured rate trails it by half, and a
	// tighter bound would stall discovery.
	slowStartTputFactor = 4.0
	// blindStartTputFactor replaces slowStartTputFactor while no answer has
	// carried rate-limit headers: the measured rate lags a window behind a
	// pace that doubles every blindStartDoubling.
	blindStartTputFactor = 8.0
	// blindStartTputWindow replaces tputWindow while discovering without
	// headers: the answers clock the growth there, and over a long window the
	// measured rate would trail the pace so far that the bound, not the
	// answers, set the speed of discovery.
	blindStartTputWindow = 50 * time.Millisecond
)

// state is everything the pacing decision depends on. nextState maps it and
// one answer to the next state; nothing in it reads a clock.
type state struct {
	rate        float64   // current pace, requests/s
	slowStart   bool      // discovering: doubling until the first sign of the server's limit
	pausedUntil time.Time // no request leaves before this (retry-after honoured by all)
	lastCut     time.Time // time of the last decrease of any kind
	lastHard    time.Time // time of the last decrease caused by a 429, 503 or 529
	lastGrow    time.Time // growth accrues from this time on
	levelOK     bool      // the bucket has been seen nearly full, so remaining and limit agree in scale
	mark        float64   // pace at which the server last showed its limit; 0 = not yet
	lowAt       time.Time // start of the current watch of a more than half empty bucket; zero when not that low
	lowLevel    float64   // remaining tokens at lowAt
	est         float64   // smoothed refill rate from credible headers; 0 = none
	estAt       time.Time // time of the last credible estimate

	winStart time.Time // start of the current answer-rate window
	winCount int       // answers in the current window
	tput     float64   // answers/s over the last complete window; 0 = not measured yet

	throttled  int64   // 429s seen
	overloaded int64   // 503s and 529s seen
	pauses     int64   // global pauses started
	decreases  int64   // decreases applied
	minSeen    float64 // lowest pace so far
}

// initialState is where a governor starts: at the ceiling when the user gave
// one (the user knows the limit), otherwise at the initial pace in slow start.
func initialState(cfg Config, now time.Time) state {
	r := cfg.Initial
	if cfg.Ceiling > 0 {
		r = cfg.Ceiling
	}
	r = clampRate(r, cfg)
	return state{
		rate:      r,
		slowStart: cfg.Ceiling == 0,
		lastGrow:  now,
		winStart:  now,
		minSeen:   r,
	}
}

// answerKind sorts answers by what they say about the pace.
type answerKind int

const (
	answerGood    answerKind = iota // the server answered normally: the pace is acceptable
	answerHard                      // 429, 503, 529: the pace is too high
	answerNeutral                   // transport error, timeout, other 5xx: says nothing about the pace
)

func classify(status int) answerKind {
	switch {
	case status == 429, status == 503, status == 529:
		return answerHard
	case status == 408:
		return answerNeutral
	case status >= 200 && status < 500:
		return answerGood
	default:
		return answerNeutral
	}
}

// nextState is the pacing decision: the state after one answer s received at
// now. It is pure, so every rule is tested with fixed times.
func nextState(st state, s Signal, now time.Time, cfg Config) state {
	st = countAnswer(st, now)
	switch classify(s.Status) {
	case answerHard:
		st = onHard(st, s, now, cfg)
	case answerGood:
		if s.Limit > 0 {
			st = onLevel(st, s, now, cfg)
		} else {
			st = grow(st, now, cfg)
		}
	}
	if st.rate < st.minSeen {
		st.minSeen = st.rate
	}
	return st
}

// countAnswer measures the rate of answers, which bounds growth.
func countAnswer(st state, now time.Time) state {
	st.winCount++
	window := tputWindow
	if st.slowStart && !st.levelOK {
		window = blindStartTputWindow
	}
	if el := now.Sub(st.winStart); el >= window {
		st.tput = float64(st.winCount) / el.Seconds()
		st.winStart = now
		st.winCount = 0
	}
	return st
}

// onHard handles a 429, 503 or 529. The requests in flight when the server
// ran dry all come back refused at about the same time; only the first of
// them decreases the pace and starts the pause, and a refusal that arrives
// while paused was sent before the pause and carries no news.
func onHard(st state, s Signal, now time.Time, cfg Config) state {
	if s.Status == 429 {
		st.throttled++
	} else {
		st.overloaded++
	}
	paused := now.Before(st.pausedUntil)
	if s.RetryAfter > 0 {
		// Honour the longest retry-after the server has asked for, even from
		// an answer of the same episode.
		if until := now.Add(s.RetryAfter); until.After(st.pausedUntil) {
			st.pausedUntil = until
			if !paused {
				st.pauses++
			}
		}
	}
	if paused || (!st.lastHard.IsZero() && now.Sub(st.lastHard) < hardWindow) {
		return st
	}
	f := hardCut
	switch {
	case s.Status != 429:
		// Overload (503, 529) says the server is busy, not where its rate
		// limit is: back off gently and keep the mark, so that a steady
		// trickle of overload answers does not walk the pace down to nothing.
		f = overloadCut
	case st.slowStart:
		f = slowStartHardCut
	case nearMark(st):
		f = nearMarkCut
	}
	if s.Status == 429 {
		st.mark = st.rate
	}
	st.rate = clampRate(st.rate*f, cfg)
	st.slowStart = false
	st.lastHard = now
	st.lastCut = now
	st.decreases++
	st.lastGrow = later(now, st.pausedUntil)
	if now.Before(st.pausedUntil) {
		// Nothing is sent while paused; measuring across the pause would
		// understate the answer rate and block growth afterwards.
		st.winStart = st.pausedUntil
		st.winCount = 0
	}
	return st
}

// onLevel handles a good answer that carries the rate-limit headers. The
// bucket's level is an early warning: it falls as soon as the pace exceeds the
// refill rate, long before it is empty and the server refuses.
func onLevel(st state, s Signal, now time.Time, cfg Config) state {
	limit := float64(s.Limit)
	deficit := limit - math.Max(0, math.Min(float64(s.Remaining), limit))

	if e := estimate(s, now); e > 0 {
		if st.est == 0 || now.Sub(st.estAt) > estimateMaxAge {
			st.est = e
		} else {
			st.est += estimateWeight * (e - st.est)
		}
		st.estAt = now
	} else if st.est > 0 && now.Sub(st.estAt) > estimateMaxAge {
		st.est = 0
	}

	full := math.Max(1, limit*nearlyFull) // tokens missing from a "nearly full" bucket
	if deficit <= full {
		st.levelOK = true
	}
	if deficit <= limit*draining {
		st.lowAt = time.Time{}
	}
	switch {
	case st.est > 0:
		// Headers that can be trusted give the refill rate: take it directly,
		// less by up to softCut as the bucket empties, so the pace settles
		// where the bucket's level holds steady rather than toggling.
		depth := 1.0
		if limit > full {
			depth = math.Min(1, math.Max(0, (deficit-full)/(limit-full)))
		}
		st = setRate(st, st.est*(1-(1-softCut)*depth), now, cfg)
		st.slowStart = false
		st.lastGrow = now
		return st
	case deficit <= full:
		// (Nearly) full: the server has room.
		return grow(st, now, cfg)
	case !st.levelOK:
		// A level never seen full may be on another scale than the limit (a
		// per-minute limit over a per-second bucket, say): reading it as
		// "draining" would lower the pace for ever. Only 429s count then.
		return grow(st, now, cfg)
	case deficit > limit*draining:
		// More than half empty. Requests that reach the bucket in a clump
		// (the server's own timers, a busy machine) leave it this low too,
		// and just under the refill rate it fills again only slowly; so
		// decrease only when it keeps falling: fast, or for a softWindow.
		st.lastGrow = now
		rem := limit - deficit
		if st.lowAt.IsZero() {
			st.lowAt, st.lowLevel = now, rem
			return st
		}
		falling := rem <= st.lowLevel-fallFast || (now.Sub(st.lowAt) >= softWindow && rem <= st.lowLevel)
		switch {
		case falling && st.slowStart:
			// The first sure sign of the limit during discovery: the pace
			// was doubling, so it is well above the refill rate by now.
			st.slowStart = false
			st = cut(st, slowStartExitCut, now, cfg)
			st.lowAt, st.lowLevel = now, rem
		case falling && now.Sub(st.lastCut) >= softWindow:
			st = cut(st, softCut, now, cfg)
			st.lowAt, st.lowLevel = now, rem
		case now.Sub(st.lowAt) >= softWindow:
			st.lowAt, st.lowLevel = now, rem // filling again, or just decreased: watch afresh
		}
		return st
	default:
		// Between the marks: hold, so the pace neither climbs further nor
		// reacts to every token. Discovery holds too: a clump of requests
		// empties a few tokens even far below the limit, so this is no sure
		// sign yet, but a pace above the limit drains on into the next case.
		st.lastGrow = now
		return st
	}
}

// estimate is the refill rate implied by one answer's headers, or 0 when they
// can't be trusted: (limit − remaining) tokens come back in (reset − now).
// Over a short span the rounding of reset and the network's latency dominate,
// so only spans between minEstimateSpan and maxEstimateSpan count.
func estimate(s Signal, now time.Time) float64 {
	if s.Limit <= 0 || s.Remaining >= s.Limit || s.Reset.IsZero() {
		return 0
	}
	span := s.Reset.Sub(now)
	if span < minEstimateSpan || span > maxEstimateSpan {
		return 0
	}
	return float64(s.Limit-max(s.Remaining, 0)) / span.Seconds()
}

// grow raises the pace for the time since the last growth: doubling every
// slowStartDoubling in slow start, steadyGrowth per second afterwards (slower
// near the mark and without headers). It never passes the ceiling nor
// tputFactor times the measured answer rate.
func grow(st state, now time.Time, cfg Config) state {
	blindStart := st.slowStart && !st.levelOK
	if !now.After(st.lastGrow) && !blindStart {
		return st
	}
	dt := max(0, min(now.Sub(st.lastGrow), maxGrowStep).Seconds())
	st.lastGrow = now
	capf := tputFactor
	switch {
	case st.slowStart && !st.levelOK:
		capf = blindStartTputFactor
	case st.slowStart:
		capf = slowStartTputFactor
	}
	if st.tput > 0 && st.rate >= capf*st.tput {
		return st
	}
	var r float64
	switch {
	case st.slowStart && !st.levelOK:
		r = st.rate * math.Exp2(dt/blindStartDoubling.Seconds()) * (1 + 1/blindStartAnswers)
	case st.slowStart:
		r = st.rate * math.Exp2(dt/slowStartDoubling.Seconds())
	case nearMark(st) && st.levelOK:
		r = st.rate * (1 + probeGrowth*dt)
	case nearMark(st):
		r = st.rate * (1 + blindProbeGrowth*dt)
	case st.levelOK:
		r = st.rate * (1 + steadyGrowth*dt)
	default:
		r = st.rate * (1 + blindGrowth*dt)
	}
	if st.tput > 0 {
		r = math.Min(r, capf*st.tput)
	}
	if r > st.rate {
		st.rate = clampRate(r, cfg)
	}
	return st
}

// nearMark reports whether the pace is within the probing band around the mark.
func nearMark(st state) bool {
	return st.mark > 0 && st.rate >= st.mark*(1-probeBelow) && st.rate <= st.mark*(1+probeAbove)
}

// cut multiplies the pace by f and records the decrease.
func cut(st state, f float64, now time.Time, cfg Config) state {
	st.mark = st.rate
	st.rate = clampRate(st.rate*f, cfg)
	st.lastCut = now
	st.lastGrow = now
	st.decreases++
	return st
}

// setRate sets the pace from the headers. Changes within setDeadBand are
// ignored: concurrent answers differ a little, and the pace should not follow
// each of them.
func setRate(st state, r float64, now time.Time, cfg Config) state {
	r = clampRate(r, cfg)
	if math.Abs(r-st.rate) <= setDeadBand*st.rate {
		return st
	}
	if r < st.rate {
		st.lastCut = now
		st.decreases++
	}
	st.rate = r
	return st
}

// clampRate keeps a pace within [floor, ceiling].
func clampRate(r float64, cfg Config) float64 {
	if math.IsNaN(r) {
		r = floorRate(cfg)
	}
	if cfg.Ceiling > 0 && r > cfg.Ceiling {
		r = cfg.Ceiling
	}
	return math.Max(r, floorRate(cfg))
}

// floorRate is the least pace: minRate, or the ceiling when that is lower.
func floorRate(cfg Config) float64 {
	if cfg.Ceiling > 0 && cfg.Ceiling < minRate {
		return cfg.Ceiling
	}
	return minRate
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
