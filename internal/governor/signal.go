package governor

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Response headers the server paces with (docs/ARCHITECTURE.md, "The User
// Profiles API").
const (
	headerRetryAfter = "Retry-After"
	headerLimit      = "Anthropic-Ratelimit-Requests-Limit"
	headerRemaining  = "Anthropic-Ratelimit-Requests-Remaining"
	headerReset      = "Anthropic-Ratelimit-Requests-Reset"
	headerDate       = "Date"
)

// maxRetryAfter bounds a retry-after so that a garbage value can't overflow a
// duration or stall a run for days.
const maxRetryAfter = time.Hour

// maxClockSkew is how far the server's Date may differ from the local clock
// before the reset time is corrected by that difference. Date has whole-second
// resolution, so smaller differences are better left alone.
const maxClockSkew = 2 * time.Second

// Signal is what one answer tells the governor.
type Signal struct {
	Status     int           // HTTP status; 0 = transport error
	RetryAfter time.Duration // parsed retry-after, 0 if absent
	Limit      int           // anthropic-ratelimit-requests-limit (bucket capacity); 0 = absent
	Remaining  int           // anthropic-ratelimit-requests-remaining (whole tokens left)
	Reset      time.Time     // when the bucket is full again, on the local clock; zero if absent
}

// ParseHeaders reads the pacing signals of one answer received at now.
// Missing or malformed headers are treated as absent, never as an error.
func ParseHeaders(h http.Header, status int, now time.Time) Signal {
	s := Signal{Status: status, RetryAfter: parseRetryAfter(h.Get(headerRetryAfter), now)}
	limit, okL := parseCount(h.Get(headerLimit))
	rem, okR := parseCount(h.Get(headerRemaining))
	if !okL || !okR || limit == 0 {
		return s
	}
	s.Limit, s.Remaining = limit, min(rem, limit)
	reset, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(h.Get(headerReset)))
	if err != nil {
		return s
	}
	s.Reset = reset
	// reset is on the server's clock; a client clock that is off by seconds
	// would make the refill-rate estimate arbitrary, so rebase it using Date.
	if date, err := http.ParseTime(h.Get(headerDate)); err == nil {
		if skew := date.Sub(now); skew > maxClockSkew || skew < -maxClockSkew {
			s.Reset = now.Add(reset.Sub(date))
		}
	}
	return s
}

// parseRetryAfter accepts delay-seconds (fractions tolerated) or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if math.IsNaN(secs) || secs <= 0 {
			return 0
		}
		if secs >= maxRetryAfter.Seconds() {
			return maxRetryAfter
		}
		d = time.Duration(secs * float64(time.Second))
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// parseCount reads a non-negative integer header.
func parseCount(v string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// Backoff is the retry delay before a retryable outcome's next try, attempt
// being the 1-based count of tries so far: exponential from base with full
// jitter (rnd in [0,1)), capped at maxDelay (none when 0), never less than retryAfter.
func Backoff(attempt int, base, maxDelay, retryAfter time.Duration, rnd float64) time.Duration {
	if math.IsNaN(rnd) || rnd < 0 {
		rnd = 0
	}
	if rnd >= 1 {
		rnd = math.Nextafter(1, 0)
	}
	window := max(base, 0)
	for i := 1; i < attempt && window > 0; i++ {
		if maxDelay > 0 && window >= maxDelay {
			break
		}
		if window > math.MaxInt64/2 {
			window = math.MaxInt64
			break
		}
		window *= 2
	}
	if maxDelay > 0 && window > maxDelay {
		window = maxDelay
	}
	return max(time.Duration(rnd*float64(window)), retryAfter)
}
