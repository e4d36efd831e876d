package reconcile

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/provision/provision/internal/client"
	"github.com/provision/provision/internal/governor"
	"github.com/provision/provision/internal/profile"
)

type nopPacer struct{}

func (nopPacer) Wait(context.Context) error { return nil }
func (nopPacer) Observe(governor.Signal)    {}

// fakeLister serves profiles newest first in pages, failing the first
// failFirst calls with the given kind.
type fakeLister struct {
	profiles  []profile.Profile // newest first
	calls     int
	failFirst int
	failKind  client.Kind
}

func (f *fakeLister) ListNewest(_ context.Context, cursor string, limit int) (client.Page, client.Result) {
	f.calls++
	if f.calls <= f.failFirst {
		return client.Page{}, client.Result{Kind: f.failKind, Status: 500, Message: "boom"}
	}
	start, _ := strconv.Atoi(cursor)
	end := min(start+limit, len(f.profiles))
	page := client.Page{Data: f.profiles[start:end]}
	if end < len(f.profiles) {
		next := strconv.Itoa(end)
		page.NextPage = &next
	}
	return page, client.Result{Kind: client.Created, Status: 200}
}

func TestRun(t *testing.T) {
	base := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	mk := func(id string, ext *string, name string, at time.Time) profile.Profile {
		return profile.Profile{ID: id, ExternalID: ext, Name: &name, Relationship: "external", CreatedAt: at}
	}
	// 1000 profiles, one a second, newest first: the batch's oldest attempt
	// is 100 s before the newest, so paging must stop long before the end.
	var ps []profile.Profile
	for i := 999; i >= 0; i-- {
		ext := fmt.Sprintf("other-%d", i)
		ps = append(ps, mk(fmt.Sprintf("uprof_%d", i), &ext, "someone", base.Add(time.Duration(i)*time.Second)))
	}
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }
	ps[0] = mk("uprof_found", profile.Str("u-found"), "Found", at(999))
	ps[10] = mk("uprof_anon", nil, "Anon", at(989))
	ps[20] = mk("uprof_dup1", profile.Str("u-dup"), "Dup", at(979))
	ps[30] = mk("uprof_dup2", profile.Str("u-dup"), "Dup", at(969))
	ps[40] = mk("uprof_otherdata", profile.Str("u-missing"), "Different name", at(959))
	ps[900] = mk("uprof_tooold", profile.Str("u-old"), "Old", at(99)) // before its row's attempt

	batch := []Parked{
		{Seq: 1, Identity: "external_id:u-found", Request: profile.Request{ExternalID: profile.Str("u-found"), Name: profile.Str("Found")}, AttemptAt: at(998)},
		{Seq: 2, Identity: profile.Request{Name: profile.Str("Anon")}.Identity(), Request: profile.Request{Name: profile.Str("Anon")}, AttemptAt: at(988)},
		{Seq: 3, Identity: "external_id:u-dup", Request: profile.Request{ExternalID: profile.Str("u-dup"), Name: profile.Str("Dup")}, AttemptAt: at(960)},
		{Seq: 4, Identity: "external_id:u-missing", Request: profile.Request{ExternalID: profile.Str("u-missing"), Name: profile.Str("Missing")}, AttemptAt: at(950)},
		{Seq: 5, Identity: "external_id:u-old", Request: profile.Request{ExternalID: profile.Str("u-old"), Name: profile.Str("Old")}, AttemptAt: at(900)},
	}
	lister := &fakeLister{profiles: ps}
	r := &Reconciler{Walker: Walker{Lister: lister, Pacer: nopPacer{}, PageSize: 10}, Margin: 5 * time.Second}
	found, st, err := r.Run(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	ids := func(seq int64) []string {
		var out []string
		for _, p := range found[seq] {
			out = append(out, p.ID)
		}
		return out
	}
	if got := ids(1); len(got) != 1 || got[0] != "uprof_found" {
		t.Errorf("by external_id: %v", got)
	}
	if got := ids(2); len(got) != 1 || got[0] != "uprof_anon" {
		t.Errorf("by content: %v", got)
	}
	if got := ids(3); len(got) != 2 {
		t.Errorf("duplicates must all be reported: %v", got)
	}
	if got := ids(4); len(got) != 0 {
		t.Errorf("same external_id, other content must not match: %v", got)
	}
	if got := ids(5); len(got) != 0 {
		t.Errorf("a profile older than the attempt must not match: %v", got)
	}
	if st.Found != 2 || st.Multiple != 1 || st.NotFound != 2 {
		t.Errorf("stats %+v", st)
	}
	// Oldest attempt at(900) minus 5 s margin: about 105 profiles, 11 pages.
	if st.Pages > 12 || st.Pages < 10 {
		t.Errorf("listed %d pages; the window needs about 11", st.Pages)
	}
}

func TestRunRetriesListErrorsAndStopsOnFatal(t *testing.T) {
	p := profile.Profile{ID: "uprof_1", ExternalID: profile.Str("u1"), Relationship: "external", CreatedAt: time.Now()}
	batch := []Parked{{Seq: 1, Identity: "external_id:u1", Request: profile.Request{ExternalID: profile.Str("u1")}, AttemptAt: time.Now().Add(-time.Second)}}

	lister := &fakeLister{profiles: []profile.Profile{p}, failFirst: 2, failKind: client.Unknown}
	found, _, err := (&Reconciler{Walker: Walker{Lister: lister, Pacer: nopPacer{}}, Margin: time.Minute}).Run(context.Background(), batch)
	if err != nil || len(found[1]) != 1 {
		t.Fatalf("after two failed lists: %v %v", found, err)
	}

	lister = &fakeLister{profiles: []profile.Profile{p}, failFirst: 1, failKind: client.Fatal}
	_, _, err = (&Reconciler{Walker: Walker{Lister: lister, Pacer: nopPacer{}}, Margin: time.Minute}).Run(context.Background(), batch)
	if !errors.Is(err, ErrFatal) {
		t.Fatalf("refused credentials: %v", err)
	}
}

// The next page is fetched while the last is handled, but never one past
// the page where the window ends, nor after fn has stopped the walk.
func TestWalkFetchesNoPageBeyondTheEnd(t *testing.T) {
	base := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	var ps []profile.Profile
	for i := 99; i >= 0; i-- {
		ps = append(ps, profile.Profile{ID: fmt.Sprintf("uprof_%d", i), CreatedAt: base.Add(time.Duration(i) * time.Second)})
	}
	lister := &fakeLister{profiles: ps}
	w := Walker{Lister: lister, Pacer: nopPacer{}, PageSize: 10}
	seen := 0
	st, err := w.Since(context.Background(), func() time.Time { return base.Add(55 * time.Second) }, func(page []profile.Profile) error {
		seen += len(page)
		return nil
	})
	if err != nil || seen != 45 || st.Pages != 5 || lister.calls != 5 {
		t.Errorf("since: %d profiles, %+v, %d requests, %v; want 45 in 5 pages and 5 requests", seen, st, lister.calls, err)
	}

	lister = &fakeLister{profiles: ps}
	w.Lister = lister
	st, err = w.Walk(context.Background(), func(page []profile.Profile) (bool, error) { return false, nil })
	if err != nil || st.Pages != 10 || st.Listed != 100 || lister.calls != 10 {
		t.Errorf("walk: %+v, %d requests, %v; want 10 pages", st, lister.calls, err)
	}

	lister = &fakeLister{profiles: ps}
	w.Lister = lister
	st, err = w.Walk(context.Background(), func(page []profile.Profile) (bool, error) { return true, nil })
	if err != nil || st.Pages != 1 || lister.calls > 2 {
		t.Errorf("done after a page: %+v, %d requests, %v", st, lister.calls, err)
	}
}

// Through the client, pages are asked for from their cursors alone and
// decoded after: a page that cannot be decoded ends the walk with an error
// naming the listing, and the pages before it were handed over whole.
func TestWalkOverTheClient(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("content-type", "application/json")
		switch r.URL.Query().Get("page") {
		case "":
			fmt.Fprint(w, `{"data":[{"id":"uprof_1","created_at":"2026-05-01T12:00:02Z","external_id":"a","name":"A","relationship":"external"}],"next_page":"p2"}`)
		case "p2":
			fmt.Fprint(w, `{"data":[{"id":"uprof_2","created_at":"2026-05-01T12:00:01Z","external_id":"b","name":5}],"next_page":"p3"}`)
		default:
			fmt.Fprint(w, `{"data":[],"next_page":null}`)
		}
	}))
	defer srv.Close()
	c, err := client.New(client.Config{BaseURL: srv.URL, APIKey: "k", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var got []profile.Profile
	w := Walker{Lister: c, Pacer: nopPacer{}, MaxErrors: 1}
	_, err = w.Walk(context.Background(), func(page []profile.Profile) (bool, error) {
		got = append(got, page...)
		return false, nil
	})
	if err == nil || !strings.Contains(err.Error(), "listing profiles") || len(got) != 1 || got[0].Name == nil || *got[0].Name != "A" {
		t.Fatalf("walk: %v, profiles %+v; want the first page whole, then the second's decoding error", err, got)
	}
	if n := requests.Load(); n > 3 {
		t.Errorf("%d requests; the walk asks for at most the page after the one it stopped at", n)
	}
}
