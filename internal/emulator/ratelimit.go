package emulator

import (
	"math"
	"sync"
	"time"
)

// bucket is a token bucket holding up to burst tokens, refilled at rate
// tokens per second. Time is passed in, so tests drive it without sleeping.
type bucket struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

// quota is the bucket's answer to one request, and what the rate-limit
// headers report.
type quota struct {
	allowed    bool
	limit      int           // bucket capacity
	remaining  int           // whole tokens left after this request
	reset      time.Time     // see fill
	retryAfter time.Duration // until one token is available; set when !allowed
}

func newBucket(rate float64, burst int, now time.Time) *bucket {
	return &bucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: now}
}

// refill adds the tokens earned since the last call. A clock that steps
// backwards earns nothing rather than taking tokens away.
func (b *bucket) refill(now time.Time) {
	if now.After(b.last) {
		b.tokens = math.Min(b.burst, b.tokens+b.rate*now.Sub(b.last).Seconds())
		b.last = now
	}
}

// take spends one token if there is one.
func (b *bucket) take(now time.Time) quota {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(now)
	if b.tokens >= 1 {
		b.tokens--
		return b.quota(now, true)
	}
	q := b.quota(now, false)
	q.retryAfter = time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
	return q
}

// peek reports the bucket's state without spending, for responses refused
// before the limiter is consulted (401).
func (b *bucket) peek(now time.Time) quota {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(now)
	return b.quota(now, true)
}

// quota reports remaining as whole tokens and reset as the moment the bucket
// holds limit tokens if it holds exactly remaining now. That makes
// (limit-remaining)/(reset-now) equal the refill rate exactly, which is how a
// client infers the rate; the true full time is earlier by the fraction of a
// token held above remaining, so reset is never too early.
func (b *bucket) quota(now time.Time, allowed bool) quota {
	remaining := int(math.Floor(b.tokens))
	missing := b.burst - float64(remaining)
	return quota{
		allowed:   allowed,
		limit:     int(b.burst),
		remaining: remaining,
		reset:     now.Add(time.Duration(missing / b.rate * float64(time.Second))),
	}
}

// retryAfterSeconds renders d as the whole seconds of a retry-after header:
// rounded up, so a client that honours it finds a token, and at least 1.
func retryAfterSeconds(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	if s < 1 {
		return 1
	}
	return s
}
