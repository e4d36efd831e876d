package emulator

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/provision/provision/internal/profile"
)

func TestBucket(t *testing.T) {
	t0 := time.Date(2026, 3, 24, 0, 0, 0, 0, time.UTC)
	b := newBucket(4, 2, t0) // a token every 250ms, two at most
	steps := []struct {
		at            time.Duration
		allowed       bool
		remaining     int
		reset         time.Duration // from the step's time
		retryAfterSec int
	}{
		{0, true, 1, 250 * time.Millisecond, 0},
		{0, true, 0, 500 * time.Millisecond, 0},
		{0, false, 0, 500 * time.Millisecond, 1},
		{100 * time.Millisecond, false, 0, 500 * time.Millisecond, 1}, // 0.4 token: 150ms to go, rounded up to 1 s
		{250 * time.Millisecond, true, 0, 500 * time.Millisecond, 0},
		{10 * time.Second, true, 1, 250 * time.Millisecond, 0}, // capped at the burst
		{9 * time.Second, true, 0, 500 * time.Millisecond, 0},  // the clock stepped back: no refill
	}
	for i, s := range steps {
		now := t0.Add(s.at)
		q := b.take(now)
		if q.allowed != s.allowed || q.remaining != s.remaining || q.limit != 2 || !q.reset.Equal(now.Add(s.reset)) {
			t.Errorf("step %d: %+v, want allowed %v remaining %d reset +%v", i, q, s.allowed, s.remaining, s.reset)
		}
		if !q.allowed && retryAfterSeconds(q.retryAfter) != s.retryAfterSec {
			t.Errorf("step %d: retry after %v -> %d s, want %d", i, q.retryAfter, retryAfterSeconds(q.retryAfter), s.retryAfterSec)
		}
	}
	if p := b.peek(t0.Add(9 * time.Second)); !p.allowed || p.remaining != 0 {
		t.Errorf("peek spent or refused: %+v", p)
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int{0: 1, time.Millisecond: 1, time.Second: 1, 1001 * time.Millisecond: 2, 7 * time.Second: 7} {
		if got := retryAfterSeconds(d); got != want {
			t.Errorf("retryAfterSeconds(%v) = %d, want %d", d, got, want)
		}
	}
}

func TestHasLoneSurrogate(t *testing.T) {
	for in, want := range map[string]bool{
		`{"a":"\ud83d\ude00"}`:   false,
		`{"a":"\uD83D\uDE00"}`:   false,
		`{"a":"\u00e9\n\\u"}`:    false,
		`{"a":"\\ud800"}`:        false, // an escaped backslash, then text
		`{"a":"\ud800"}`:         true,
		`{"a":"\ud800\u0041"}`:   true,
		`{"a":"\ude00"}`:         true,
		`{"\udbff":"x"}`:         true,
		`{"a":"x","b":"\udfff"}`: true,
	} {
		if got := hasLoneSurrogate([]byte(in)); got != want {
			t.Errorf("hasLoneSurrogate(%s) = %v, want %v", in, got, want)
		}
	}
}

func TestCompareFoldASCII(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"alice", "ALICE", 0}, {"Alice", "bob", -1}, {"_x", "a", -1}, {"Z", "a", 1},
		{"ab", "abc", -1}, {"É", "é", -1}, // only ASCII folds; É is U+00C9, é U+00E9
	} {
		if got := compareFoldASCII(tt.a, tt.b); got != tt.want {
			t.Errorf("compareFoldASCII(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestStoreTimesStrictlyIncrease(t *testing.T) {
	s := newStore()
	t0 := time.Date(2026, 3, 24, 12, 0, 0, 999, time.FixedZone("X", 3600))
	times := []time.Time{t0, t0, t0.Add(-time.Hour), t0.Add(time.Second)}
	var prev time.Time
	for i, at := range times {
		p := s.add(profile.Profile{ID: newProfileID()}, at)
		if !p.CreatedAt.After(prev) || p.CreatedAt.Location() != time.UTC || p.CreatedAt.Nanosecond()%1000 != 0 {
			t.Errorf("profile %d created_at %v after %v", i, p.CreatedAt, prev)
		}
		prev = p.CreatedAt
	}
	if got, _ := s.get(s.view().at(3).ID); !got.CreatedAt.Equal(t0.Add(time.Second).Truncate(time.Microsecond)) {
		t.Errorf("a clock back in order again keeps its own time: %v", got.CreatedAt)
	}
}

// TestStoreSpansChunks lists across chunk boundaries.
func TestStoreSpansChunks(t *testing.T) {
	s := newStore()
	t0 := time.Unix(1_800_000_000, 0)
	n := 2*chunkSize + 5
	for i := range n {
		s.add(profile.Profile{ID: newProfileID()}, t0.Add(time.Duration(i)*time.Millisecond))
	}
	q := listQuery{limit: 100, desc: true}
	seen := 0
	for {
		page, more := s.list(q)
		for j, p := range page {
			if want := s.view().at(n - 1 - seen - j); p.ID != want.ID {
				t.Fatalf("item %d is %s, want %s", seen+j, p.ID, want.ID)
			}
		}
		seen += len(page)
		if !more {
			break
		}
		last := page[len(page)-1]
		q.after = &cursor{At: last.CreatedAt.UnixMicro(), ID: last.ID}
	}
	if seen != n {
		t.Errorf("listed %d, want %d", seen, n)
	}
}

func TestFaultDrawer(t *testing.T) {
	f := Faults{Fault500: 0.1, Fault529: 0.05, FaultReset: 0.2, FaultLost: 0.15, FaultSlow: 0.1, FaultLate: 0.05}
	a, b := newFaultDrawer(f, 3), newFaultDrawer(f, 3)
	const n = 200_000
	var counts [numFaultKinds]int
	for range n {
		k := a.draw()
		if k2 := b.draw(); k != k2 {
			t.Fatal("two drawers with one seed disagree")
		}
		if k != noFault {
			counts[k]++
		}
	}
	for i, kind := range faultKinds() {
		p := f[kind]
		if got, sigma := float64(counts[i]), math.Sqrt(n*p*(1-p)); math.Abs(got-n*p) > 5*sigma {
			t.Errorf("%s: %v of %d, want %v ± %v", kind, got, n, n*p, 5*sigma)
		}
	}
	if newFaultDrawer(nil, 1).draw() != noFault {
		t.Error("no faults configured, yet one was drawn")
	}
}

// FuzzDecodeCreate: the decoder never panics, and what it accepts survives
// a round trip through the request's own JSON encoding.
func FuzzDecodeCreate(f *testing.F) {
	for _, s := range []string{`{}`, `{"name":"a","metadata":{"k":"v"}}`, `{"external_id":null}`, `[]`, `{"name":"\ud800"}`, "{\"name\":\"\xff\"}", `{"a":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeCreate(body)
		if err != nil {
			return
		}
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		req2, err := decodeCreate(again)
		if err != nil {
			t.Fatalf("re-encoded %s rejected: %v", again, err)
		}
		if len(req.Metadata) == 0 {
			req.Metadata = nil
		}
		if len(req2.Metadata) == 0 {
			req2.Metadata = nil
		}
		if !reflect.DeepEqual(req, req2) {
			t.Fatalf("round trip changed %+v into %+v", req, req2)
		}
	})
}
