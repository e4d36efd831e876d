package emulator

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"
	"unsafe"
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
		p := s.add(&record{id: newProfileID()}, at)
		created := microTime(p.created)
		if !created.After(prev) || p.updated != p.created {
			t.Errorf("profile %d created_at %v after %v", i, created, prev)
		}
		prev = created
	}
	if got, _ := s.get(s.view().at(3).id); !microTime(got.created).Equal(t0.Add(time.Second).Truncate(time.Microsecond)) {
		t.Errorf("a clock back in order again keeps its own time: %v", microTime(got.created))
	}
}

// TestStoreSpansChunks lists across chunk boundaries.
func TestStoreSpansChunks(t *testing.T) {
	s := newStore()
	t0 := time.Unix(1_800_000_000, 0)
	n := 2*chunkSize + 5
	for i := range n {
		s.add(&record{id: newProfileID()}, t0.Add(time.Duration(i)*time.Millisecond))
	}
	q := listQuery{limit: 100, desc: true}
	seen := 0
	for {
		page, more := s.list(q)
		for j, p := range page {
			if want := s.view().at(n - 1 - seen - j); p.id != want.id {
				t.Fatalf("item %d is %s, want %s", seen+j, p.id, want.id)
			}
		}
		seen += len(page)
		if !more {
			break
		}
		last := page[len(page)-1]
		q.after = &cursor{At: last.created, ID: last.id}
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

// FuzzBody: decoding never panics, and a body accepted as a create under
// any version renders, in every form, as valid JSON whose stored form
// decodes to exactly what record.stored says: the hand-written renderer and
// the struct agree.
func FuzzBody(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"name":"a","metadata":{"k":"v"}}`, `{"external_id":null}`, `[]`, `{"name":"\ud800"}`, "{\"name\":\"\xff\"}", `{"a":1}`,
		`{"external_id":"x\u0001\"\\<>&\u2028","relationship":"resold","name":"N"}`,
		`{"access_type":"passthrough","external_user_onboarded_at":"2026-01-02T03:04:05.123456789+02:00"}`,
		`{"external_user_details":{"reference_id":"r","country":"US","email_hash":"e","name_hash":"n","onboarded_at":"2020-01-01T00:00:00Z","account_status":"blocked","entity_type":"non_profit"}}`,
	} {
		for v := range 4 {
			f.Add([]byte(s), uint8(v))
		}
	}
	now := time.Date(2026, 10, 21, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte, vn uint8) {
		v := version(vn % 4)
		_, _ = decodeBody(data, v, opUpdate) // must not panic either
		b, err := decodeBody(data, v, opCreate)
		if err != nil || b.validate(opCreate, now) != nil {
			return
		}
		r := newRecord(b, map[string]string{})
		r.created, r.updated = now.UnixMicro(), now.UnixMicro()
		for fm := formOf(v20260324); fm <= formStored; fm++ {
			out := appendProfile(nil, r, fm)
			if !json.Valid(out) {
				t.Fatalf("form %d: invalid JSON %s", fm, out)
			}
		}
		var got StoredProfile
		if err := json.Unmarshal(appendProfile(nil, r, formStored), &got); err != nil {
			t.Fatal(err)
		}
		if want := r.stored(); !reflect.DeepEqual(normal(got), normal(want)) {
			t.Fatalf("rendered stored form %+v, want %+v", got, want)
		}
	})
}

// normal makes two StoredProfiles comparable with reflect.DeepEqual: times
// lose their locations.
func normal(p StoredProfile) StoredProfile {
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	if t := p.ExternalUserDetails.OnboardedAt; t != nil {
		u := t.UTC()
		p.ExternalUserDetails.OnboardedAt = &u
	}
	return p
}

func TestAppendString(t *testing.T) {
	var all []byte
	for c := range 0x80 {
		all = append(all, byte(c))
	}
	for _, s := range []string{"", "plain", string(all), "é\u2028\u2029😀", `"\`, "<a&b>"} {
		out := appendString(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil || back != s {
			t.Errorf("appendString(%q) = %s, decodes to %q, %v", s, out, back, err)
		}
	}
}

func TestApplyUpdateLeavesOldAlone(t *testing.T) {
	now := time.Date(2026, 10, 21, 12, 0, 0, 0, time.UTC)
	b, err := decodeBody([]byte(`{"metadata":{"a":"1","b":"2"},"external_user_details":{"country":"FR"}}`), vGA, opCreate)
	if err != nil || b.validate(opCreate, now) != nil {
		t.Fatal(err)
	}
	old := newRecord(b, nil)
	u, err := decodeBody([]byte(`{"metadata":{"a":"","c":"3"},"external_user_details":{"email_hash":"h"}}`), vGA, opUpdate)
	if err != nil || u.validate(opUpdate, now) != nil {
		t.Fatal(err)
	}
	r, err := applyUpdate(old, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(old.metadata, map[string]string{"a": "1", "b": "2"}) || old.more.emailHash != "" || string(old.more.country[:]) != "FR" {
		t.Errorf("the stored record changed: %+v %+v", old, old.more)
	}
	if !reflect.DeepEqual(r.metadata, map[string]string{"b": "2", "c": "3"}) || r.more.emailHash != "h" || string(r.more.country[:]) != "FR" {
		t.Errorf("updated record %+v %+v", r, r.more)
	}
}

// TestRecordSize guards the memory a million stored profiles take.
func TestRecordSize(t *testing.T) {
	if n := unsafe.Sizeof(record{}); n > 96 {
		t.Errorf("record is %d bytes; keep it at most 96", n)
	}
}
