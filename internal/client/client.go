// Package client is the only place that talks to the User Profiles API. It
// uses the official Go SDK as transport, with the SDK's own retries turned
// off, and classifies every outcome of a create by whether it is safe to send
// again: the API has no idempotency key, so a retry decision is a correctness
// decision, not a convenience.
package client

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/provision/provision/internal/profile"
)

// Kind is what an outcome means for the row that was sent.
type Kind int

const (
	// Created: the profile exists and its id is known.
	Created Kind = iota
	// Rejected: the server refused the row (400-class); sending it again is pointless.
	Rejected
	// Retry: nothing was created (429, 529, connection never made); safe to send again.
	Retry
	// Unknown: the profile may or may not exist (500, 504, timeout or reset after
	// the request was written); it must be reconciled before it is sent again.
	Unknown
	// Fatal: the credentials were refused (401, 403); the whole job must stop.
	Fatal
)

func (k Kind) String() string {
	switch k {
	case Created:
		return "created"
	case Rejected:
		return "rejected"
	case Retry:
		return "retry"
	case Unknown:
		return "unknown"
	case Fatal:
		return "fatal"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Result is the classified outcome of one request.
type Result struct {
	Kind      Kind
	Profile   profile.Profile // set when Kind is Created
	Status    int             // HTTP status; 0 when no answer came
	ErrorType string          // the API's error type, or connection_error / timeout
	Message   string          // a sentence for the report; never holds the key
	RequestID string
	Header    http.Header // the answer's headers (rate-limit signals); nil without an answer
}

// Config configures a Client.
type Config struct {
	BaseURL     string
	APIKey      string
	Timeout     time.Duration // per request; required
	Concurrency int           // sizes the connection pool
	UserAgent   string
	// Version is the contract spoken: its anthropic-beta header (none for
	// GA) and its body shape.
	Version profile.Version
	// Workspace, when set, is sent as anthropic-workspace-id.
	Workspace string
}

// Client creates and lists user profiles.
type Client struct {
	sdk     anthropic.Client
	timeout time.Duration
	key     string
	version profile.Version
}

// New returns a client for cfg. It reads nothing from the environment: the
// caller resolves the key and base URL, so the SDK cannot pick up a
// credential the user did not choose.
func New(cfg Config) (*Client, error) {
	if err := CheckBaseURL(cfg.BaseURL); err != nil {
		return nil, err
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		return nil, errors.New("client: the request timeout must be positive")
	}
	conns := max(cfg.Concurrency, 1) * 2
	transport := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12},
	}
	opts := []option.RequestOption{
		option.WithoutEnvironmentDefaults(),
		option.WithBaseURL(cfg.BaseURL),
		option.WithAPIKey(cfg.APIKey),
		option.WithHTTPClient(sender{transport}),
		option.WithMaxRetries(0),
		// provision registers no OpenTelemetry provider: the SDK would look
		// up the registered one (a no-op) and start a span that records
		// nothing, on every request.
		option.WithoutOpenTelemetry(),
	}
	if beta := cfg.Version.Beta(); beta != "" {
		opts = append(opts, option.WithHeader("anthropic-beta", beta))
	}
	if cfg.Workspace != "" {
		opts = append(opts, option.WithHeader("anthropic-workspace-id", cfg.Workspace))
	}
	if cfg.UserAgent != "" {
		opts = append(opts, option.WithHeader("user-agent", cfg.UserAgent))
	}
	return &Client{sdk: anthropic.NewClient(opts...), timeout: timeout, key: cfg.APIKey, version: cfg.Version}, nil
}

// sender hands each request to the transport as it is. An http.Client
// would follow redirects, and to be ready to, copy every request's headers
// first (a few microseconds a request); the API does not redirect, and a
// create must not be sent on to another place, or turned into a GET by a
// 303: do takes any answer outside 2xx that is not an API error as a refusal.
type sender struct{ rt http.RoundTripper }

func (s sender) Do(req *http.Request) (*http.Response, error) { return s.rt.RoundTrip(req) }

// CheckBaseURL refuses a base URL that would send the key in clear text to
// another machine: http:// is allowed only to a loopback address.
func CheckBaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("base URL %q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if host == "localhost" {
			return nil
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			return nil
		}
		return fmt.Errorf("base URL %q uses http:// to a host that is not loopback; the API key would travel in clear text (use https://)", raw)
	}
	return fmt.Errorf("base URL %q: scheme must be https (or http to loopback)", raw)
}

// Create sends one create request, in the shape of the client's contract,
// and classifies its outcome. The body is AppendBody's bytes, which are
// json.Marshal's without its reflection. The Profile of a created outcome
// holds only ID and CreatedAt: that is all a create's outcome needs (the
// ledger keeps what was sent, not what came back), and decodeCreated reads
// just those two, on every row.
func (c *Client) Create(ctx context.Context, req profile.Request) Result {
	var p profile.Profile
	res := c.do(ctx, http.MethodPost, "v1/user_profiles", req.AppendBody(nil, c.version), func(b []byte) error {
		created, err := decodeCreated(b)
		p.ID, p.CreatedAt = created.ID, created.CreatedAt
		return err
	})
	if res.Kind == Created {
		res.Profile = p
	}
	return res
}

// Update sends a partial update of profile id: body holds only the fields
// to change (profile.Diff's Update.Body). An update is safe to send
// again, so the caller may retry an unknown outcome.
func (c *Client) Update(ctx context.Context, id string, body any) Result {
	var p profile.Profile
	res := c.do(ctx, http.MethodPost, "v1/user_profiles/"+url.PathEscape(id), body, p.UnmarshalJSON)
	if res.Kind == Created {
		res.Profile = p
	}
	return res
}

// Delete deletes profile id. A profile already gone (404) counts as
// deleted: deleting is safe to send again.
func (c *Client) Delete(ctx context.Context, id string) Result {
	var out struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	}
	res := c.do(ctx, http.MethodDelete, "v1/user_profiles/"+url.PathEscape(id), nil, func(b []byte) error { return json.Unmarshal(b, &out) })
	if res.Status == http.StatusNotFound {
		res.Kind, res.ErrorType, res.Message = Created, "", ""
	}
	return res
}

// Version is the contract the client speaks.
func (c *Client) Version() profile.Version { return c.version }

// Page is one page of the list endpoint. ListNewest reads only its
// cursor and what it needs to know of each profile without decoding it
// (scanPage); Decode fills Data, so the next page can be requested before
// this one is decoded. A Page made with Data set needs no Decode.
type Page struct {
	Data     profile.Profiles `json:"data"`
	NextPage *string          `json:"next_page"`
	body     []byte           // the whole answer, when only peekPage has read it
	hint     []byte           // peekPage's reading of the last profile's created_at
	data     []byte           // the data array, not yet decoded
	items    []item           // what scanPage read of each of its profiles
}

// scan reads a page that only peekPage has read, as ListNewest would have,
// and checks that the cursor peekPage read is the answer's.
func (p *Page) scan() error {
	body, next := p.body, p.NextPage
	p.body, p.hint = nil, nil
	if q, ok := scanPage(body); ok {
		*p = q
	} else if err := json.Unmarshal(body, p); err != nil {
		return fmt.Errorf("error parsing response json: %w", err)
	}
	if (p.NextPage == nil) != (next == nil) || next != nil && *p.NextPage != *next {
		return errors.New("error parsing response json: next_page is not the value at the end of the answer")
	}
	return nil
}

// Decode decodes the page's profiles, once. A profile that brief, when
// set, accepts in a form holding only its ID, ExternalID and CreatedAt
// stays in that form: a walk that only counts the profiles it already
// knows need not decode the rest of them. brief is asked only when those
// three were read from the profile as plain strings; its answer must not
// change if asked again, since the caller tells brief profiles by it.
func (p *Page) Decode(brief func(profile.Profile) bool) error {
	if p.body != nil {
		if err := p.scan(); err != nil {
			return err
		}
	}
	if p.data == nil {
		return nil
	}
	data, items := p.data, p.items
	p.data, p.items = nil, nil
	if brief == nil {
		if err := p.Data.UnmarshalJSON(data); err != nil {
			return fmt.Errorf("error parsing response json: %w", err)
		}
		return nil
	}
	out := make(profile.Profiles, len(items))
	for i := range items {
		it := &items[i]
		if ext, ok := it.brief(); ok {
			e := string(ext)
			b := profile.Profile{ID: string(it.id.v), ExternalID: &e}
			if b.CreatedAt.UnmarshalText(it.at.v) == nil && brief(b) {
				out[i] = b
				continue
			}
		}
		if err := out[i].UnmarshalJSON(data[it.start:it.end]); err != nil {
			return fmt.Errorf("error parsing response json: profile %d of the page: %w", i+1, err)
		}
	}
	p.Data = out
	return nil
}

// Oldest is the created_at of the page's last profile (the oldest of a
// newest-first page), before or after Decode; false when the page is empty
// or that time was not read.
func (p *Page) Oldest() (time.Time, bool) {
	if p.body != nil {
		var t time.Time
		if p.hint == nil || t.UnmarshalText(p.hint) != nil {
			return time.Time{}, false
		}
		return t, true
	}
	if p.data == nil {
		if len(p.Data) == 0 {
			return time.Time{}, false
		}
		return p.Data[len(p.Data)-1].CreatedAt, true
	}
	var t time.Time
	if len(p.items) == 0 {
		return t, false
	}
	at := p.items[len(p.items)-1].at
	if at.state != fieldString || t.UnmarshalText(at.v) != nil {
		return time.Time{}, false
	}
	return t, true
}

// ListNewest returns one page of profiles, newest first, starting at cursor
// ("" for the first page). limit is 1..100. Only the cursor at the end of
// the answer is read here (peekPage), so the next page can be asked for at
// once; Decode reads the rest. An answer whose end peekPage does not vouch
// for is read by scanPage, or decoded whole by encoding/json, here.
func (c *Client) ListNewest(ctx context.Context, cursor string, limit int) (Page, Result) {
	q := url.Values{"limit": {strconv.Itoa(limit)}, "order": {"desc"}, "order_by": {"created_at"}}
	if cursor != "" {
		q.Set("page", cursor)
	}
	var page Page
	res := c.do(ctx, http.MethodGet, "v1/user_profiles?"+q.Encode(), nil, func(b []byte) error {
		if next, hint, ok := peekPage(b); ok {
			page = Page{NextPage: next, body: b, hint: hint}
			return nil
		}
		if p, ok := scanPage(b); ok {
			page = p
			return nil
		}
		return json.Unmarshal(b, &page)
	})
	return page, res
}

// do sends one request and classifies its outcome; the body of a 2xx
// answer goes to decode. The SDK hands the body over as bytes rather than
// decoding it itself: its decoder scans a body twice before a type's own
// UnmarshalJSON scans it twice again.
func (c *Client) do(ctx context.Context, method, path string, body any, decode func([]byte) error) Result {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	// The SDK reports a transport error without saying whether the request
	// reached the wire; the trace does, and that is what makes a failed
	// create safe to resend or not.
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { wrote.Store(true) },
	})
	var raw *http.Response
	var content []byte
	err := c.sdk.Execute(ctx, method, path, body, &content, option.WithResponseInto(&raw))
	var res Result
	switch {
	case err == nil && raw != nil && raw.StatusCode/100 != 2:
		// A redirect (or any answer under 400 but not 2xx): the request
		// was not processed here, so nothing was created.
		res = Result{Kind: ClassifyStatus(raw.StatusCode, raw.Header.Get("x-should-retry")), ErrorType: "http_" + strconv.Itoa(raw.StatusCode),
			Message: fmt.Sprintf("%d %s: the API answered with a redirect to %q; check --base-url", raw.StatusCode, http.StatusText(raw.StatusCode), raw.Header.Get("Location"))}
	case err == nil:
		err = decodeJSON(raw, content, decode)
		fallthrough
	default:
		res = Classify(err, wrote.Load())
	}
	if raw != nil {
		res.Header = raw.Header
		if res.RequestID == "" {
			res.RequestID = raw.Header.Get("request-id")
		}
		if res.Status == 0 {
			res.Status = raw.StatusCode
		}
	}
	res.Message = c.redact(res.Message)
	return res
}

// decodeJSON decodes a 2xx answer's body, which must be JSON, as the SDK
// would have required. An answer that cannot be read is an error without an
// API status, so Classify takes it as a transport error: unknown, since the
// request was written.
func decodeJSON(res *http.Response, content []byte, decode func([]byte) error) error {
	if res != nil {
		media, _, _ := mime.ParseMediaType(res.Header.Get("content-type"))
		if !strings.Contains(media, "application/json") && !strings.HasSuffix(media, "+json") {
			return fmt.Errorf("the answer is not JSON (content-type %q)", res.Header.Get("content-type"))
		}
	}
	if err := decode(content); err != nil {
		return fmt.Errorf("error parsing response json: %w", err)
	}
	return nil
}

// redact keeps the key out of any message, whatever a server or a library
// put in it.
func (c *Client) redact(s string) string {
	if c.key == "" || len(c.key) < 4 {
		return s
	}
	return strings.ReplaceAll(s, c.key, "[redacted]")
}

// Classify maps an SDK error to a Result. wrote says whether the request was
// written to the connection: a transport failure before that point cannot
// have created anything.
func Classify(err error, wrote bool) Result {
	if err == nil {
		return Result{Kind: Created, Status: http.StatusOK}
	}
	var apiErr *anthropic.Error
	if errors.As(err, &apiErr) {
		res := Result{Status: apiErr.StatusCode, RequestID: apiErr.RequestID, ErrorType: string(apiErr.Type())}
		res.Message = apiMessage(apiErr)
		var shouldRetry string
		if apiErr.Response != nil {
			shouldRetry = apiErr.Response.Header.Get("x-should-retry")
		}
		res.Kind = ClassifyStatus(apiErr.StatusCode, shouldRetry)
		if res.ErrorType == "" {
			res.ErrorType = "http_" + strconv.Itoa(apiErr.StatusCode)
		}
		return res
	}
	res := Result{ErrorType: "connection_error", Message: transportMessage(err)}
	if errors.Is(err, context.DeadlineExceeded) {
		res.ErrorType = "timeout"
	}
	if wrote {
		res.Kind = Unknown
	} else {
		res.Kind = Retry
	}
	return res
}

// ClassifyStatus decides from an HTTP status (and the server's
// x-should-retry hint) what an error answer means for a create. The hint may
// make a 4xx retryable or a 429/529 final, but it never makes an unknown
// outcome safe: a 5xx may have created the profile whatever the header says.
func ClassifyStatus(status int, shouldRetry string) Kind {
	var k Kind
	switch {
	case status >= 200 && status < 300:
		return Created
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return Fatal
	case status == http.StatusTooManyRequests || status == 529:
		k = Retry
	case status == http.StatusRequestTimeout || status >= 500:
		return Unknown
	default:
		k = Rejected
	}
	switch shouldRetry {
	case "true":
		return Retry
	case "false":
		return Rejected
	}
	return k
}

func apiMessage(e *anthropic.Error) string {
	var body struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if raw := e.RawJSON(); raw != "" {
		_ = json.Unmarshal([]byte(raw), &body)
	}
	text := http.StatusText(e.StatusCode)
	if body.Error.Message != "" {
		return fmt.Sprintf("%d %s: %s", e.StatusCode, text, body.Error.Message)
	}
	return fmt.Sprintf("%d %s", e.StatusCode, text)
}

// transportMessage describes a transport error without the request URL's
// query or anything else the error chain may carry.
func transportMessage(err error) string {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer before the timeout"
	case errors.Is(err, context.Canceled):
		return "request cancelled"
	}
	return err.Error()
}
