package emulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/provision/provision/internal/emulator"
)

func isProfileID(s string) bool { return regexp.MustCompile(`^uprof_[0-9A-Za-z]{24}$`).MatchString(s) }

func isRequestID(s string) bool { return regexp.MustCompile(`^req_[0-9A-Za-z]{24}$`).MatchString(s) }

// env is an emulator behind httptest with an SDK client pointed at it.
type env struct {
	t      *testing.T
	srv    *emulator.Server
	ts     *httptest.Server
	client anthropic.Client
}

func newEnv(t *testing.T, cfg emulator.Config, opts ...option.RequestOption) *env {
	t.Helper()
	srv, err := emulator.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	base := []option.RequestOption{option.WithBaseURL(ts.URL), option.WithAPIKey("k"), option.WithMaxRetries(0)}
	return &env{t: t, srv: srv, ts: ts, client: anthropic.NewClient(append(base, opts...)...)}
}

func beta() option.RequestOption { return option.WithHeader("anthropic-beta", emulator.Beta20260324) }

// create posts body (a createReq, or []byte sent as is) the way the
// project's client does, returning the decoded profile and the raw response.
func (e *env) create(ctx context.Context, body any, opts ...option.RequestOption) (wireProfile, *http.Response, error) {
	var p wireProfile
	var raw *http.Response
	opts = append([]option.RequestOption{beta(), option.WithResponseInto(&raw)}, opts...)
	err := e.client.Post(ctx, "v1/user_profiles", body, &p, opts...)
	return p, raw, err
}

func (e *env) mustCreate(req createReq) wireProfile {
	e.t.Helper()
	p, _, err := e.create(context.Background(), req)
	if err != nil {
		e.t.Fatalf("create: %v", err)
	}
	return p
}

// storedProfiles reads GET /_emulator/profiles.
func (e *env) storedProfiles() []wireProfile {
	e.t.Helper()
	res, err := http.Get(e.ts.URL + "/_emulator/profiles")
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var ps []wireProfile
	if err := json.NewDecoder(res.Body).Decode(&ps); err != nil {
		e.t.Fatalf("decode /_emulator/profiles: %v", err)
	}
	return ps
}

// statsOverHTTP reads GET /_emulator/stats.
func (e *env) statsOverHTTP() emulator.Stats {
	e.t.Helper()
	res, err := http.Get(e.ts.URL + "/_emulator/stats")
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var st emulator.Stats
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		e.t.Fatal(err)
	}
	return st
}

// wantAPIError asserts that err is the SDK's API error with the given status
// and type, a request id in the header, and the same id in the body.
func wantAPIError(t *testing.T, err error, status int, typ string) *anthropic.Error {
	t.Helper()
	var ae *anthropic.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *anthropic.Error", err, err)
	}
	if ae.StatusCode != status {
		t.Errorf("status %d, want %d (%s)", ae.StatusCode, status, ae.RawJSON())
	}
	if string(ae.Type()) != typ {
		t.Errorf("Type() %q, want %q", ae.Type(), typ)
	}
	if !isRequestID(ae.RequestID) {
		t.Errorf("RequestID %q does not look like req_ + 24 base62", ae.RequestID)
	}
	var body struct {
		Type  string `json:"type"`
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal([]byte(ae.RawJSON()), &body); err != nil {
		t.Fatalf("error body %q: %v", ae.RawJSON(), err)
	}
	if body.Type != "error" || body.Error.Type != typ || body.Error.Message == "" || body.RequestID != ae.RequestID {
		t.Errorf("error body %s: want type error, error.type %s, a message and request_id %s", ae.RawJSON(), typ, ae.RequestID)
	}
	return ae
}

func TestCreateReturnsFullProfile(t *testing.T) {
	e := newEnv(t, emulator.Config{})
	before := time.Now().UTC()
	p, raw, err := e.create(context.Background(), createReq{
		ExternalID:   str("u-1"),
		Name:         str("Ada <Lovelace> & Co"),
		Relationship: str("resold"),
		Metadata:     map[string]string{"plan": "pro"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if raw.StatusCode != http.StatusOK {
		t.Errorf("status %d, want 200", raw.StatusCode)
	}
	if !isRequestID(raw.Header.Get("request-id")) {
		t.Errorf("request-id %q", raw.Header.Get("request-id"))
	}
	if !isProfileID(p.ID) {
		t.Errorf("id %q", p.ID)
	}
	if p.Type != "user_profile" || *p.ExternalID != "u-1" || *p.Name != "Ada <Lovelace> & Co" || p.Relationship != "resold" || p.Metadata["plan"] != "pro" {
		t.Errorf("profile %+v does not hold the request", p)
	}
	if p.CreatedAt.Location() != time.UTC || p.CreatedAt.Before(before.Truncate(time.Microsecond)) || !p.UpdatedAt.Equal(p.CreatedAt) {
		t.Errorf("created_at %v updated_at %v", p.CreatedAt, p.UpdatedAt)
	}

	got, err := e.client.Beta.UserProfiles.Get(context.Background(), p.ID, anthropic.BetaUserProfileGetParams{}, beta())
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != p.ID || got.Name != *p.Name || got.ExternalID != "u-1" || !got.CreatedAt.Equal(p.CreatedAt) {
		t.Errorf("Get returned %+v, want %+v", got, p)
	}
}

// TestEmptyCreateWireShape checks the JSON an empty create returns, byte
// level: nulls, the default relationship, {} for metadata and trust_grants.
func TestEmptyCreateWireShape(t *testing.T) {
	e := newEnv(t, emulator.Config{})
	var b []byte
	err := e.client.Post(context.Background(), "v1/user_profiles", []byte(`{"external_id":null,"name":null,"relationship":null}`), &b, beta())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"type": `"user_profile"`, "external_id": "null", "name": "null",
		"relationship": `"external"`, "metadata": "{}", "trust_grants": "{}",
	}
	for k, v := range want {
		if string(m[k]) != v {
			t.Errorf("%s = %s, want %s", k, m[k], v)
		}
	}
	if len(m) != 9 {
		t.Errorf("object has %d keys, want 9: %s", len(m), b)
	}
	created := strings.Trim(string(m["created_at"]), `"`)
	if ts, err := time.Parse(time.RFC3339Nano, created); err != nil || !strings.HasSuffix(created, "Z") {
		t.Errorf("created_at %s is not RFC 3339 UTC: %v", created, err)
	} else if ts.Nanosecond()%1000 != 0 {
		t.Errorf("created_at %s has more than microsecond precision", created)
	}
}

func TestCreateRejectsBadBodies(t *testing.T) {
	e := newEnv(t, emulator.Config{})
	many := map[string]string{}
	for i := range 17 {
		many["k"+strconv.Itoa(i)] = "v"
	}
	manyJSON, _ := json.Marshal(map[string]any{"metadata": many})
	long := strings.Repeat("é", 256) // 256 code points, 512 bytes
	tests := []struct {
		name, body, wantInMessage string
	}{
		{"unknown field", `{"name":"a","access_type":"application"}`, `"access_type": unknown field`},
		{"name is a number", `{"name":5}`, "name: must be a string or null, not a number"},
		{"external_id is a boolean", `{"external_id":true}`, "external_id: must be a string or null, not a boolean"},
		{"relationship is an object", `{"relationship":{}}`, "relationship: must be a string or null, not an object"},
		{"metadata is an array", `{"metadata":["a"]}`, "metadata: must be an object of string values, not an array"},
		{"metadata is null", `{"metadata":null}`, "metadata: must be an object of string values, not null"},
		{"metadata value is a number", `{"metadata":{"plan":1}}`, "metadata.plan: value must be a string, not a number"},
		{"metadata value is null", `{"metadata":{"plan":null}}`, "metadata.plan: value must be a string, not null"},
		{"body is an array", `[]`, "must be a JSON object, not an array"},
		{"body is a string", `"x"`, "must be a JSON object, not a string"},
		{"empty body", ``, "empty"},
		{"syntax error", `{"name":"a",}`, "not valid JSON"},
		{"trailing data", `{"name":"a"} {}`, "data after the JSON object"},
		{"duplicate key", `{"name":"a","name":"b"}`, `"name" twice`},
		{"lone surrogate", `{"name":"\ud800x"}`, "not valid UTF-8"},
		{"external_id empty", `{"external_id":""}`, "external_id: empty"},
		{"name too long in code points", `{"name":"` + long + `"}`, "name: value is 256 characters, at most 255 allowed"},
		{"resold without name", `{"relationship":"resold"}`, "name: required when relationship is \"resold\""},
		{"unknown relationship", `{"relationship":"partner"}`, `"partner" is not one of external, resold, internal`},
		{"too many metadata keys", string(manyJSON), "metadata: 17 keys, at most 16 allowed"},
		{"metadata key too long", `{"metadata":{"` + strings.Repeat("k", 65) + `":"v"}}`, "key is 65 characters, at most 64 allowed"},
		{"metadata value empty", `{"metadata":{"plan":""}}`, "metadata.plan: empty"},
		{"metadata value too long", `{"metadata":{"plan":"` + strings.Repeat("v", 513) + `"}}`, "value is 513 characters, at most 512 allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := e.create(context.Background(), []byte(tt.body))
			ae := wantAPIError(t, err, http.StatusBadRequest, "invalid_request_error")
			if ae != nil && !strings.Contains(ae.Message, tt.wantInMessage) {
				t.Errorf("message %q does not contain %q", ae.Message, tt.wantInMessage)
			}
		})
	}
	if st := e.srv.Stats(); st.Created != 0 || st.Profiles != 0 {
		t.Errorf("bad bodies created profiles: %+v", st)
	}
}

func TestCreateAcceptsEdgeValues(t *testing.T) {
	e := newEnv(t, emulator.Config{})
	ok := []string{
		`{}`,
		`{"relationship":"internal"}`,
		`{"name":"` + strings.Repeat("é", 255) + `"}`,
		`{"name":"\ud83d\ude00 paired surrogates"}`,
		`{"metadata":{}}`,
		`  {"external_id":"x"}  `,
	}
	for _, body := range ok {
		if _, _, err := e.create(context.Background(), []byte(body)); err != nil {
			t.Errorf("%s: %v", body, err)
		}
	}
}

// TestInvalidUTF8 sends raw bytes outside any client library.
func TestInvalidUTF8(t *testing.T) {
	e := newEnv(t, emulator.Config{})
	for _, body := range []string{"{\"name\":\"\xff\"}", "{\"metadata\":{\"\xc3\":\"v\"}}", "{\"x\xfe\":1}"} {
		req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/v1/user_profiles", strings.NewReader(body))
		req.Header.Set("content-type", "application/json")
		req.Header.Set("x-api-key", "k")
		req.Header.Set("anthropic-beta", emulator.Beta20260324)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest || !bytes.Contains(b, []byte(`"type":"invalid_request_error"`)) || !bytes.Contains(b, []byte("UTF-8")) {
			t.Errorf("%q: %d %s", body, res.StatusCode, b)
		}
		if id := res.Header.Get("request-id"); !isRequestID(id) || !bytes.Contains(b, []byte(`"request_id":"`+id+`"`)) {
			t.Errorf("request-id header %q not repeated in body %s", id, b)
		}
	}
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t, emulator.Config{APIKey: "secret"})
	t.Run("wrong key through the SDK", func(t *testing.T) {
		_, _, err := e.create(context.Background(), createReq{})
		ae := wantAPIError(t, err, http.StatusUnauthorized, "authentication_error")
		if ae != nil && strings.Contains(ae.RawJSON(), "secret") {
			t.Errorf("error body leaks the key: %s", ae.RawJSON())
		}
	})
	t.Run("right key through the SDK, sent as Bearer", func(t *testing.T) {
		var p wireProfile
		if err := e.client.Post(context.Background(), "v1/user_profiles", createReq{}, &p, beta(), option.WithAPIKey("secret")); err != nil {
			t.Fatal(err)
		}
	})
	raw := func(header, value string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/v1/user_profiles", nil)
		req.Header.Set("anthropic-beta", emulator.Beta20260324)
		if header != "" {
			req.Header.Set(header, value)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res, string(body)
	}
	for _, tt := range []struct {
		header, value string
		want          int
		message       string // in the error body
	}{
		{"", "", 401, "missing API key"},
		{"x-api-key", "", 401, "missing API key"},
		{"x-api-key", "wrong", 401, "invalid x-api-key"},
		{"authorization", "Bearer wrong", 401, "invalid bearer token"},
		{"authorization", "Basic secret", 401, "missing API key"},
		{"x-api-key", "secret", 200, ""},
		{"authorization", "Bearer secret", 200, ""},
		{"authorization", "bearer secret", 200, ""},
	} {
		res, body := raw(tt.header, tt.value)
		if res.StatusCode != tt.want || !strings.Contains(body, tt.message) {
			t.Errorf("%s: %q -> %d %s, want %d with %q", tt.header, tt.value, res.StatusCode, body, tt.want, tt.message)
		}
	}
}

func TestAnyKeyWithoutConfiguredKey(t *testing.T) {
	e := newEnv(t, emulator.Config{})
	if _, _, err := e.create(context.Background(), createReq{}, option.WithAPIKey("whatever")); err != nil {
		t.Fatal(err)
	}
}

func TestVersionAndBetaHeaders(t *testing.T) {
	e := newEnv(t, emulator.Config{})
	p := e.mustCreate(createReq{Name: str("a")})
	ctx := context.Background()

	// The SDK's own default beta for Get and List is accepted.
	if _, err := e.client.Beta.UserProfiles.Get(ctx, p.ID, anthropic.BetaUserProfileGetParams{}); err != nil {
		t.Errorf("Get with the SDK's default beta header: %v", err)
	}
	if _, err := e.client.Beta.UserProfiles.Get(ctx, p.ID, anthropic.BetaUserProfileGetParams{},
		option.WithHeader("anthropic-beta", "some-other-beta, "+emulator.Beta20260324), option.WithHeader("anthropic-version", "2023-06-01")); err != nil {
		t.Errorf("beta list and the old version: %v", err)
	}
	// No user-profiles beta at all (other betas do not count) is the GA contract.
	for _, h := range []string{"", "some-other-beta", "user-profiles-billing-2026-10-01"} {
		ga, err := e.client.UserProfiles.Get(ctx, p.ID, anthropic.UserProfileGetParams{}, option.WithHeader("anthropic-beta", h))
		if err != nil || ga.AccessType != "application" || ga.EnforcementStatus != "unrestricted" || !strings.Contains(ga.RawJSON(), `"programs"`) {
			t.Errorf("anthropic-beta %q: %v %s, want the GA object", h, err, ga.RawJSON())
		}
	}
	got, err := e.client.Beta.UserProfiles.Get(ctx, p.ID, anthropic.BetaUserProfileGetParams{}, option.WithHeader("anthropic-beta", emulator.Beta20260904))
	if err != nil || !got.JSON.ExternalUserDetails.Valid() || got.JSON.ExternalID.Raw() != "" {
		t.Errorf("2026-09-04: %v %s", err, got.RawJSON())
	}
	for _, h := range []string{"user-profiles-2027-01-01", "user-profiles-latest", emulator.Beta20260324 + ",user-profiles-2026-13-01"} {
		_, err = e.client.Beta.UserProfiles.Get(ctx, p.ID, anthropic.BetaUserProfileGetParams{}, option.WithHeader("anthropic-beta", h))
		if ae := wantAPIError(t, err, 400, "invalid_request_error"); ae != nil && !strings.Contains(ae.Message, "anthropic-beta") {
			t.Errorf("%s: message %q does not name the header", h, ae.Message)
		}
	}
	_, _, err = e.create(ctx, createReq{}, option.WithHeader("anthropic-version", "2024-01-01"))
	wantAPIError(t, err, 400, "invalid_request_error")
	if st := e.srv.Stats(); st.Created != 1 {
		t.Errorf("created %d, want 1", st.Created)
	}
}

func TestNotFound(t *testing.T) {
	e := newEnv(t, emulator.Config{})
	_, err := e.client.Beta.UserProfiles.Get(context.Background(), "uprof_000000000000000000000000", anthropic.BetaUserProfileGetParams{}, beta())
	wantAPIError(t, err, http.StatusNotFound, "not_found_error")
	err = e.client.Get(context.Background(), "v1/nothing", nil, nil, beta())
	wantAPIError(t, err, http.StatusNotFound, "not_found_error")
	_, err = e.client.Beta.UserProfiles.Delete(context.Background(), "uprof_x", anthropic.BetaUserProfileDeleteParams{}, beta())
	wantAPIError(t, err, http.StatusNotFound, "not_found_error")
	err = e.client.Put(context.Background(), "v1/user_profiles/uprof_x", nil, nil, beta())
	if ae := wantAPIError(t, err, http.StatusMethodNotAllowed, "invalid_request_error"); ae != nil && ae.Response.Header.Get("allow") != "GET, POST, DELETE" {
		t.Errorf("allow %q", ae.Response.Header.Get("allow"))
	}
}

func TestRequestTooLarge(t *testing.T) {
	e := newEnv(t, emulator.Config{})
	body := []byte(`{"name":"` + strings.Repeat("a", emulator.MaxBodyBytes) + `"}`)
	_, _, err := e.create(context.Background(), body)
	wantAPIError(t, err, http.StatusRequestEntityTooLarge, "request_too_large")

	// A body without a declared length is cut off while reading.
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/v1/user_profiles", io.MultiReader(bytes.NewReader(body)))
	req.Header.Set("x-api-key", "k")
	req.Header.Set("anthropic-beta", emulator.Beta20260324)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge || !bytes.Contains(b, []byte(`"request_too_large"`)) {
		t.Errorf("chunked body: %d %s", res.StatusCode, b)
	}
}

// fakeClock is a settable clock for the rate limiter.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestRateLimit(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 3, 24, 12, 0, 0, 0, time.UTC)}
	e := newEnv(t, emulator.Config{Rate: 2, Burst: 3, Now: clock.Now})
	ctx := context.Background()
	headers := func(res *http.Response) (limit, remaining int, reset time.Time) {
		t.Helper()
		limit, err1 := strconv.Atoi(res.Header.Get("anthropic-ratelimit-requests-limit"))
		remaining, err2 := strconv.Atoi(res.Header.Get("anthropic-ratelimit-requests-remaining"))
		reset, err3 := time.Parse(time.RFC3339Nano, res.Header.Get("anthropic-ratelimit-requests-reset"))
		if err := errors.Join(err1, err2, err3); err != nil {
			t.Fatalf("rate-limit headers %v: %v", res.Header, err)
		}
		return limit, remaining, reset
	}
	for i := range 3 {
		_, res, err := e.create(ctx, createReq{})
		if err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
		limit, remaining, reset := headers(res)
		if limit != 3 || remaining != 2-i {
			t.Errorf("create %d: limit %d remaining %d, want 3 and %d", i, limit, remaining, 2-i)
		}
		// A client infers the refill rate as (limit-remaining)/(reset-now).
		if rate := float64(limit-remaining) / reset.Sub(clock.Now()).Seconds(); rate != 2 {
			t.Errorf("create %d: inferred rate %v, want 2 (reset %v)", i, rate, reset)
		}
	}

	_, res, err := e.create(ctx, createReq{})
	ae := wantAPIError(t, err, http.StatusTooManyRequests, "rate_limit_error")
	if ae != nil {
		res = ae.Response
	}
	if got := res.Header.Get("retry-after"); got != "1" {
		t.Errorf("retry-after %q, want 1 (half a second, rounded up)", got)
	}
	if got := res.Header.Get("x-should-retry"); got != "true" {
		t.Errorf("x-should-retry %q", got)
	}
	if limit, remaining, reset := headers(res); limit != 3 || remaining != 0 || !reset.Equal(clock.Now().Add(1500*time.Millisecond)) {
		t.Errorf("429 headers: limit %d remaining %d reset %v", limit, remaining, reset)
	}

	clock.Add(500 * time.Millisecond)
	if _, _, err := e.create(ctx, createReq{}); err != nil {
		t.Errorf("after the refill of one token: %v", err)
	}
	st := e.statsOverHTTP()
	if st.RateLimited != 1 || st.Requests != 5 || st.Created != 4 {
		t.Errorf("stats %+v", st)
	}

	// An unauthenticated request is refused before the limiter and spends nothing.
	clock.Add(time.Second) // two tokens back
	req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/v1/user_profiles", nil)
	r401, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r401.Body.Close()
	if _, remaining, _ := headers(r401); r401.StatusCode != 401 || remaining != 2 {
		t.Errorf("401: status %d remaining %d, want 401 and 2", r401.StatusCode, remaining)
	}
}

func TestUnlimitedHasNoRateLimitHeaders(t *testing.T) {
	e := newEnv(t, emulator.Config{})
	_, res, err := e.create(context.Background(), createReq{})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"anthropic-ratelimit-requests-limit", "anthropic-ratelimit-requests-remaining", "anthropic-ratelimit-requests-reset", "retry-after"} {
		if v := res.Header.Get(h); v != "" {
			t.Errorf("%s: %q without a rate", h, v)
		}
	}
}

func TestLatency(t *testing.T) {
	e := newEnv(t, emulator.Config{Latency: 50 * time.Millisecond})
	start := time.Now()
	e.mustCreate(createReq{})
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("answered after %v, want at least the 50ms latency", d)
	}
}

func TestEmulatorEndpoints(t *testing.T) {
	e := newEnv(t, emulator.Config{})
	a := e.mustCreate(createReq{Name: str("a")})
	b := e.mustCreate(createReq{ExternalID: str("b")})
	ps := e.storedProfiles()
	if len(ps) != 2 || ps[0].ID != a.ID || ps[1].ID != b.ID {
		t.Errorf("/_emulator/profiles = %+v", ps)
	}
	st := e.statsOverHTTP()
	if st.Requests != 2 || st.Created != 2 || st.Profiles != 2 || len(st.Faults) != 6 {
		t.Errorf("stats %+v", st)
	}
	res, err := http.Get(e.ts.URL + "/_emulator/nothing")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Errorf("unknown emulator endpoint: %d", res.StatusCode)
	}
	if got := e.srv.Profiles(); len(got) != 2 || got[0].ID != a.ID {
		t.Errorf("Profiles() = %+v", got)
	}
}
