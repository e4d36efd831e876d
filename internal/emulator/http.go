package emulator

import (
	"bufio"
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
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
		s.writeError(w, http.StatusNotFound, typeNotFound, "unknown emulator endpoint; use /_emulator/stats or /_emulator/profiles", requestID(w))
	})
	mux.HandleFunc("/", s.serveAPI)
	// Every response, the emulator's own included, carries a request-id and
	// a Date from the server's clock: net/http would otherwise write the
	// machine's time, and --clock-offset would not show.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("request-id", newRequestID())
		s.stampDate(w.Header())
		mux.ServeHTTP(w, r)
	})
}

// stampDate sets the Date header from the server's clock. Answers that
// wait (latency, slow faults) stamp it again just before they are written.
func (s *Server) stampDate(h http.Header) {
	h.Set("Date", s.now().UTC().Format(http.TimeFormat))
}

// requestID returns the id the outer handler gave this response.
func requestID(w http.ResponseWriter) string { return w.Header().Get("request-id") }

// exchange is one API request on its way through the checks.
type exchange struct {
	s         *Server
	w         http.ResponseWriter
	r         *http.Request
	requestID string
	version   version
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
	v, msg := selectVersion(r.Header)
	if msg != "" {
		x.fail(http.StatusBadRequest, typeInvalidRequest, msg)
		return
	}
	x.version = v
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
		switch method {
		case http.MethodGet:
			return x.retrieve
		case http.MethodPost:
			return x.update
		case http.MethodDelete:
			return x.delete
		}
		x.notAllowed("GET, POST, DELETE")
		return nil
	}
	x.fail(http.StatusNotFound, typeNotFound, fmt.Sprintf("no route for %s %s; the emulator serves %s and %s{id}", method, path, collectionPath, itemPrefix))
	return nil
}

// notAllowed answers 405.
func (x *exchange) notAllowed(allow string) {
	x.w.Header().Set("allow", allow)
	x.fail(http.StatusMethodNotAllowed, typeInvalidRequest, fmt.Sprintf("%s is not allowed on %s; use %s", x.r.Method, x.r.URL.Path, allow))
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

// readBody reads a create or update body, answering 413 when it is too
// large; ok is false when the exchange is over.
func (x *exchange) readBody() (data []byte, ok bool) {
	if x.r.ContentLength > MaxBodyBytes {
		x.tooLarge()
		return nil, false
	}
	data, err := io.ReadAll(http.MaxBytesReader(x.w, x.r.Body, MaxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			x.tooLarge()
		}
		// Otherwise the client went away mid-body; there is no one to answer.
		return nil, false
	}
	return data, true
}

// readValidBody reads, decodes and validates a create or update body,
// answering 400 or 413 itself when it is refused.
func (x *exchange) readValidBody(o op) (*body, bool) {
	data, ok := x.readBody()
	if !ok {
		return nil, false
	}
	b, err := decodeBody(data, x.version, o)
	if err == nil {
		err = b.validate(o, x.s.now())
	}
	if err != nil {
		x.fail(http.StatusBadRequest, typeInvalidRequest, err.Error())
		return nil, false
	}
	return b, true
}

// beforeWrite draws the fault of a valid write and acts on those that come
// before it is applied: 500 and 529 answer, reset drops the connection, late
// waits (the write then goes on whether or not the client still waits). It
// returns the kind drawn and whether to apply the write.
func (x *exchange) beforeWrite() (kind int, apply bool) {
	s := x.s
	kind = s.faults.draw()
	if kind != noFault {
		s.counts.faults[kind].Add(1)
	}
	switch kind {
	case idx500:
		x.fail(http.StatusInternalServerError, typeAPI, "Internal server error")
		return kind, false
	case idx529:
		// Overload is transient and nothing was written: tell clients so.
		x.w.Header().Set("x-should-retry", "true")
		x.fail(StatusOverloaded, typeOverloaded, "Overloaded")
		return kind, false
	case idxReset:
		x.drop()
		return kind, false
	case idxLate:
		// Not the request's context: the work goes on after the client
		// has gone, which is the point of the fault.
		sleep(context.Background(), s.cfg.SlowDelay)
	}
	return kind, true
}

// afterWrite acts on the faults that come after the write was applied: lost
// drops the connection, slow holds the answer. It reports whether to answer.
func (x *exchange) afterWrite(kind int) bool {
	switch kind {
	case idxLost:
		x.drop()
		return false
	case idxSlow:
		return sleep(x.r.Context(), x.s.cfg.SlowDelay)
	}
	return true
}

func (x *exchange) create() {
	s := x.s
	b, ok := x.readValidBody(opCreate)
	if !ok {
		return
	}
	kind, apply := x.beforeWrite()
	if !apply {
		return
	}
	r := s.store.add(newRecord(b, s.emptyMetadata), s.now())
	s.counts.created.Add(1)
	if x.afterWrite(kind) {
		x.replyProfile(r)
	}
}

func (x *exchange) tooLarge() {
	x.fail(http.StatusRequestEntityTooLarge, typeRequestTooLarge, fmt.Sprintf("request body is larger than %d bytes", MaxBodyBytes))
}

func (x *exchange) id() string { return x.r.URL.Path[len(itemPrefix):] }

func (x *exchange) notFound(id string) {
	x.fail(http.StatusNotFound, typeNotFound, fmt.Sprintf("no user profile with id %q", id))
}

func (x *exchange) retrieve() {
	id := x.id()
	r, ok := x.s.store.get(id)
	if !ok {
		x.notFound(id)
		return
	}
	x.replyProfile(r)
}

func (x *exchange) update() {
	s := x.s
	id := x.id()
	b, ok := x.readValidBody(opUpdate)
	if !ok {
		return
	}
	old, ok := s.store.get(id)
	if !ok {
		x.notFound(id)
		return
	}
	// Rules on the merged result are checked before the fault draw too, so
	// that a refused update draws none, like a refused create.
	if _, err := applyUpdate(old, b, s.emptyMetadata); err != nil {
		x.fail(http.StatusBadRequest, typeInvalidRequest, err.Error())
		return
	}
	kind, apply := x.beforeWrite()
	if !apply {
		return
	}
	r, err := s.store.update(id, s.now(), func(old *record) (*record, error) {
		return applyUpdate(old, b, s.emptyMetadata)
	})
	switch {
	case errors.Is(err, errNotFound): // deleted meanwhile, e.g. during a late fault's wait
		x.notFound(id)
		return
	case err != nil: // another update changed what the rules depend on
		x.fail(http.StatusBadRequest, typeInvalidRequest, err.Error())
		return
	}
	s.counts.updated.Add(1)
	if x.afterWrite(kind) {
		x.replyProfile(r)
	}
}

func (x *exchange) delete() {
	s := x.s
	id := x.id()
	if _, ok := s.store.get(id); !ok {
		x.notFound(id)
		return
	}
	kind, apply := x.beforeWrite()
	if !apply {
		return
	}
	if !s.store.remove(id) {
		x.notFound(id)
		return
	}
	s.counts.deleted.Add(1)
	if x.afterWrite(kind) {
		b := append([]byte(`{"id":`), appendString(nil, id)...)
		b = append(b, `,"type":"user_profile_deleted"}`+"\n"...)
		x.send(http.StatusOK, b)
	}
}

func (x *exchange) replyProfile(r *record) {
	b := appendProfile(make([]byte, 0, 512), r, formOf(x.version))
	x.send(http.StatusOK, append(b, '\n'))
}

// Enforcement statuses the GA list filter accepts.
var enforcementStatuses = []string{"unrestricted", "pending", "restricted", "banned"}

func (x *exchange) list() {
	q, msg := x.s.parseListQuery(x.r.URL.Query(), x.version)
	if msg != "" {
		x.fail(http.StatusBadRequest, typeInvalidRequest, msg)
		return
	}
	page, more := x.s.store.list(q)
	f := formOf(x.version)
	b := make([]byte, 0, 64+len(page)*512)
	b = append(b, `{"data":[`...)
	for i, r := range page {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendProfile(b, r, f)
	}
	b = append(b, `],"next_page":`...)
	if more && len(page) > 0 {
		b = appendString(b, encodeCursor(q, page[len(page)-1]))
	} else {
		// null is the only end marker.
		b = append(b, "null"...)
	}
	x.send(http.StatusOK, append(b, "}\n"...))
}

// parseListQuery validates the list parameters; unknown parameters are
// ignored, as the SDK may add its own.
func (s *Server) parseListQuery(v url.Values, ver version) (listQuery, string) {
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
	// The SDK sends the repeatable filter as enforcement_status[]=...; a
	// hand-written query may leave the brackets out.
	if statuses := append(v["enforcement_status"], v["enforcement_status[]"]...); len(statuses) > 0 {
		if ver != vGA {
			return q, fmt.Sprintf("enforcement_status: the filter is not accepted under anthropic-beta %s; send no user-profiles beta header to filter", ver)
		}
		for _, st := range statuses {
			if !slices.Contains(enforcementStatuses, st) {
				return q, fmt.Sprintf("enforcement_status: %q is not one of %s", shorten(st), strings.Join(enforcementStatuses, ", "))
			}
		}
		q.statuses = statuses
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
		if r, ok := s.store.get(c.ID); ok && r.created != c.At {
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

// send writes a complete answer, its Date stamped now.
func (x *exchange) send(status int, b []byte) { x.s.writeBytes(x.w, status, b) }

func (x *exchange) fail(status int, typ, msg string) {
	x.s.writeError(x.w, status, typ, msg, x.requestID)
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

func (s *Server) writeError(w http.ResponseWriter, status int, typ, msg, requestID string) {
	var b errorBody
	b.Type = "error"
	b.Error.Type, b.Error.Message = typ, msg
	b.RequestID = requestID
	s.writeJSON(w, status, &b)
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// The real API does not escape <, > and &; neither do we, so names
	// round-trip byte for byte.
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // only the emulator's own types, which always encode
	s.writeBytes(w, status, buf.Bytes())
}

func (s *Server) writeBytes(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("content-type", "application/json")
	s.stampDate(h)
	w.WriteHeader(status)
	_, _ = w.Write(b) // a write error means the client left
}

func (s *Server) serveStats(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("allow", "GET")
		s.writeError(w, http.StatusMethodNotAllowed, typeInvalidRequest, "use GET", requestID(w))
		return
	}
	st := s.Stats()
	s.writeJSON(w, http.StatusOK, &st)
}

// serveProfiles streams every live profile in the stored form as one JSON
// array, rendering one profile at a time so millions of them never sit in
// memory as text.
func (s *Server) serveProfiles(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("allow", "GET")
		s.writeError(w, http.StatusMethodNotAllowed, typeInvalidRequest, "use GET", requestID(w))
		return
	}
	v := s.store.view()
	w.Header().Set("content-type", "application/json")
	bw := bufio.NewWriterSize(w, 64<<10)
	buf := make([]byte, 0, 1024)
	_ = bw.WriteByte('[')
	first := true
	for i := 0; i < v.n; i++ {
		rec := v.at(i)
		if rec.deleted {
			continue
		}
		buf = buf[:0]
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = appendProfile(buf, rec, formStored)
		if _, err := bw.Write(buf); err != nil {
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
