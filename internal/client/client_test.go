package client

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/provision/provision/internal/profile"
)

func TestClassifyStatus(t *testing.T) {
	for _, tc := range []struct {
		status      int
		shouldRetry string
		want        Kind
	}{
		{200, "", Created},
		{400, "", Rejected},
		{404, "", Rejected},
		{413, "", Rejected},
		{401, "", Fatal},
		{403, "", Fatal},
		{401, "true", Fatal},
		{429, "", Retry},
		{529, "", Retry},
		{500, "", Unknown},
		{502, "", Unknown},
		{504, "", Unknown},
		{408, "", Unknown},
		// The hint may make a refusal retryable or a retryable answer final...
		{400, "true", Retry},
		{429, "false", Rejected},
		{529, "false", Rejected},
		// ...but never makes an unknown outcome safe to resend.
		{500, "true", Unknown},
		{504, "false", Unknown},
	} {
		if got := ClassifyStatus(tc.status, tc.shouldRetry); got != tc.want {
			t.Errorf("ClassifyStatus(%d, %q) = %v, want %v", tc.status, tc.shouldRetry, got, tc.want)
		}
	}
}

func TestCheckBaseURL(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://api.anthropic.com", true},
		{"http://127.0.0.1:8787", true},
		{"http://localhost:1", true},
		{"http://[::1]:80", true},
		{"http://api.anthropic.com", false},
		{"http://10.0.0.1", false},
		{"ftp://x", false},
		{"api.anthropic.com", false},
	} {
		if err := CheckBaseURL(tc.url); (err == nil) != tc.ok {
			t.Errorf("CheckBaseURL(%q) = %v", tc.url, err)
		}
	}
}

// TestCreateOutcomes drives the client against small servers that answer
// each way a create can end, and checks the classification.
func TestCreateOutcomes(t *testing.T) {
	const key = "sk-secret-key-for-test"
	errBody := func(w http.ResponseWriter, status int, typ, msg string) {
		w.Header().Set("request-id", "req_test")
		w.Header().Set("content-type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"type": "error", "error": map[string]string{"type": typ, "message": msg}, "request_id": "req_test"})
	}
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		kind    Kind
		errType string
	}{
		{"created", func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("anthropic-beta") != profile.BetaHeader || r.Header.Get("Authorization") != "Bearer "+key {
				errBody(w, 400, "invalid_request_error", "headers")
				return
			}
			w.Header().Set("content-type", "application/json")
			_, _ = w.Write([]byte(`{"id":"uprof_x","type":"user_profile","external_id":"e","name":null,"relationship":"external","metadata":{},"trust_grants":{},"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}`))
		}, Created, ""},
		{"400", func(w http.ResponseWriter, r *http.Request) {
			errBody(w, 400, "invalid_request_error", "name: too long")
		}, Rejected, "invalid_request_error"},
		{"401 echoing the key", func(w http.ResponseWriter, r *http.Request) { errBody(w, 401, "authentication_error", "bad key "+key) }, Fatal, "authentication_error"},
		{"429", func(w http.ResponseWriter, r *http.Request) { errBody(w, 429, "rate_limit_error", "slow down") }, Retry, "rate_limit_error"},
		{"500", func(w http.ResponseWriter, r *http.Request) { errBody(w, 500, "api_error", "oops") }, Unknown, "api_error"},
		{"529", func(w http.ResponseWriter, r *http.Request) { errBody(w, 529, "overloaded_error", "busy") }, Retry, "overloaded_error"},
		{"reset after the request was read", func(w http.ResponseWriter, r *http.Request) {
			conn, _, _ := w.(http.Hijacker).Hijack()
			_ = conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
		}, Unknown, "connection_error"},
		{"timeout", func(w http.ResponseWriter, r *http.Request) { time.Sleep(400 * time.Millisecond) }, Unknown, "timeout"},
		// A redirect is not followed: a create is not sent on elsewhere, or
		// turned into a GET whose list would read as a profile without an id.
		{"303", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/v1/user_profiles" || r.Method != http.MethodPost {
				w.Header().Set("content-type", "application/json")
				_, _ = w.Write([]byte(`{"data":[],"next_page":null}`))
				return
			}
			http.Redirect(w, r, "/elsewhere", http.StatusSeeOther)
		}, Rejected, "http_303"},
		// A 2xx that cannot be read may have created the profile: unknown.
		{"2xx not JSON", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("content-type", "text/html")
			_, _ = w.Write([]byte(`<html>created</html>`))
		}, Unknown, "connection_error"},
		{"2xx cut short", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("content-type", "application/json")
			_, _ = w.Write([]byte(`{"id":"uprof_x","created_at":`))
		}, Unknown, "connection_error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			c, err := New(Config{BaseURL: srv.URL, APIKey: key, Timeout: 200 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			res := c.Create(context.Background(), profile.Request{ExternalID: profile.Str("e")})
			if res.Kind != tc.kind || res.ErrorType != tc.errType {
				t.Fatalf("kind %v type %q (%s), want %v %q", res.Kind, res.ErrorType, res.Message, tc.kind, tc.errType)
			}
			if tc.kind == Created && (res.Profile.ID != "uprof_x" || !res.Profile.CreatedAt.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))) {
				t.Errorf("profile %+v", res.Profile)
			}
			if strings.Contains(res.Message, key) {
				t.Errorf("the key leaked into the message: %s", res.Message)
			}
		})
	}
}

func TestConnectionRefusedIsSafeToRetry(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens: the dial fails before any byte is written
	c, err := New(Config{BaseURL: "http://" + addr, APIKey: "k", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	res := c.Create(context.Background(), profile.Request{})
	if res.Kind != Retry || res.ErrorType != "connection_error" {
		t.Fatalf("kind %v type %s (%s), want retry connection_error", res.Kind, res.ErrorType, res.Message)
	}
}

func TestClassifyNil(t *testing.T) {
	if r := Classify(nil, true); r.Kind != Created {
		t.Fatalf("nil error: %v", r.Kind)
	}
	if r := Classify(errors.New("boom"), false); r.Kind != Retry {
		t.Fatalf("unwritten transport error: %v", r.Kind)
	}
	if r := Classify(errors.New("boom"), true); r.Kind != Unknown {
		t.Fatalf("written transport error: %v", r.Kind)
	}
}
