package job

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/provision/provision/internal/client"
	"github.com/provision/provision/internal/profile"
	"github.com/provision/provision/internal/reader"
	"github.com/provision/provision/internal/state"
)

// memOrg is an org in memory that answers every write at once, with the
// GA update semantics: metadata merges ("" deletes a key), other fields
// sent replace the stored ones.
type memOrg struct {
	mu       sync.Mutex
	profiles []profile.Profile // oldest first
	bodies   []string          // every update body, as JSON
	deletes  int
	made     int // profiles ever created: ids are never reused
	lists    int // list requests answered
	// ahead shifts the server's clock (created_at, Date) from the local one.
	ahead time.Duration
}

func (o *memOrg) now() time.Time { return time.Now().UTC().Add(o.ahead) }

func (o *memOrg) Create(_ context.Context, req profile.Request) client.Result {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.now()
	o.made++
	p := profile.Profile{ID: fmt.Sprintf("uprof_%024d", o.made), CreatedAt: now, UpdatedAt: now}
	apply(&p, req)
	o.profiles = append(o.profiles, p)
	return client.Result{Kind: client.Created, Status: 200, Profile: p}
}

func apply(p *profile.Profile, r profile.Request) {
	if r.ExternalID != nil {
		p.ExternalID = r.ExternalID
	}
	if r.Name != nil {
		p.Name = r.Name
	}
	if rel := r.Relationship; rel != nil {
		p.Relationship = *rel
	}
	if p.Relationship == "" {
		p.Relationship = profile.DefaultRelationship
	}
	for _, f := range []struct{ dst, src **string }{{&p.Country, &r.Country}, {&p.AccountStatus, &r.AccountStatus}, {&p.EmailHash, &r.EmailHash}} {
		if *f.src != nil {
			*f.dst = *f.src
		}
	}
	for k, v := range r.Metadata {
		if p.Metadata == nil {
			p.Metadata = map[string]string{}
		}
		if v == "" {
			delete(p.Metadata, k)
		} else {
			p.Metadata[k] = v
		}
	}
}

func (o *memOrg) Update(_ context.Context, id string, body any) client.Result {
	o.mu.Lock()
	defer o.mu.Unlock()
	b, _ := json.Marshal(body)
	o.bodies = append(o.bodies, string(b))
	var wire profile.Profile // the GA body decodes as a GA profile would
	if err := json.Unmarshal(b, &wire); err != nil {
		return client.Result{Kind: client.Rejected, Message: err.Error()}
	}
	var md map[string]string
	var raw struct {
		Metadata map[string]string `json:"metadata"`
	}
	_ = json.Unmarshal(b, &raw)
	md = raw.Metadata
	for i := range o.profiles {
		if o.profiles[i].ID == id {
			r := wire.Request()
			r.Metadata = md
			r.Relationship = nil
			apply(&o.profiles[i], r)
			return client.Result{Kind: client.Created, Status: 200, Profile: o.profiles[i]}
		}
	}
	return client.Result{Kind: client.Rejected, Status: 404, ErrorType: "not_found_error"}
}

func (o *memOrg) Delete(_ context.Context, id string) client.Result {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.deletes++
	for i := range o.profiles {
		if o.profiles[i].ID == id {
			o.profiles = append(o.profiles[:i], o.profiles[i+1:]...)
			break
		}
	}
	return client.Result{Kind: client.Created, Status: 200}
}

// ListNewest pages newest first; the cursor is how many were listed.
func (o *memOrg) ListNewest(_ context.Context, cursor string, limit int) (client.Page, client.Result) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lists++
	skip, _ := strconv.Atoi(cursor)
	var page client.Page
	for i := len(o.profiles) - 1 - skip; i >= 0 && len(page.Data) < limit; i-- {
		page.Data = append(page.Data, o.profiles[i])
	}
	if n := skip + len(page.Data); n < len(o.profiles) {
		next := strconv.Itoa(n)
		page.NextPage = &next
	}
	h := http.Header{"Date": {o.now().Format(http.TimeFormat)}}
	return page, client.Result{Kind: client.Created, Status: 200, Header: h}
}

func (o *memOrg) byExternalID() map[string]profile.Profile {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := map[string]profile.Profile{}
	for _, p := range o.profiles {
		if p.ExternalID != nil {
			m[*p.ExternalID] = p
		}
	}
	return m
}

// night runs one sync of csv under GA and returns the report rows by
// external_id (absent rows included) and the result.
func night(t *testing.T, st *state.Store, org *memOrg, csv string, absent Absent, limit string) (map[string]state.ReportRow, Result) {
	t.Helper()
	rd, err := reader.Open(strings.NewReader(csv), reader.Options{Format: reader.FormatCSV, Version: profile.VersionGA})
	if err != nil {
		t.Fatal(err)
	}
	lim, err := ParseLimit(limit)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := Run(ctx, ctx, Config{Input: rd, InputName: fmt.Sprint(time.Now().UnixNano()), Store: st, API: org, Pacer: noPacer{},
		Concurrency: 2, MaxAttempts: 2, Settle: time.Millisecond, Timeout: time.Second, Progress: nopProgress{}, Target: "mem",
		Version: profile.VersionGA, Sync: true, Absent: absent, MaxAbsent: lim, IdentityColumn: "reference_id"})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.FinishRun(res.Run.ID, res.Rows, 0, nil, 10); err != nil {
		t.Fatal(err)
	}
	rows := map[string]state.ReportRow{}
	err = st.EachRow(ctx, res.Run.ID, func(r state.ReportRow) error {
		for _, f := range r.Fields {
			if f.Name == "reference_id" {
				rows[f.Value] = r
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return rows, res
}

func wantRow(t *testing.T, rows map[string]state.ReportRow, id string, status profile.Status, errType, msgPart string) {
	t.Helper()
	r, ok := rows[id]
	switch {
	case !ok:
		t.Errorf("%s: no report row", id)
	case r.Status != status || r.ErrorType != errType || !strings.Contains(r.ErrorMessage, msgPart):
		t.Errorf("%s: %s %q %q; want %s %q containing %q", id, r.Status, r.ErrorType, r.ErrorMessage, status, errType, msgPart)
	}
}

func TestSyncUpdatesOnlyWhatChanged(t *testing.T) {
	org, st := &memOrg{}, openStore(t)
	night1 := "reference_id,name,country,metadata.plan,metadata.team\nu1,One,DE,pro,a\nu2,Two,FR,free,b\nu3,Three,GB,pro,c\n"
	rows, _ := night(t, st, org, night1, AbsentIgnore, "5%")
	for _, id := range []string{"u1", "u2", "u3"} {
		wantRow(t, rows, id, profile.StatusCreated, "", "")
	}
	// u1 renamed; u2 loses its plan and its country cell; u3 unchanged.
	night2 := "reference_id,name,country,metadata.plan,metadata.team\nu1,Uno,DE,pro,a\nu2,Two,,,b\nu3,Three,GB,pro,c\n"
	rows, _ = night(t, st, org, night2, AbsentIgnore, "5%")
	wantRow(t, rows, "u1", profile.StatusUpdated, "", "changed: name")
	wantRow(t, rows, "u2", profile.StatusUpdated, profile.ErrorCannotClear, "changed: metadata.plan")
	wantRow(t, rows, "u3", profile.StatusSkipped, "", "")
	if want := []string{`{"name":"Uno"}`, `{"metadata":{"plan":""}}`}; len(org.bodies) != 2 || !sameSet(org.bodies, want) {
		t.Errorf("update bodies %v, want %v", org.bodies, want)
	}
	got := org.byExternalID()
	if *got["u1"].Name != "Uno" || got["u2"].Metadata["plan"] != "" || got["u2"].Metadata["team"] != "b" || *got["u2"].Country != "FR" {
		t.Errorf("org after night 2: %+v %+v", got["u1"], got["u2"])
	}
	// The same export again changes nothing.
	n := len(org.bodies)
	rows, _ = night(t, st, org, night2, AbsentIgnore, "5%")
	wantRow(t, rows, "u1", profile.StatusSkipped, "", "")
	wantRow(t, rows, "u2", profile.StatusSkipped, profile.ErrorCannotClear, "country")
	if len(org.bodies) != n {
		t.Errorf("an unchanged export sent %d updates", len(org.bodies)-n)
	}
}

func sameSet(a, b []string) bool {
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, v := range m {
		if v != 0 {
			return false
		}
	}
	return true
}

func users(ids ...string) string {
	var b strings.Builder
	b.WriteString("reference_id,name\n")
	for _, id := range ids {
		fmt.Fprintf(&b, "%s,Name of %s\n", id, id)
	}
	return b.String()
}

func TestSyncSuspendsAbsentAndReactivates(t *testing.T) {
	org, st := &memOrg{}, openStore(t)
	hand := org.Create(context.Background(), profile.Request{ExternalID: profile.Str("by-hand"), Name: profile.Str("Made by hand")}).Profile
	night(t, st, org, users("u1", "u2", "u3"), AbsentSuspend, "100%")
	rows, _ := night(t, st, org, users("u1", "u2"), AbsentSuspend, "100%")
	wantRow(t, rows, "u3", profile.StatusSuspended, "", "no longer in the export")
	if r := rows["u3"]; r.Line != 0 || r.ProfileID == "" {
		t.Errorf("absent row: line %d id %q; want no line and the profile's id", r.Line, r.ProfileID)
	}
	if _, ok := rows["by-hand"]; ok {
		t.Error("a profile no export named is reported absent")
	}
	got := org.byExternalID()
	if s := got["u3"].AccountStatus; s == nil || *s != "suspended" {
		t.Errorf("u3 account_status %v, want suspended", s)
	}
	if got["by-hand"].ID != hand.ID || got["by-hand"].AccountStatus != nil {
		t.Errorf("the profile made by hand was touched: %+v", got["by-hand"])
	}
	// Still absent: reported, not suspended again.
	n := len(org.bodies)
	rows, _ = night(t, st, org, users("u1", "u2"), AbsentSuspend, "100%")
	wantRow(t, rows, "u3", profile.StatusAbsent, "", "suspended by an earlier sync")
	if len(org.bodies) != n {
		t.Errorf("a suspended profile was updated again")
	}
	// Back: reactivated.
	rows, _ = night(t, st, org, users("u1", "u2", "u3"), AbsentSuspend, "100%")
	wantRow(t, rows, "u3", profile.StatusReactivated, "", "account_status")
	if s := org.byExternalID()["u3"].AccountStatus; s == nil || *s != "active" {
		t.Errorf("u3 account_status %v, want active", s)
	}
}

func TestSyncSafeguardHoldsEverySuspension(t *testing.T) {
	org, st := &memOrg{}, openStore(t)
	var ids []string
	for i := range 20 {
		ids = append(ids, fmt.Sprintf("u%02d", i))
	}
	night(t, st, org, users(ids...), AbsentSuspend, "5%")
	// Half the users vanish, and one new one comes: the new one is created,
	// the suspensions are all held (5% of 20 is 1).
	rows, _ := night(t, st, org, users(append(ids[:10:10], "new")...), AbsentSuspend, "5%")
	wantRow(t, rows, "new", profile.StatusCreated, "", "")
	for _, id := range ids[10:] {
		wantRow(t, rows, id, profile.StatusAbsent, profile.ErrorAbsentThreshold, "--max-absent")
	}
	if len(org.bodies) != 0 {
		t.Errorf("%d updates went out past the safeguard", len(org.bodies))
	}
	// A limit in profiles lets them go.
	rows, _ = night(t, st, org, users(append(ids[:10:10], "new")...), AbsentSuspend, "10")
	for _, id := range ids[10:] {
		wantRow(t, rows, id, profile.StatusSuspended, "", "")
	}
}

func TestSyncDeletesAbsentAndRecreatesOnReturn(t *testing.T) {
	org, st := &memOrg{}, openStore(t)
	night(t, st, org, users("u1", "u2"), AbsentDelete, "100%")
	first := org.byExternalID()["u2"].ID
	rows, _ := night(t, st, org, users("u1"), AbsentDelete, "100%")
	wantRow(t, rows, "u2", profile.StatusDeleted, "", "deleted")
	if _, ok := org.byExternalID()["u2"]; ok || org.deletes != 1 {
		t.Fatalf("u2 still in the org after %d deletes", org.deletes)
	}
	rows, _ = night(t, st, org, users("u1", "u2"), AbsentDelete, "100%")
	wantRow(t, rows, "u2", profile.StatusCreated, "", "")
	if p, ok := org.byExternalID()["u2"]; !ok || p.ID == first {
		t.Errorf("u2 came back as %+v; want a new profile", p)
	}
	if got := maps.Collect(maps.All(org.byExternalID())); len(got) != 2 {
		t.Errorf("the org holds %d profiles, want 2", len(got))
	}
}
