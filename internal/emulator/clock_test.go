package emulator_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/provision/provision/internal/emulator"
)

// near reports whether a and b are within the Date header's resolution
// plus the test's own running time.
func near(a, b time.Time) bool { return a.Sub(b).Abs() < 3*time.Second }

// dateOf parses a response's Date header.
func dateOf(t *testing.T, res *http.Response) time.Time {
	t.Helper()
	d, err := http.ParseTime(res.Header.Get("Date"))
	if err != nil {
		t.Fatalf("%s %s: Date %q: %v", res.Request.Method, res.Request.URL.Path, res.Header.Get("Date"), err)
	}
	return d
}

func TestClockOffset(t *testing.T) {
	const offset = -5 * time.Minute
	e := newEnv(t, emulator.Config{ClockOffset: offset, APIKey: "k", Rate: 100, Burst: 50})
	ctx := context.Background()
	server := func() time.Time { return time.Now().Add(offset) }

	var raw *http.Response
	p, err := e.client.UserProfiles.New(ctx, anthropic.UserProfileNewParams{}, option.WithResponseInto(&raw))
	if err != nil {
		t.Fatal(err)
	}
	if d := dateOf(t, raw); !near(d, server()) {
		t.Errorf("Date %v, want the server's clock %v", d, server())
	}
	if !near(p.CreatedAt, server()) || near(p.CreatedAt, time.Now()) {
		t.Errorf("created_at %v, want the server's clock %v", p.CreatedAt, server())
	}
	reset, err := time.Parse(time.RFC3339Nano, raw.Header.Get("anthropic-ratelimit-requests-reset"))
	if err != nil || !near(reset, server()) {
		t.Errorf("rate-limit reset %v (%v), want it on the server's clock", reset, err)
	}
	u, err := e.client.UserProfiles.Update(ctx, p.ID, anthropic.UserProfileUpdateParams{Name: anthropic.String("n")})
	if err != nil || !near(u.UpdatedAt, server()) || !u.UpdatedAt.After(u.CreatedAt) {
		t.Errorf("updated_at %v, want the server's clock %v (%v)", u.UpdatedAt, server(), err)
	}

	// onboarded_at is checked against the server's clock: the client's now
	// is five minutes in the server's future.
	_, err = e.client.UserProfiles.New(ctx, anthropic.UserProfileNewParams{
		ExternalUserDetails: anthropic.UserProfileExternalUserDetailsParams{OnboardedAt: anthropic.Time(time.Now())},
	})
	if ae := wantAPIError(t, err, 400, "invalid_request_error"); ae != nil && !strings.Contains(ae.Message, "in the future") {
		t.Errorf("message %q", ae.Message)
	}
	checkDateOnEveryAnswer(t, e, server)
}

func TestDateWithoutOffset(t *testing.T) {
	e := newEnv(t, emulator.Config{APIKey: "k", Rate: 100, Burst: 50})
	checkDateOnEveryAnswer(t, e, time.Now)
}

// checkDateOnEveryAnswer sends requests that end in each kind of answer
// and checks each carries a Date from the server's clock.
func checkDateOnEveryAnswer(t *testing.T, e *env, server func() time.Time) {
	t.Helper()
	p := e.mustCreate(createReq{})
	for _, tt := range []struct {
		method, path, key, beta, body string
		status                        int
	}{
		{"GET", "/v1/user_profiles/" + p.ID, "k", "", "", 200},
		{"GET", "/v1/user_profiles", "k", emulator.Beta20260324, "", 200},
		{"POST", "/v1/user_profiles", "k", "", `{}`, 200},
		{"POST", "/v1/user_profiles/" + p.ID, "k", emulator.Beta20260818, `{"name":"x"}`, 200},
		{"POST", "/v1/user_profiles", "k", "", `{"bad":1}`, 400},
		{"GET", "/v1/user_profiles", "k", "user-profiles-2099-01-01", "", 400},
		{"GET", "/v1/user_profiles", "wrong", "", "", 401},
		{"GET", "/v1/nothing", "k", "", "", 404},
		{"PUT", "/v1/user_profiles", "k", "", "", 405},
		{"POST", "/v1/user_profiles", "k", "", `{"name":"` + strings.Repeat("a", emulator.MaxBodyBytes) + `"}`, 413},
		{"DELETE", "/v1/user_profiles/" + p.ID, "k", "", "", 200},
		{"GET", "/_emulator/stats", "", "", "", 200},
		{"GET", "/_emulator/profiles", "", "", "", 200},
		{"GET", "/_emulator/nothing", "", "", "", 404},
	} {
		req, _ := http.NewRequest(tt.method, e.ts.URL+tt.path, strings.NewReader(tt.body))
		req.Header.Set("x-api-key", tt.key)
		if tt.beta != "" {
			req.Header.Set("anthropic-beta", tt.beta)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != tt.status {
			t.Errorf("%s %s: status %d, want %d", tt.method, tt.path, res.StatusCode, tt.status)
		}
		if d := dateOf(t, res); !near(d, server()) {
			t.Errorf("%s %s: Date %v, want about %v", tt.method, tt.path, d, server())
		}
	}
}

// TestRateLimitCountsWrites: updates and deletes spend tokens like creates.
func TestRateLimitCountsWrites(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 3, 24, 12, 0, 0, 0, time.UTC)}
	e := newEnv(t, emulator.Config{Rate: 1, Burst: 2, Now: clock.Now})
	ctx := context.Background()
	p, err := e.client.UserProfiles.New(ctx, anthropic.UserProfileNewParams{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.UserProfiles.Update(ctx, p.ID, anthropic.UserProfileUpdateParams{Name: anthropic.String("n")}); err != nil {
		t.Fatal(err)
	}
	_, err = e.client.UserProfiles.Delete(ctx, p.ID, anthropic.UserProfileDeleteParams{})
	wantAPIError(t, err, http.StatusTooManyRequests, "rate_limit_error")
	if st := e.srv.Stats(); st.Deleted != 0 || st.Profiles != 1 || st.RateLimited != 1 {
		t.Errorf("a rate-limited delete was applied: %+v", st)
	}
	clock.Add(time.Second)
	if _, err := e.client.UserProfiles.Delete(ctx, p.ID, anthropic.UserProfileDeleteParams{}); err != nil {
		t.Fatal(err)
	}
	if st := e.srv.Stats(); st.Requests != 4 || st.Created != 1 || st.Updated != 1 || st.Deleted != 1 || st.RateLimited != 1 {
		t.Errorf("stats %+v", st)
	}
}
