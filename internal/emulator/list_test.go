package emulator_test

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/provision/provision/internal/emulator"
)

// testNames mixes case, duplicates under case folding, and characters that
// sort between ASCII upper and lower case.
func testNames() []string {
	return []string{"alice", "Alice", "BOB", "bob", "Carol", "dave", "_under", "Eve", "eve", "zed", "Zed", "0zero", "mallory"}
}

// createNamed creates n profiles; every tenth has no name.
func createNamed(e *env, n int) []wireProfile {
	out := make([]wireProfile, 0, n)
	names := testNames()
	for i := range n {
		req := createReq{ExternalID: str(fmt.Sprint("row-", i))}
		if i%10 != 3 {
			req.Name = str(names[i%len(names)])
		}
		out = append(out, e.mustCreate(req))
	}
	return out
}

// expectedOrder sorts created (given in creation order) the way the SDK
// documents: by created_at, or by name ignoring ASCII case with nameless
// profiles last in either direction and ties in created_at order.
func expectedOrder(created []wireProfile, order, orderBy string) []string {
	type item struct {
		p   wireProfile
		seq int
	}
	items := make([]item, len(created))
	for i, p := range created {
		items[i] = item{p, i}
	}
	dir := 1
	if order == "desc" {
		dir = -1
	}
	slices.SortFunc(items, func(a, b item) int {
		if orderBy == "name" {
			if (a.p.Name == nil) != (b.p.Name == nil) {
				if a.p.Name == nil {
					return 1
				}
				return -1
			}
			if a.p.Name != nil {
				if c := strings.Compare(strings.ToLower(*a.p.Name), strings.ToLower(*b.p.Name)); c != 0 {
					return dir * c
				}
			}
		}
		return dir * cmp.Compare(a.seq, b.seq)
	})
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.p.ID
	}
	return ids
}

func listAll(t *testing.T, e *env, order, orderBy string, limit int64) []string {
	t.Helper()
	pager := e.client.Beta.UserProfiles.ListAutoPaging(context.Background(), anthropic.BetaUserProfileListParams{
		Limit:   anthropic.Int(limit),
		Order:   anthropic.BetaUserProfileListParamsOrder(order),
		OrderBy: anthropic.BetaUserProfileListParamsOrderBy(orderBy),
	}, beta())
	var ids []string
	for p := range pager.All() {
		ids = append(ids, p.ID)
	}
	if err := pager.Err(); err != nil {
		t.Fatalf("list %s %s: %v", orderBy, order, err)
	}
	return ids
}

func listOrders() []struct{ order, orderBy string } {
	return []struct{ order, orderBy string }{
		{"desc", "created_at"}, {"asc", "created_at"}, {"asc", "name"}, {"desc", "name"},
	}
}

func TestListPaging(t *testing.T) {
	e := newEnv(t, emulator.Config{})
	created := createNamed(e, 250)
	for _, o := range listOrders() {
		t.Run(o.orderBy+"_"+o.order, func(t *testing.T) {
			got := listAll(t, e, o.order, o.orderBy, 7)
			if want := expectedOrder(created, o.order, o.orderBy); !slices.Equal(got, want) {
				t.Errorf("got %d ids, want %d in order;\n got %v\nwant %v", len(got), len(want), got, want)
			}
		})
	}
}

func TestListDefaultsAndEndMarker(t *testing.T) {
	e := newEnv(t, emulator.Config{})
	created := createNamed(e, 45)
	ctx := context.Background()
	page, err := e.client.Beta.UserProfiles.List(ctx, anthropic.BetaUserProfileListParams{}, beta())
	if err != nil {
		t.Fatal(err)
	}
	want := expectedOrder(created, "desc", "created_at")
	var pages int
	var got []string
	for page != nil {
		pages++
		for _, p := range page.Data {
			got = append(got, p.ID)
		}
		last := page.NextPage == ""
		if raw := page.JSON.NextPage.Raw(); last != (raw == "null") {
			t.Errorf("page %d: next_page %s", pages, raw)
		}
		if !last && len(page.Data) != 20 {
			t.Errorf("page %d holds %d profiles, want the default 20", pages, len(page.Data))
		}
		if page, err = page.GetNextPage(); err != nil {
			t.Fatal(err)
		}
	}
	if pages != 3 || !slices.Equal(got, want) {
		t.Errorf("%d pages, ids %v, want 3 pages of %v", pages, got, want)
	}

	// Exactly a page's worth: the last full page already says null.
	e2 := newEnv(t, emulator.Config{})
	createNamed(e2, 20)
	page, err = e2.client.Beta.UserProfiles.List(ctx, anthropic.BetaUserProfileListParams{}, beta())
	if err != nil {
		t.Fatal(err)
	}
	if page.JSON.NextPage.Raw() != "null" {
		t.Errorf("next_page %s after all 20 profiles, want null", page.JSON.NextPage.Raw())
	}
	// No profiles: data is [], not null.
	e3 := newEnv(t, emulator.Config{})
	page, err = e3.client.Beta.UserProfiles.List(ctx, anthropic.BetaUserProfileListParams{}, beta())
	if err != nil {
		t.Fatal(err)
	}
	if page.JSON.Data.Raw() != "[]" || page.JSON.NextPage.Raw() != "null" {
		t.Errorf("empty list: %s", page.RawJSON())
	}
}

func TestListRejectsBadParameters(t *testing.T) {
	e := newEnv(t, emulator.Config{})
	createNamed(e, 5)
	ctx := context.Background()
	for _, q := range [][2]string{
		{"limit", "0"}, {"limit", "101"}, {"limit", "ten"}, {"order", "up"}, {"order_by", "id"}, {"page", "%%%"}, {"page", "e30"},
	} {
		_, err := e.client.Beta.UserProfiles.List(ctx, anthropic.BetaUserProfileListParams{}, beta(), option.WithQuery(q[0], q[1]))
		if ae := wantAPIError(t, err, http.StatusBadRequest, "invalid_request_error"); ae != nil && !strings.Contains(ae.Message, q[0]) {
			t.Errorf("%s=%s: message %q does not name the parameter", q[0], q[1], ae.Message)
		}
	}
	// A cursor only resumes the order it was issued for.
	page, err := e.client.Beta.UserProfiles.List(ctx, anthropic.BetaUserProfileListParams{Limit: anthropic.Int(2)}, beta())
	if err != nil || page.NextPage == "" {
		t.Fatalf("first page: %v, next %q", err, page.NextPage)
	}
	_, err = e.client.Beta.UserProfiles.List(ctx, anthropic.BetaUserProfileListParams{
		Limit: anthropic.Int(2), Order: "asc", Page: anthropic.String(page.NextPage),
	}, beta())
	wantAPIError(t, err, http.StatusBadRequest, "invalid_request_error")
}

// TestListPagingWhileCreating pages through every order while another
// goroutine keeps creating: each profile that existed before paging began
// is returned exactly once and in order, and nothing is returned twice.
func TestListPagingWhileCreating(t *testing.T) {
	e := newEnv(t, emulator.Config{})
	created := createNamed(e, 300)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		names := testNames()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			name := names[i%len(names)]
			if _, _, err := e.create(context.Background(), createReq{Name: &name}); err != nil {
				t.Errorf("background create: %v", err)
				return
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()

	old := make(map[string]bool, len(created))
	for _, p := range created {
		old[p.ID] = true
	}
	for _, o := range listOrders() {
		t.Run(o.orderBy+"_"+o.order, func(t *testing.T) {
			got := listAll(t, e, o.order, o.orderBy, 9)
			seen := make(map[string]bool, len(got))
			var olds []string
			for _, id := range got {
				if seen[id] {
					t.Fatalf("%s listed twice", id)
				}
				seen[id] = true
				if old[id] {
					olds = append(olds, id)
				}
			}
			if want := expectedOrder(created, o.order, o.orderBy); !slices.Equal(olds, want) {
				t.Errorf("older profiles: got %d, want all %d in order", len(olds), len(want))
			}
		})
	}
}
