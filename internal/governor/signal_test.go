package governor

import (
	"math"
	"net/http"
	"testing"
	"time"
)

func TestParseHeaders(t *testing.T) {
	now := time.Date(2026, 3, 24, 12, 0, 0, 500_000_000, time.UTC)
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	const (
		lim   = "anthropic-ratelimit-requests-limit"
		rem   = "anthropic-ratelimit-requests-remaining"
		reset = "anthropic-ratelimit-requests-reset"
		ra    = "retry-after"
	)
	resetAt := now.Add(30 * time.Second)
	tests := []struct {
		name   string
		h      http.Header
		status int
		want   Signal
	}{
		{"no headers", hdr(), 200, Signal{Status: 200}},
		{"transport error", nil, 0, Signal{}},
		{
			"all rate-limit headers",
			hdr(lim, "10", rem, "7", reset, resetAt.Format(time.RFC3339Nano)),
			200, Signal{Status: 200, Limit: 10, Remaining: 7, Reset: resetAt},
		},
		{
			"whole-second reset",
			hdr(lim, "4000", rem, "3999", reset, "2026-03-24T12:00:01Z"),
			200, Signal{Status: 200, Limit: 4000, Remaining: 3999, Reset: time.Date(2026, 3, 24, 12, 0, 1, 0, time.UTC)},
		},
		{
			"reset with an offset",
			hdr(lim, "10", rem, "7", reset, "2026-03-24T14:00:30.5+02:00"),
			200, Signal{Status: 200, Limit: 10, Remaining: 7, Reset: resetAt},
		},
		{"spaces tolerated", hdr(lim, " 10 ", rem, " 7"), 200, Signal{Status: 200, Limit: 10, Remaining: 7}},
		{"remaining above limit is clamped", hdr(lim, "10", rem, "12"), 200, Signal{Status: 200, Limit: 10, Remaining: 10}},
		{"garbage limit: no level", hdr(lim, "ten", rem, "7"), 200, Signal{Status: 200}},
		{"negative remaining: no level", hdr(lim, "10", rem, "-1"), 200, Signal{Status: 200}},
		{"remaining without limit: no level", hdr(rem, "7"), 200, Signal{Status: 200}},
		{"zero limit: no level", hdr(lim, "0", rem, "0"), 200, Signal{Status: 200}},
		{"garbage reset: level only", hdr(lim, "10", rem, "7", reset, "soon"), 200, Signal{Status: 200, Limit: 10, Remaining: 7}},
		{
			"a skewed client clock is corrected by Date",
			hdr(lim, "1000", rem, "800", reset, "2026-03-24T13:00:30Z", "Date", "Tue, 24 Mar 2026 13:00:00 GMT"),
			200, Signal{Status: 200, Limit: 1000, Remaining: 800, Reset: now.Add(30 * time.Second)},
		},
		{
			"a Date within a second or two is left alone",
			hdr(lim, "10", rem, "7", reset, resetAt.Format(time.RFC3339Nano), "Date", "Tue, 24 Mar 2026 12:00:01 GMT"),
			200, Signal{Status: 200, Limit: 10, Remaining: 7, Reset: resetAt},
		},
		{"retry-after seconds", hdr(ra, "1"), 429, Signal{Status: 429, RetryAfter: time.Second}},
		{"retry-after fraction", hdr(ra, "0.25"), 429, Signal{Status: 429, RetryAfter: 250 * time.Millisecond}},
		{"retry-after zero", hdr(ra, "0"), 429, Signal{Status: 429}},
		{"retry-after negative", hdr(ra, "-3"), 429, Signal{Status: 429}},
		{"retry-after garbage", hdr(ra, "later"), 429, Signal{Status: 429}},
		{"retry-after NaN", hdr(ra, "NaN"), 429, Signal{Status: 429}},
		{"retry-after huge", hdr(ra, "99999999999999999999"), 429, Signal{Status: 429, RetryAfter: maxRetryAfter}},
		{"retry-after infinite", hdr(ra, "+Inf"), 429, Signal{Status: 429, RetryAfter: maxRetryAfter}},
		{"retry-after HTTP date", hdr(ra, "Tue, 24 Mar 2026 12:00:05 GMT"), 503, Signal{Status: 503, RetryAfter: 4500 * time.Millisecond}},
		{"retry-after HTTP date in the past", hdr(ra, "Tue, 24 Mar 2026 11:00:00 GMT"), 429, Signal{Status: 429}},
		{"retry-after far HTTP date", hdr(ra, "Tue, 24 Mar 2027 12:00:00 GMT"), 429, Signal{Status: 429, RetryAfter: maxRetryAfter}},
		{
			"429 with everything",
			hdr(ra, "1", lim, "10", rem, "0", reset, resetAt.Format(time.RFC3339Nano)),
			429, Signal{Status: 429, RetryAfter: time.Second, Limit: 10, Remaining: 0, Reset: resetAt},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseHeaders(tt.h, tt.status, now)
			if got.Status != tt.want.Status || got.RetryAfter != tt.want.RetryAfter ||
				got.Limit != tt.want.Limit || got.Remaining != tt.want.Remaining || !got.Reset.Equal(tt.want.Reset) {
				t.Errorf("ParseHeaders = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	const (
		base = 100 * time.Millisecond
		top  = 5 * time.Second
	)
	tests := []struct {
		name       string
		attempt    int
		base, max  time.Duration
		retryAfter time.Duration
		rnd        float64
		want       time.Duration
	}{
		{"first attempt, half jitter", 1, base, top, 0, 0.5, 50 * time.Millisecond},
		{"doubles per attempt", 3, base, top, 0, 0.5, 200 * time.Millisecond},
		{"capped", 20, base, top, 0, 0.5, top / 2},
		{"full jitter reaches zero", 4, base, top, 0, 0, 0},
		{"never below retry-after", 1, base, top, time.Second, 0.5, time.Second},
		{"retry-after beyond the cap is still honoured", 30, base, top, 10 * time.Second, 0.99, 10 * time.Second},
		{"jitter above retry-after wins", 8, base, top, time.Second, 0.5, top / 2},
		{"attempt 0 counts as the first", 0, base, top, 0, 0.5, 50 * time.Millisecond},
		{"negative attempt counts as the first", -4, base, top, 0, 0.5, 50 * time.Millisecond},
		{"no base: only retry-after", 5, 0, top, 2 * time.Second, 0.5, 2 * time.Second},
		{"negative base: only retry-after", 5, -base, top, 0, 0.5, 0},
		{"no cap: doubling goes on", 11, base, 0, 0, 0.5, 51200 * time.Millisecond},
		{"no cap, huge attempt: no overflow", math.MaxInt, base, 0, 0, 0.5, math.MaxInt64 / 2},
		{"rnd below 0 is 0", 3, base, top, 0, -1, 0},
		{"rnd NaN is 0", 3, base, top, 0, math.NaN(), 0},
		{"rnd 1 stays under the window", 1, base, top, 0, 1, base - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Backoff(tt.attempt, tt.base, tt.max, tt.retryAfter, tt.rnd)
			if diff := got - tt.want; diff < -time.Microsecond || diff > time.Microsecond {
				t.Errorf("Backoff = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestBackoffBounds checks the promise over a grid: never below retry-after,
// never above the larger of the cap and retry-after, never negative.
func TestBackoffBounds(t *testing.T) {
	const (
		base = 50 * time.Millisecond
		top  = 3 * time.Second
	)
	for attempt := 1; attempt <= 80; attempt++ {
		for _, ra := range []time.Duration{0, 300 * time.Millisecond, time.Second, 10 * time.Second} {
			for _, rnd := range []float64{0, 0.25, 0.5, 0.75, 0.999999} {
				d := Backoff(attempt, base, top, ra, rnd)
				if d < ra || d < 0 || d > max(top, ra) {
					t.Fatalf("Backoff(%d, %v, %v, %v, %v) = %v out of bounds", attempt, base, top, ra, rnd, d)
				}
			}
		}
	}
}
