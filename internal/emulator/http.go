package emulator

import (
	"bufio"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/provision/provision/internal/profile"
)

// Error types of the API's error bodies.
const (
	typeInvalidRequest  = "invalid_request_error"
	typeAuthentication  = "authentication_error"
	typeNotFound        = "not_found_error"
	typeRequestTooLarge = "request_too_large"
	typeRateLimit       = "rate_limit_error"
	typeAPI             = "api_error"
	typeOverloaded      = "overloaded_error"
)

// StatusOverloaded is the API's non-standard status for overloaded_error.
const StatusOverloaded = 529

// BetaHeaderAugust is the later beta the official SDK sends by default on
// Get and List. The emulator accepts it but answers with the 2026-03-24
// object (relationship, no access_type or external_user_onboarded_at).
const BetaHeaderAugust = "user-profiles-2026-08-18"

// Paths of the resource.
const (
	collectionPath = "/v1/user_profiles"
	itemPrefix     = collectionPath + "/"
)

// List defaults and bounds, as the SDK documents them.
const (
	defaultLimit = 20
	maxLimit     = 100
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/_emulator/stats", s.serveStats)
	mux.HandleFunc("/_emulator/profiles", s.serveProfiles)
	mux.HandleFunc("/_emulator/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, typeNotFound, "unknown emulator endpoint; use /_emulator/stats or /_emulator/profiles", requestID(w))
	})
	mux.HandleFunc("/", s.serveAPI)
	// Every response, the emulator's own included, carries a request-id.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("request-id", newRequestID())
		mux.ServeHTTP(w, r)
	})
}

// requestID returns the id the outer handler gave this response.
func requestID(w http.ResponseWriter) string { return w.Header().Get("request-id") }

// exchange is one API request on its way through the checks.
type exchange struct {
	s         *Server
	w         http.ResponseWriter
	r         *http.Request
	requestID string
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	s.counts.requests.Add(1)
	x := &exchange{s: s, w: w, r: r, requestID: requestID(w)}
	if !sleep(r.Context(), s.cfg.Latency) {
		return
	}
	if msg := s.authenticate(r.Header); msg != "" {
		if s.limiter != nil {
			x.setQuota(s.limiter.peek(s.now()))
		}
		x.fail(http.StatusUnauthorized, typeAuthentication, msg)
		return
	}
	if s.limiter != nil {
		q := s.limiter.take(s.now())
		x.setQuota(q)
		if !q.allowed {
			s.counts.rateLimited.Add(1)
			secs := retryAfterSeconds(q.retryAfter)
			w.Header().Set("retry-after", strconv.Itoa(secs))
			w.Header().Set("x-should-retry", "true")
			x.fail(http.StatusTooManyRequests, typeRateLimit, fmt.Sprintf(
				"rate limit of %g requests per second (burst %d) exceeded; retry after %d s", s.cfg.Rate, s.cfg.Burst, secs))
			return
		}
	}
	handle := x.route()
	if handle == nil {
		return
	}
	if msg := checkVersionHeaders(r.Header); msg != "" {
		x.fail(http.StatusBadRequest, typeInvalidRequest, msg)
		return
	}
	handle()
}

// route picks the endpoint, or answers 404/405 and returns nil.
func (x *exchange) route() func() {
	path, method := x.r.URL.Path, x.r.Method
	switch {
	case path == collectionPath:
		switch method {
		case http.MethodPost:
			return x.create
		case http.MethodGet:
			return x.list
		}
		x.notAllowed("GET, POST")
		return nil
	case strings.HasPrefix(path, itemPrefix) && path != itemPrefix && !strings.Contains(path[len(itemPrefix):], "/"):
		if method == http.MethodGet {
			return x.retrieve
		}
		x.notAllowed("GET")
		return nil
	}
	x.fail(http.StatusNotFound, typeNotFound, fmt.Sprintf("no route for %s %s; the emulator serves create, retrieve and list of %s", method, path, collectionPath))
	return nil
}

// notAllowed answers 405. The real API also has update and delete; the
// emulator does not, and says so rather than pretending.
func (x *exchange) notAllowed(allow string) {
	x.w.Header().Set("allow", allow)
	x.fail(http.StatusMethodNotAllowed, typeInvalidRequest, fmt.Sprintf("%s %s is not implemented by the emulator; it serves %s", x.r.Method, x.r.URL.Path, allow))
}

// authenticate returns why the request is refused, or "" to let it through.
// The key is never echoed back.
func (s *Server) authenticate(h http.Header) string {
	key, via := h.Get("x-api-key"), "x-api-key"
	if key == "" {
		scheme, token, _ := strings.Cut(h.Get("authorization"), " ")
		if strings.EqualFold(scheme, "bearer") {
			key, via = strings.TrimSpace(token), "bearer token"
		}
	}
	if key == "" {
		return "missing API key: send it in the x-api-key header or as Authorization: Bearer KEY"
	}
	if s.cfg.APIKey != "" && subtle.ConstantTimeCompare([]byte(key), []byte(s.cfg.APIKey)) != 1 {
		return "invalid " + via
	}
	return ""
}

// checkVersionHeaders returns why the version headers are refused, or "".
func checkVersionHeaders(h http.Header) string {
	switch v := h.Get("anthropic-version"); v {
	case "", "2023-06-01", "2026-10-21":
	default:
		return fmt.Sprintf("anthropic-version: %q is not a version the emulator knows; send 2023-06-01 or 2026-10-21", v)
	}
	var betas []string
	for _, line := range h.Values("anthropic-beta") {
		for _, b := range strings.Split(line, ",") {
			if b = strings.TrimSpace(b); b != "" {
				betas = append(betas, b)
			}
		}
	}
	for _, b := range betas {
		if b == profile.BetaHeader || b == BetaHeaderAugust {
			return ""
		}
	}
	if len(betas) == 0 {
		return "the User Profiles API is in beta: send the header anthropic-beta: " + profile.BetaHeader
	}
	return fmt.Sprintf("anthropic-beta: %q names no User Profiles version the emulator implements; send %s", strings.Join(betas, ","), profile.BetaHeader)
}

func (x *exchange) create() {
	s := x.s
	if x.r.ContentLength > MaxBodyBytes {
		x.tooLarge()
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(x.w, x.r.Body, MaxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			x.tooLarge()
		}
		// Otherwise the client went away mid-body; there is no one to answer.
		return
	}
	req, err := decodeCreate(body)
	if err != nil {
		x.fail(http.StatusBadRequest, typeInvalidRequest, err.Error())
		return
	}
	if p := profile.Validate(req); p != nil {
		x.fail(http.StatusBadRequest, typeInvalidRequest, p.Error())
		return
	}
	kind := s.faults.draw()
	if kind != noFault {
		s.counts.faults[kind].Add(1)
	}
	switch kind {
	case idx500:
		x.fail(http.StatusInternalServerError, typeAPI, "Internal server error")
		return
	case idx529:
		// Overload is transient and nothing was created: tell clients so.
		x.w.Header().Set("x-should-retry", "true")
		x.fail(StatusOverloaded, typeOverloaded, "Overloaded")
		return
	case idxReset:
		x.drop()
		return
	case idxLate:
		// Not the request's context: the work goes on after the client
		// has gone, which is the point of the fault.
		sleep(context.Background(), s.cfg.SlowDelay)
	}
	p := s.store.add(s.newProfile(req), s.now())
	s.counts.created.Add(1)
	switch kind {
	case idxLost:
		x.drop()
		return
	case idxSlow:
		if !sleep(x.r.Context(), s.cfg.SlowDelay) {
			return
		}
	}
	x.reply(http.StatusOK, &p)
}

func (x *exchange) tooLarge() {
	x.fail(http.StatusRequestEntityTooLarge, typeRequestTooLarge, fmt.Sprintf("request body is larger than %d bytes", MaxBodyBytes))
}

// newProfile builds the stored object for a valid request; the store stamps
// its times.
func (s *Server) newProfile(req profile.Request) profile.Profile {
	p := profile.Profile{
		ID:           newProfileID(),
		Type:         "user_profile",
		ExternalID:   req.ExternalID,
		Name:         req.Name,
		Relationship: profile.DefaultRelationship,
		Metadata:     s.emptyMetadata,
		TrustGrants:  s.emptyTrustGrants,
	}
	if req.Relationship != nil {
		p.Relationship = *req.Relationship
	}
	if len(req.Metadata) > 0 {
		p.Metadata = req.Metadata
	}
	return p
}

func (x *exchange) retrieve() {
	id := x.r.URL.Path[len(itemPrefix):]
	p, ok := x.s.store.get(id)
	if !ok {
		x.fail(http.StatusNotFound, typeNotFound, fmt.Sprintf("no user profile with id %q", id))
		return
	}
	x.reply(http.StatusOK, &p)
}

// listPage is the body of a list answer; a nil NextPage is the JSON null
// that ends paging.
type listPage struct {
	Data     []profile.Profile `json:"data"`
	NextPage *string           `json:"next_page"`
}

func (x *exchange) list() {
	q, msg := x.s.parseListQuery(x.r.URL.Query())
	if msg != "" {
		x.fail(http.StatusBadRequest, typeInvalidRequest, msg)
		return
	}
	data, more := x.s.store.list(q)
	out := listPage{Data: data}
	if more && len(data) > 0 {
		next := encodeCursor(q, &data[len(data)-1])
		out.NextPage = &next
	}
	x.reply(http.StatusOK, &out)
}

// parseListQuery validates the list parameters; unknown parameters are
// ignored, as the SDK may add its own.
func (s *Server) parseListQuery(v url.Values) (listQuery, string) {
	q := listQuery{limit: defaultLimit, desc: true}
	if v.Has("limit") {
		n, err := strconv.Atoi(v.Get("limit"))
		if err != nil || n < 1 || n > maxLimit {
			return q, fmt.Sprintf("limit: %q is not an integer from 1 to %d", v.Get("limit"), maxLimit)
		}
		q.limit = n
	}
	if v.Has("order") {
		switch o := v.Get("order"); o {
		case orderAsc:
			q.desc = false
		case orderDesc:
		default:
			return q, fmt.Sprintf("order: %q is not asc or desc", o)
		}
	}
	if v.Has("order_by") {
		switch o := v.Get("order_by"); o {
		case orderName:
			q.byName = true
		case orderCreatedAt:
		default:
			return q, fmt.Sprintf("order_by: %q is not created_at or name", o)
		}
	}
	if page := v.Get("page"); page != "" {
		c, err := decodeCursor(page)
		if err != nil {
			return q, err.Error()
		}
		by, order := q.orderNames()
		if c.By != by || c.Order != order {
			return q, fmt.Sprintf("page: the cursor belongs to order_by=%s&order=%s; keep the order of the first page to page on", c.By, c.Order)
		}
		// A cursor whose key disagrees with its own profile was not issued here.
		if p, ok := s.store.get(c.ID); ok && p.CreatedAt.UnixMicro() != c.At {
			return q, badCursor
		}
		q.after = c
	}
	return q, ""
}

func (x *exchange) setQuota(q quota) {
	h := x.w.Header()
	h.Set("anthropic-ratelimit-requests-limit", strconv.Itoa(q.limit))
	h.Set("anthropic-ratelimit-requests-remaining", strconv.Itoa(q.remaining))
	h.Set("anthropic-ratelimit-requests-reset", q.reset.UTC().Format(time.RFC3339Nano))
}

func (x *exchange) reply(status int, v any) { writeJSON(x.w, status, v) }

func (x *exchange) fail(status int, typ, msg string) {
	writeError(x.w, status, typ, msg, x.requestID)
}

// drop closes the connection without an answer. SO_LINGER 0 makes the close
// a TCP reset, as a crashed proxy would; where hijacking is impossible
// (HTTP/2) the stream is aborted instead.
func (x *exchange) drop() {
	hj, ok := x.w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}

// errorBody is the API's error envelope.
type errorBody struct {
	Type  string `json:"type"`
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
	RequestID string `json:"request_id"`
}

func writeError(w http.ResponseWriter, status int, typ, msg, requestID string) {
	var b errorBody
	b.Type = "error"
	b.Error.Type, b.Error.Message = typ, msg
	b.RequestID = requestID
	writeJSON(w, status, &b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("content-type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	// The real API does not escape <, > and &; neither do we, so names
	// round-trip byte for byte.
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // a write error means the client left
}

func (s *Server) serveStats(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("allow", "GET")
		writeError(w, http.StatusMethodNotAllowed, typeInvalidRequest, "use GET", requestID(w))
		return
	}
	st := s.Stats()
	writeJSON(w, http.StatusOK, &st)
}

// serveProfiles streams every profile as one JSON array, encoding one
// profile at a time so millions of them never sit in memory as text.
func (s *Server) serveProfiles(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("allow", "GET")
		writeError(w, http.StatusMethodNotAllowed, typeInvalidRequest, "use GET", requestID(w))
		return
	}
	v := s.store.view()
	w.Header().Set("content-type", "application/json")
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	_ = bw.WriteByte('[')
	for i := 0; i < v.n; i++ {
		if i > 0 {
			_ = bw.WriteByte(',')
		}
		if err := enc.Encode(v.at(i)); err != nil {
			return
		}
	}
	_, _ = bw.WriteString("]\n")
	_ = bw.Flush()
}

// sleep waits d unless ctx ends first; it reports whether the wait finished.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
