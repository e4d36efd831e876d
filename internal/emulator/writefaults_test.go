package emulator

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
)

// seenAs classifies what a client saw for one request.
func seenAs(err error) string {
	var ae *anthropic.Error
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &ae):
		return fmt.Sprintf("%d %s", ae.StatusCode, ae.Type())
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "connection"
}

// TestFaultsOnUpdateAndDelete injects each fault kind into an update and a
// delete sent through the SDK, and checks what the client saw, whether the
// write was applied, and what the stats count. The profile is stored
// directly so that no create spends the fault.
func TestFaultsOnUpdateAndDelete(t *testing.T) {
	const delay = 300 * time.Millisecond
	for _, k := range []struct {
		kind, seen string
		applied    bool
	}{
		{Fault500, "500 api_error", false},
		{Fault529, "529 overloaded_error", false},
		{FaultReset, "connection", false},
		{FaultLost, "connection", true},
		{FaultSlow, "timeout", true},
		{FaultLate, "timeout", true},
	} {
		for _, write := range []string{"update", "delete"} {
			t.Run(k.kind+"/"+write, func(t *testing.T) {
				t.Parallel()
				s, err := New(Config{Faults: Faults{k.kind: 1}, SlowDelay: delay})
				if err != nil {
					t.Fatal(err)
				}
				r := s.store.add(&record{id: newProfileID(), name: "before", metadata: s.emptyMetadata}, time.Now())
				ts := httptest.NewServer(s.Handler())
				defer ts.Close()
				client := anthropic.NewClient(option.WithBaseURL(ts.URL), option.WithAPIKey("k"), option.WithMaxRetries(0),
					option.WithRequestTimeout(100*time.Millisecond))
				applied := func() bool {
					got, ok := s.store.get(r.id)
					if write == "delete" {
						return !ok
					}
					return got.name == "after"
				}
				start := time.Now()
				if write == "update" {
					_, err = client.UserProfiles.Update(context.Background(), r.id, anthropic.UserProfileUpdateParams{Name: anthropic.String("after")})
				} else {
					_, err = client.UserProfiles.Delete(context.Background(), r.id, anthropic.UserProfileDeleteParams{})
				}
				if got := seenAs(err); got != k.seen {
					t.Errorf("client saw %q (%v), want %q", got, err, k.seen)
				}
				if k.kind == FaultLate {
					if applied() && time.Since(start) < delay {
						t.Fatal("a late write was applied before its delay")
					}
					for deadline := time.Now().Add(5 * time.Second); !applied() && time.Now().Before(deadline); {
						time.Sleep(10 * time.Millisecond)
					}
				}
				if applied() != k.applied {
					t.Errorf("applied %v, want %v", applied(), k.applied)
				}
				st := s.Stats()
				count := st.Updated
				if write == "delete" {
					count = st.Deleted
				}
				want := int64(0)
				if k.applied {
					want = 1
				}
				if count != want || st.Faults[k.kind] != 1 || st.Requests != 1 {
					t.Errorf("stats %+v: want %s counted %d, one %s fault, one request", st, write, want, k.kind)
				}
			})
		}
	}
}

// TestRefusedWritesDrawNoFault: an update that fails validation or names an
// unknown id, and a delete of an unknown id, answer for themselves and leave
// the seeded sequence alone.
func TestRefusedWritesDrawNoFault(t *testing.T) {
	s, err := New(Config{Faults: Faults{Fault500: 1}})
	if err != nil {
		t.Fatal(err)
	}
	r := s.store.add(&record{id: newProfileID(), metadata: s.emptyMetadata}, time.Now())
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	client := anthropic.NewClient(option.WithBaseURL(ts.URL), option.WithAPIKey("k"), option.WithMaxRetries(0))
	ctx := context.Background()
	_, err = client.UserProfiles.Update(ctx, r.id, anthropic.UserProfileUpdateParams{Name: anthropic.String("")})
	if got := seenAs(err); got != "400 invalid_request_error" {
		t.Errorf("invalid update: %s", got)
	}
	_, err = client.UserProfiles.Update(ctx, "uprof_000000000000000000000000", anthropic.UserProfileUpdateParams{})
	if got := seenAs(err); got != "404 not_found_error" {
		t.Errorf("update of an unknown id: %s", got)
	}
	_, err = client.UserProfiles.Delete(ctx, "uprof_000000000000000000000000", anthropic.UserProfileDeleteParams{})
	if got := seenAs(err); got != "404 not_found_error" {
		t.Errorf("delete of an unknown id: %s", got)
	}
	if _, err := client.UserProfiles.Get(ctx, r.id, anthropic.UserProfileGetParams{}); err != nil {
		t.Errorf("get: %v", err)
	}
	_, err = client.UserProfiles.Delete(ctx, r.id, anthropic.UserProfileDeleteParams{})
	if got := seenAs(err); got != "500 api_error" {
		t.Errorf("valid delete: %s", got)
	}
	if st := s.Stats(); st.Faults[Fault500] != 1 || st.Deleted != 0 || st.Updated != 0 {
		t.Errorf("stats %+v", st)
	}
}
