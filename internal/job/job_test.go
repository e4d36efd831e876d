package job

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/provision/provision/internal/client"
	"github.com/provision/provision/internal/governor"
	"github.com/provision/provision/internal/profile"
	"github.com/provision/provision/internal/reader"
	"github.com/provision/provision/internal/state"
)

// lateServer is a server that is slower than its client: every create is
// still being processed when the client gives up (a timeout, or the client
// is gone), and the profile is stored `late` after that moment. This is the
// ambiguous case that --settle exists for.
type lateServer struct {
	hang time.Duration // how long a create hangs before the client gives up; 0 = until ctx is done
	late time.Duration // how long after the client gave up the profile is stored

	mu       sync.Mutex
	profiles []profile.Profile // oldest first
	creates  int
	pending  sync.WaitGroup
}

func (s *lateServer) Create(ctx context.Context, req profile.Request) client.Result {
	s.mu.Lock()
	s.creates++
	s.mu.Unlock()
	if s.hang > 0 {
		select {
		case <-time.After(s.hang):
		case <-ctx.Done():
		}
	} else {
		<-ctx.Done()
	}
	s.pending.Add(1)
	time.AfterFunc(s.late, func() {
		defer s.pending.Done()
		s.mu.Lock()
		defer s.mu.Unlock()
		now := time.Now().UTC()
		p := profile.Profile{ID: fmt.Sprintf("uprof_%024d", len(s.profiles)+1), Type: "user_profile", CreatedAt: now, UpdatedAt: now,
			ExternalID: req.ExternalID, Name: req.Name, Relationship: profile.DefaultRelationship, Metadata: map[string]string{}}
		s.profiles = append(s.profiles, p)
	})
	return client.Result{Kind: client.Unknown, ErrorType: "timeout", Message: "no answer before the timeout"}
}

func (s *lateServer) ListNewest(ctx context.Context, cursor string, limit int) (client.Page, client.Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var page client.Page
	for i := len(s.profiles) - 1; i >= 0; i-- {
		page.Data = append(page.Data, s.profiles[i])
	}
	return page, client.Result{Kind: client.Created, Status: 200}
}

func (s *lateServer) count() (profiles, creates int) {
	s.pending.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.profiles), s.creates
}

type noPacer struct{}

func (noPacer) Wait(ctx context.Context) error { return ctx.Err() }
func (noPacer) Observe(governor.Signal)        {}

type nopProgress struct{}

func (nopProgress) Add(profile.Status) {}
func (nopProgress) Waiting(string)     {}
func (nopProgress) Close()             {}

func openInput(t *testing.T, csv string) *reader.Reader {
	t.Helper()
	rd, err := reader.Open(strings.NewReader(csv), reader.Options{Format: reader.FormatCSV})
	if err != nil {
		t.Fatal(err)
	}
	return rd
}

func openStore(t *testing.T) *state.Store {
	t.Helper()
	st, err := state.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

const oneRow = "external_id,name\nu-1,One\n"

// wantOneProfile fails unless the server ended with exactly one profile.
func wantOneProfile(t *testing.T, srv *lateServer, res Result) {
	t.Helper()
	if profiles, creates := srv.count(); profiles != 1 {
		t.Fatalf("the server holds %d profiles after %d creates, want 1 (reconciled %d)", profiles, creates, res.Reconciled)
	}
}

// A create that times out may still be stored by the server after the
// client gave up. The settle wait must count from the unknown outcome, not
// from the send: counted from the send, a timeout longer than --settle
// leaves no wait at all, the listing comes too early, and the row is sent a
// second time.
func TestSettleCountsFromTheUnknownOutcome(t *testing.T) {
	srv := &lateServer{hang: 400 * time.Millisecond, late: 150 * time.Millisecond}
	st := openStore(t)
	ctx := context.Background()
	res, err := Run(ctx, ctx, Config{Input: openInput(t, oneRow), InputName: "users.csv", Store: st, API: srv, Pacer: noPacer{},
		Concurrency: 1, MaxAttempts: 3, Settle: 300 * time.Millisecond, Progress: nopProgress{}})
	if err != nil {
		t.Fatal(err)
	}
	wantOneProfile(t, srv, res)
}

// After a crash, the rows left pending were sent by a process that is gone;
// the server may store their profiles shortly after it died. The next run
// must give them the settle time counted from its own start, not from the
// attempt time in the state, which may be long past.
func TestSettleAfterACrashCountsFromTheRunStart(t *testing.T) {
	srv := &lateServer{late: 150 * time.Millisecond}
	st := openStore(t)

	// The first run: the request is on the wire when the process "dies"
	// (both contexts end), long after the row was marked pending.
	stop, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(400 * time.Millisecond)
		cancel()
	}()
	if _, err := Run(stop, stop, Config{Input: openInput(t, oneRow), InputName: "users.csv", Store: st, API: srv, Pacer: noPacer{},
		Concurrency: 1, MaxAttempts: 3, Settle: 300 * time.Millisecond, Progress: nopProgress{}}); err != nil {
		t.Fatal(err)
	}
	// The next run starts at once and resumes it.
	srv.hang = time.Millisecond
	ctx := context.Background()
	res, err := Run(ctx, ctx, Config{Input: openInput(t, oneRow), InputName: "users.csv", Store: st, API: srv, Pacer: noPacer{},
		Concurrency: 1, MaxAttempts: 3, Settle: 300 * time.Millisecond, Progress: nopProgress{}})
	if err != nil {
		t.Fatal(err)
	}
	wantOneProfile(t, srv, res)
}

// A request of a killed process may be processed for as long as that
// process would have waited for it, --timeout: the next run must not look
// for its profile before its own start plus the timeout plus the settle
// time, the wait a live process would have kept.
//
// The killed process's timeout is the one that counts, recorded with the
// attempt: the run that resumes may have been given a shorter one.
func TestSettleAfterACrashCoversTheTimeout(t *testing.T) {
	for _, resumeTimeout := range []time.Duration{400 * time.Millisecond, 10 * time.Millisecond} {
		t.Run("resumed with --timeout "+resumeTimeout.String(), func(t *testing.T) {
			srv := &lateServer{late: 500 * time.Millisecond}
			st := openStore(t)
			cfg := func(timeout time.Duration) Config {
				return Config{Input: openInput(t, oneRow), InputName: "users.csv", Store: st, API: srv, Pacer: noPacer{},
					Concurrency: 1, MaxAttempts: 3, Settle: 300 * time.Millisecond, Timeout: timeout, Progress: nopProgress{}}
			}
			// The process dies 100 ms after sending; the server stores the
			// profile 500 ms later, within its 400 ms timeout plus 300 ms settle.
			stop, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			if _, err := Run(stop, stop, cfg(400*time.Millisecond)); err != nil {
				t.Fatal(err)
			}
			srv.hang = time.Millisecond
			ctx := context.Background()
			res, err := Run(ctx, ctx, cfg(resumeTimeout))
			if err != nil {
				t.Fatal(err)
			}
			wantOneProfile(t, srv, res)
		})
	}
}

// A connection that breaks after the request went out makes the outcome
// unknown at once, but the server may go on and store the profile: the
// listing must wait as long as it would have after a timeout.
func TestSettleAfterABrokenConnectionCoversTheTimeout(t *testing.T) {
	srv := &lateServer{hang: 20 * time.Millisecond, late: 400 * time.Millisecond}
	st := openStore(t)
	ctx := context.Background()
	res, err := Run(ctx, ctx, Config{Input: openInput(t, oneRow), InputName: "users.csv", Store: st, API: srv, Pacer: noPacer{},
		Concurrency: 1, MaxAttempts: 3, Settle: 200 * time.Millisecond, Timeout: 500 * time.Millisecond, Progress: nopProgress{}})
	if err != nil {
		t.Fatal(err)
	}
	wantOneProfile(t, srv, res)
}

// closingReader serves an export and closes the store once more than after
// bytes have been read, so that the run's next Admit fails.
type closingReader struct {
	r      *strings.Reader
	after  int
	read   int
	closed bool
	st     *state.Store
}

func (c *closingReader) Read(p []byte) (int, error) {
	if c.read > c.after && !c.closed {
		c.closed = true
		c.st.Close()
	}
	p = p[:min(len(p), 4096)]
	n, err := c.r.Read(p)
	c.read += n
	return n, err
}

// TestStateFailureEndsTheRun: when the state can no longer be written, the
// run stops and returns the error; rows admitted but not yet handed to a
// worker must not keep it waiting forever.
func TestStateFailureEndsTheRun(t *testing.T) {
	var b strings.Builder
	b.WriteString("external_id,name\n")
	for i := range 8000 {
		fmt.Fprintf(&b, "u-%d,User %d\n", i, i)
	}
	st := openStore(t)
	in := &closingReader{r: strings.NewReader(b.String()), after: 70 << 10, st: st}
	rd, err := reader.Open(in, reader.Options{Format: reader.FormatCSV})
	if err != nil {
		t.Fatal(err)
	}
	srv := &lateServer{}
	done := make(chan error, 1)
	go func() {
		ctx := context.Background()
		_, err := Run(ctx, ctx, Config{Input: rd, InputName: "users.csv", Store: st, API: instantServer{srv}, Pacer: noPacer{},
			Concurrency: 4, Progress: nopProgress{}})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the run ended without an error after its state was closed")
		}
	case <-time.After(60 * time.Second): // SQLite under -race on a loaded machine is slow; a hang is forever
		t.Fatal("the run hangs after a state error")
	}
}

// instantServer creates every profile at once.
type instantServer struct{ *lateServer }

func (s instantServer) Create(_ context.Context, req profile.Request) client.Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.creates++
	p := profile.Profile{ID: fmt.Sprintf("uprof_%d", s.creates), ExternalID: req.ExternalID, Name: req.Name, Relationship: "external", CreatedAt: time.Now()}
	s.profiles = append(s.profiles, p)
	return client.Result{Kind: client.Created, Status: 200, Profile: p}
}

// Update and Delete: the run command never sends them.
func (s *lateServer) Update(context.Context, string, any) client.Result {
	return client.Result{Kind: client.Rejected}
}
func (s *lateServer) Delete(context.Context, string) client.Result {
	return client.Result{Kind: client.Rejected}
}
