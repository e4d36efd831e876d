// Package emulator is a local, faithful stand-in for the User Profiles API
// that keeps profiles in memory: create, retrieve, list, update and delete,
// under every contract the real API serves, chosen as it chooses them by the
// anthropic-beta header (user-profiles-2026-03-24, -2026-08-18, -2026-09-04,
// or none for GA). Each profile is stored once (see record) and rendered in
// the shape of the version that reads it. It answers with the real API's
// status codes, error bodies, request-id, Date and rate-limit headers, and
// can inject the failures a bulk client must survive into every write: 500,
// 529, a reset connection, a write whose answer is lost, and an answer that
// comes after the client's timeout.
//
// Every API request goes through the same checks, in this order; the first
// that fails answers:
//
//  1. Latency: the request waits Config.Latency (a client that gives up
//     meanwhile gets nothing, and nothing happens).
//  2. Authentication: 401 authentication_error.
//  3. Rate limit: 429 rate_limit_error; only authenticated requests spend
//     tokens.
//  4. Route: 404 not_found_error, 405 for a method the resource lacks.
//  5. Headers: anthropic-version and anthropic-beta, 400.
//  6. Body (creates and updates): 413 request_too_large, then 400 for the
//     version's JSON shape, then 400 for its value rules.
//  7. Target (updates and deletes): 404 not_found_error for an unknown id.
//  8. Fault (writes only): one draw from the seeded source.
//  9. The create, retrieve, list, update or delete itself.
package emulator

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"sync/atomic"
	"time"
)

// DefaultBurst is the bucket capacity used when Rate is set and Burst is not.
const DefaultBurst = 10

// DefaultSlowDelay is how long a slow fault holds its answer when
// Config.SlowDelay is zero; longer than the timeouts clients usually set.
const DefaultSlowDelay = 3 * time.Second

// MaxBodyBytes is the largest request body accepted; larger ones get 413.
const MaxBodyBytes = 1 << 20

// Config configures a Server. The zero value is an unlimited, fault-free
// emulator that accepts any API key.
type Config struct {
	// Addr is where Main listens; New ignores it.
	Addr string
	// Rate is the token bucket's refill in requests per second; 0 is unlimited.
	Rate float64
	// Burst is the bucket's capacity; 0 with a Rate means DefaultBurst.
	Burst int
	// Latency is added before answering every API request.
	Latency time.Duration
	// APIKey, when set, is the only key accepted; otherwise any key is.
	APIKey string
	// Seed seeds the fault source: the same seed and order of writes give
	// the same faults.
	Seed int64
	// Faults are the per-write fault probabilities.
	Faults Faults
	// SlowDelay is how long a slow fault waits before answering; 0 means
	// DefaultSlowDelay.
	SlowDelay time.Duration
	// Now is the clock for the times the server stamps and the rate limiter;
	// nil is time.Now.
	Now func() time.Time
	// ClockOffset shifts the server's clock (Now) by this much: the Date
	// header, created_at, updated_at, the rate-limit reset and the
	// onboarded_at check all read the shifted clock, as they would on a
	// server whose clock is off.
	ClockOffset time.Duration
}

// Server is an in-memory User Profiles API. Its methods are safe for
// concurrent use.
type Server struct {
	cfg     Config
	now     func() time.Time
	store   *store
	limiter *bucket // nil when unlimited
	faults  *faultDrawer
	handler http.Handler
	counts  counters
	// Shared by every profile without metadata, so that millions of
	// profiles do not each carry an empty map; never written.
	emptyMetadata map[string]string
}

type counters struct {
	requests    atomic.Int64
	created     atomic.Int64
	updated     atomic.Int64
	deleted     atomic.Int64
	rateLimited atomic.Int64
	faults      [numFaultKinds]atomic.Int64 // indexed like faultKinds
}

// New checks cfg and returns a Server ready to serve.
func New(cfg Config) (*Server, error) {
	if math.IsNaN(cfg.Rate) || math.IsInf(cfg.Rate, 0) || cfg.Rate < 0 {
		return nil, fmt.Errorf("rate %v: must be a number of requests per second, 0 or more", cfg.Rate)
	}
	if cfg.Burst < 0 {
		return nil, fmt.Errorf("burst %d: must be 0 or more", cfg.Burst)
	}
	if cfg.Burst > 0 && cfg.Rate == 0 {
		return nil, errors.New("burst is set but rate is not; a burst only means something with a rate")
	}
	if cfg.Latency < 0 {
		return nil, fmt.Errorf("latency %v: must not be negative", cfg.Latency)
	}
	if cfg.SlowDelay < 0 {
		return nil, fmt.Errorf("slow delay %v: must not be negative", cfg.SlowDelay)
	}
	if err := cfg.Faults.validate(); err != nil {
		return nil, err
	}
	if cfg.Rate > 0 && cfg.Burst == 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.SlowDelay == 0 {
		cfg.SlowDelay = DefaultSlowDelay
	}
	cfg.Faults = maps.Clone(cfg.Faults)
	s := &Server{
		cfg:           cfg,
		store:         newStore(),
		faults:        newFaultDrawer(cfg.Faults, cfg.Seed),
		emptyMetadata: map[string]string{},
	}
	base := cfg.Now
	if base == nil {
		base = time.Now
	}
	s.now = base
	if off := cfg.ClockOffset; off != 0 {
		s.now = func() time.Time { return base().Add(off) }
	}
	if cfg.Rate > 0 {
		s.limiter = newBucket(cfg.Rate, cfg.Burst, s.now())
	}
	s.handler = s.routes()
	return s, nil
}

// Config returns the configuration in effect, defaults filled in.
func (s *Server) Config() Config { return s.cfg }

// Handler returns the HTTP handler serving the API and the /_emulator endpoints.
func (s *Server) Handler() http.Handler { return s.handler }

// Stats counts what the emulator has seen; GET /_emulator/stats serves it.
type Stats struct {
	// Requests counts API requests, whatever their outcome; /_emulator ones are not counted.
	Requests int64 `json:"requests"`
	// Created counts profiles stored, including those of lost, slow and late
	// faults: it moves when the write is applied, whatever the client saw.
	Created int64 `json:"created"`
	// Updated counts updates applied, counted like Created.
	Updated int64 `json:"updated"`
	// Deleted counts deletes applied, counted like Created.
	Deleted int64 `json:"deleted"`
	// RateLimited counts 429 answers.
	RateLimited int64 `json:"rate_limited"`
	// Faults counts injected faults by kind; every kind is present.
	Faults map[string]int64 `json:"faults"`
	// Profiles is the number of profiles stored, deleted ones not included.
	Profiles int `json:"profiles"`
}

// Stats returns the current counts.
func (s *Server) Stats() Stats {
	st := Stats{
		Requests:    s.counts.requests.Load(),
		Created:     s.counts.created.Load(),
		Updated:     s.counts.updated.Load(),
		Deleted:     s.counts.deleted.Load(),
		RateLimited: s.counts.rateLimited.Load(),
		Faults:      make(map[string]int64, len(s.counts.faults)),
		Profiles:    s.store.len(),
	}
	for i, kind := range faultKinds() {
		st.Faults[kind] = s.counts.faults[i].Load()
	}
	return st
}

// Profiles returns every stored profile in its stored form, in creation
// order, deleted ones left out: for tests that check what a client really
// wrote.
func (s *Server) Profiles() []StoredProfile {
	v := s.store.view()
	out := make([]StoredProfile, 0, v.n)
	for i := range v.n {
		if r := v.at(i); !r.deleted {
			out = append(out, r.stored())
		}
	}
	return out
}
