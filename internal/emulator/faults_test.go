package emulator_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/provision/provision/internal/emulator"
)

// outcome classifies what a client saw for one create.
func outcome(err error) string {
	var ae *anthropic.Error
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &ae):
		return fmt.Sprintf("%d %s", ae.StatusCode, ae.Type())
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	default:
		return "connection"
	}
}

func TestParseFaults(t *testing.T) {
	f, err := emulator.ParseFaults(" lost=0.05, 500=0.1 ,slow=0,reset=1e-2,529=.2")
	if err != nil {
		t.Fatal(err)
	}
	if want := (emulator.Faults{"500": 0.1, "529": 0.2, "reset": 0.01, "lost": 0.05, "slow": 0}); !mapsEqual(f, want) {
		t.Errorf("got %v, want %v", f, want)
	}
	if got := f.String(); got != "500=0.1,529=0.2,reset=0.01,lost=0.05" {
		t.Errorf("String() = %q", got)
	}
	if f, err := emulator.ParseFaults("  "); err != nil || len(f) != 0 || f.String() != "none" {
		t.Errorf("empty spec: %v %v", f, err)
	}
	for _, tt := range []struct{ spec, want string }{
		{"500", "KIND=PROBABILITY"},
		{"500=0.1,", "empty entry"},
		{"boom=0.1", `unknown kind "boom"; use one of 500, 529, reset, lost, slow, late`},
		{"500=x", `"x" is not a number`},
		{"500=1.5", "between 0 and 1"},
		{"500=-0.1", "between 0 and 1"},
		{"500=NaN", "between 0 and 1"},
		{"500=0.1,500=0.2", "given twice"},
		{"500=0.6,lost=0.6", "add up to 1.2"},
	} {
		if _, err := emulator.ParseFaults(tt.spec); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseFaults(%q) = %v, want an error containing %q", tt.spec, err, tt.want)
		}
	}
	if _, err := emulator.New(emulator.Config{Faults: emulator.Faults{"oops": 0.1}}); err == nil {
		t.Error("New accepted an unknown fault kind")
	}
}

func mapsEqual(a, b emulator.Faults) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestFaultRates injects each kind at probability 0.3 over 400 concurrent
// creates and checks what the client saw, what the stats say and what was
// really stored.
func TestFaultRates(t *testing.T) {
	const n, p, workers = 400, 0.3, 32
	kinds := []struct {
		kind, seen string
		creates    bool // whether the faulty request still stores its profile
	}{
		{"500", "500 api_error", false},
		{"529", "529 overloaded_error", false},
		{"reset", "connection", false},
		{"lost", "connection", true},
		{"slow", "timeout", true},
	}
	for _, k := range kinds {
		t.Run(k.kind, func(t *testing.T) {
			t.Parallel()
			cfg := emulator.Config{Seed: int64(len(k.kind)) + 1, Faults: emulator.Faults{k.kind: p}, SlowDelay: 5 * time.Second}
			var opts []option.RequestOption
			if k.kind == "slow" {
				opts = append(opts, option.WithRequestTimeout(2*time.Second)) // well short of SlowDelay, well past a loaded machine's slowest plain answer
			}
			e := newEnv(t, cfg, opts...)
			seen := make([]string, n)
			var wg sync.WaitGroup
			next := make(chan int)
			for range workers {
				wg.Go(func() {
					for i := range next {
						_, _, err := e.create(context.Background(), createReq{ExternalID: str(fmt.Sprint("row-", i))})
						seen[i] = outcome(err)
					}
				})
			}
			for i := range n {
				next <- i
			}
			close(next)
			wg.Wait()

			faulty := 0
			for i, s := range seen {
				switch s {
				case k.seen:
					faulty++
				case "ok":
				default:
					t.Errorf("row-%d: client saw %q, want ok or %q", i, s, k.seen)
				}
			}
			mean, sigma := n*p, math.Sqrt(n*p*(1-p))
			if math.Abs(float64(faulty)-mean) > 5*sigma {
				t.Errorf("%d of %d creates faulted, want %.0f ± %.0f", faulty, n, mean, 5*sigma)
			}
			st := e.statsOverHTTP()
			wantCreated := int64(n - faulty)
			if k.creates {
				wantCreated = n
			}
			if st.Faults[k.kind] != int64(faulty) || st.Requests != n || st.Created != wantCreated || st.Profiles != int(wantCreated) {
				t.Errorf("stats %+v: want %d %s faults, %d requests, %d created", st, faulty, k.kind, n, wantCreated)
			}
			stored := map[string]int{}
			for _, p := range e.storedProfiles() {
				stored[*p.ExternalID]++
			}
			for i, s := range seen {
				id := fmt.Sprint("row-", i)
				want := 1
				if s != "ok" && !k.creates {
					want = 0
				}
				if stored[id] != want {
					t.Errorf("%s (client saw %q) is stored %d times, want %d", id, s, stored[id], want)
				}
			}
			t.Logf("%s: %d of %d faulted", k.kind, faulty, n)
		})
	}
}

func TestSlowAnswersAfterDelay(t *testing.T) {
	e := newEnv(t, emulator.Config{Faults: emulator.Faults{"slow": 1}, SlowDelay: 150 * time.Millisecond})
	start := time.Now()
	p, _, err := e.create(context.Background(), createReq{Name: str("patient")})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 150*time.Millisecond || *p.Name != "patient" {
		t.Errorf("answered %+v after %v, want the profile after at least 150ms", p, d)
	}
}

// A late fault creates the profile only after the client gave up: a listing
// made at once finds nothing, one made after the delay finds it, once.
func TestLateCreatesAfterTheClientGaveUp(t *testing.T) {
	const delay = 300 * time.Millisecond
	e := newEnv(t, emulator.Config{Faults: emulator.Faults{emulator.FaultLate: 1}, SlowDelay: delay},
		option.WithRequestTimeout(50*time.Millisecond))
	start := time.Now()
	_, _, err := e.create(context.Background(), createReq{ExternalID: str("late-1")})
	if got := outcome(err); got != "timeout" {
		t.Fatalf("client saw %q, want timeout", got)
	}
	if ps := e.storedProfiles(); len(ps) != 0 && time.Since(start) < delay {
		t.Fatalf("stored %d profiles before the delay, want 0", len(ps))
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(e.storedProfiles()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	ps := e.storedProfiles()
	if len(ps) != 1 || *ps[0].ExternalID != "late-1" || time.Since(start) < delay {
		t.Fatalf("after the delay: %+v, want late-1 stored once", ps)
	}
	if st := e.srv.Stats(); st.Faults[emulator.FaultLate] != 1 || st.Created != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestFaultsApplyOnlyToValidCreates: invalid creates, reads and lists draw
// no fault, so they never shift the seeded sequence.
func TestFaultsApplyOnlyToValidCreates(t *testing.T) {
	e := newEnv(t, emulator.Config{Faults: emulator.Faults{"500": 1}})
	_, _, err := e.create(context.Background(), []byte(`{"name":""}`))
	wantAPIError(t, err, http.StatusBadRequest, "invalid_request_error")
	if _, err := e.client.Beta.UserProfiles.List(context.Background(), anthropic.BetaUserProfileListParams{}, beta()); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.create(context.Background(), createReq{})
	wantAPIError(t, err, http.StatusInternalServerError, "api_error")
	if st := e.srv.Stats(); st.Faults["500"] != 1 || st.Created != 0 {
		t.Errorf("stats %+v", st)
	}
}

// faultSequence sends creates one by one and names what each suffered; a
// dropped connection is told apart as reset or lost by whether a profile
// appeared.
func faultSequence(t *testing.T, seed int64) []string {
	e := newEnv(t, emulator.Config{Seed: seed, Faults: emulator.Faults{"500": 0.15, "529": 0.15, "reset": 0.15, "lost": 0.15}})
	var seq []string
	for range 120 {
		before := e.srv.Stats().Created
		_, _, err := e.create(context.Background(), createReq{})
		s := outcome(err)
		if s == "connection" {
			s = "reset"
			if e.srv.Stats().Created > before {
				s = "lost"
			}
		}
		seq = append(seq, s)
	}
	return seq
}

func TestSameSeedSameFaults(t *testing.T) {
	a, b, c := faultSequence(t, 7), faultSequence(t, 7), faultSequence(t, 8)
	if !slices.Equal(a, b) {
		t.Errorf("seed 7 twice gave different faults:\n%v\n%v", a, b)
	}
	if slices.Equal(a, c) {
		t.Error("seeds 7 and 8 gave the same faults")
	}
	kinds := map[string]bool{}
	for _, s := range a {
		kinds[s] = true
	}
	if len(kinds) != 5 {
		t.Errorf("sequence %v does not show all of ok, 500, 529, reset and lost", a)
	}
}
