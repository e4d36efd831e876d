package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/provision/provision/internal/client"
	"github.com/provision/provision/internal/profile"
	"github.com/provision/provision/internal/reader"
	"github.com/provision/provision/internal/state"
)

// runOnce runs (not syncs) csv against org, bound to target, and returns
// the report rows by external_id.
func runOnce(t *testing.T, st *state.Store, org API, target, mapping string, csv string) (map[string]state.ReportRow, Result, error) {
	t.Helper()
	rd, err := reader.Open(strings.NewReader(csv), reader.Options{Format: reader.FormatCSV})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := Run(ctx, ctx, Config{Input: rd, InputName: fmt.Sprint(time.Now().UnixNano()), Store: st, API: org, Pacer: noPacer{},
		Concurrency: 2, MaxAttempts: 2, Settle: time.Millisecond, Timeout: time.Second, Progress: nopProgress{}, Target: target, Mapping: mapping})
	if err != nil {
		return nil, res, err
	}
	if err := st.FinishRun(res.Run.ID, res.Rows, 0, nil, 10); err != nil {
		t.Fatal(err)
	}
	rows := map[string]state.ReportRow{}
	err = st.EachRow(ctx, res.Run.ID, func(r state.ReportRow) error {
		for _, f := range r.Fields {
			if f.Name == "external_id" {
				rows[f.Value] = r
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return rows, res, nil
}

func seedOrg(org *memOrg, ids ...string) map[string]string {
	made := map[string]string{}
	for _, id := range ids {
		made[id] = org.Create(context.Background(), profile.Request{ExternalID: profile.Str(id), Name: profile.Str("Name of " + id)}).Profile.ID
	}
	return made
}

func TestAdoptionSkipsWhatTheOrgHolds(t *testing.T) {
	org, st := &memOrg{}, openStore(t)
	made := seedOrg(org, "u1", "u2")
	rows, res, err := runOnce(t, st, org, "org", "", "external_id,name\nu1,Name of u1\nu2,Other name\nu3,Name of u3\n")
	if err != nil {
		t.Fatal(err)
	}
	wantRow(t, rows, "u1", profile.StatusSkipped, "", "")
	wantRow(t, rows, "u2", profile.StatusSkipped, profile.ErrorProfileChanged, "name")
	wantRow(t, rows, "u3", profile.StatusCreated, "", "")
	if rows["u1"].ProfileID != made["u1"] || rows["u2"].ProfileID != made["u2"] || res.Adopted != 2 {
		t.Errorf("adopted %d; ids %s %s, want %s %s", res.Adopted, rows["u1"].ProfileID, rows["u2"].ProfileID, made["u1"], made["u2"])
	}
	if n := len(org.byExternalID()); n != 3 {
		t.Errorf("the org holds %d profiles, want 3", n)
	}
}

func TestAnIdentityHeldTwiceSendsNothing(t *testing.T) {
	org, st := &memOrg{}, openStore(t)
	first := seedOrg(org, "u1")["u1"]
	second := seedOrg(org, "u1")["u1"]
	rows, res, err := runOnce(t, st, org, "org", "", "external_id,name\nu1,Name of u1\n")
	if err != nil {
		t.Fatal(err)
	}
	wantRow(t, rows, "u1", profile.StatusSkipped, profile.ErrorMultipleMatch, second)
	if !strings.Contains(rows["u1"].ErrorMessage, first) {
		t.Errorf("the message names %q, want both %s and %s", rows["u1"].ErrorMessage, first, second)
	}
	if len(res.Duplicates) != 1 {
		t.Errorf("duplicates %+v, want the second profile", res.Duplicates)
	}
	if org.made != 2 {
		t.Errorf("%d creates, want none by the run", org.made-2)
	}
}

// twinOrg creates two profiles for every create: another host sent the
// same row at the same moment.
type twinOrg struct{ *memOrg }

func (o twinOrg) Create(ctx context.Context, req profile.Request) client.Result {
	o.memOrg.Create(ctx, req)
	return o.memOrg.Create(ctx, req)
}

func TestSweepReportsADuplicateWithBothIDs(t *testing.T) {
	org, st := twinOrg{&memOrg{}}, openStore(t)
	rows, res, err := runOnce(t, st, org, "org", "", "external_id,name\nu1,One\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Duplicates) != 1 {
		t.Fatalf("duplicates %+v, want one", res.Duplicates)
	}
	d := res.Duplicates[0]
	wantRow(t, rows, "u1", profile.StatusCreated, profile.ErrorDuplicate, d.Other)
	if !strings.Contains(rows["u1"].ErrorMessage, d.Kept) || d.Kept == d.Other {
		t.Errorf("message %q; want both %s and %s", rows["u1"].ErrorMessage, d.Kept, d.Other)
	}
	// The next run still says so, and sends nothing for it.
	rows, _, err = runOnce(t, st, org, "org", "", "external_id,name\nu1,One\n")
	if err != nil {
		t.Fatal(err)
	}
	wantRow(t, rows, "u1", profile.StatusSkipped, profile.ErrorMultipleMatch, d.Other)
}

func TestCatchUpAdoptsProfilesMadeElsewhere(t *testing.T) {
	org, st := &memOrg{}, openStore(t)
	if _, _, err := runOnce(t, st, org, "org", "", "external_id,name\nu1,Name of u1\n"); err != nil {
		t.Fatal(err)
	}
	made := seedOrg(org, "u2")["u2"] // a second host, another tool, a restored backup
	rows, res, err := runOnce(t, st, org, "org", "", "external_id,name\nu1,Name of u1\nu2,Name of u2\n")
	if err != nil {
		t.Fatal(err)
	}
	wantRow(t, rows, "u2", profile.StatusSkipped, "", "")
	if rows["u2"].ProfileID != made || res.Adopted != 1 || org.made != 2 {
		t.Errorf("u2 %s (made %s), adopted %d, creates %d", rows["u2"].ProfileID, made, res.Adopted, org.made)
	}
}

func TestAStateServesOneTarget(t *testing.T) {
	org, st := &memOrg{}, openStore(t)
	if _, _, err := runOnce(t, st, org, "https://a.example", "", "external_id,name\nu1,One\n"); err != nil {
		t.Fatal(err)
	}
	other := &memOrg{}
	_, _, err := runOnce(t, st, other, "https://b.example", "", "external_id,name\nu1,One\n")
	var te *state.TargetError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "https://a.example") || !strings.Contains(err.Error(), "https://b.example") {
		t.Fatalf("err %v, want a TargetError naming both", err)
	}
	if other.made != 0 || len(other.profiles) != 0 {
		t.Error("something reached the other target")
	}
}

func TestAChangedIdentityMappingStops(t *testing.T) {
	org, st := &memOrg{}, openStore(t)
	if _, _, err := runOnce(t, st, org, "org", `column "user_id"`, "external_id,name\nu1,One\n"); err != nil {
		t.Fatal(err)
	}
	_, _, err := runOnce(t, st, org, "org", `column "external_id"`, "external_id,name\nu1,One\n")
	var me *MappingError
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "--remap") {
		t.Fatalf("err %v, want a MappingError naming --remap", err)
	}
}

// A row a killed run sent, which the next export no longer has, is still
// looked for: the ledger learns its profile instead of keeping it pending.
func TestAStrayPendingEntryIsReconciled(t *testing.T) {
	org, st := &memOrg{}, openStore(t)
	gone := profile.Request{ExternalID: profile.Str("gone"), Name: profile.Str("Gone")}
	run, err := st.BeginRun(state.Spec{Command: "run", Input: "old.csv"})
	if err != nil {
		t.Fatal(err)
	}
	if d, err := st.Admit(run.ID, state.Input{Seq: 1, Line: 2, Request: gone}); err != nil || !d.Send {
		t.Fatalf("admit: %+v %v", d, err)
	}
	if err := st.Commit(); err != nil {
		t.Fatal(err)
	}
	org.Create(context.Background(), gone) // the request reached the server; the process died
	_, res, err := runOnce(t, st, org, "org", "", "external_id,name\nu1,One\n")
	if err != nil {
		t.Fatal(err)
	}
	if res.Strays != 1 || res.Reconciled != 1 {
		t.Errorf("strays %d, reconciled %d; want 1 and 1", res.Strays, res.Reconciled)
	}
	rows, _, err := runOnce(t, st, org, "org", "", "external_id,name\ngone,Gone\n")
	if err != nil {
		t.Fatal(err)
	}
	wantRow(t, rows, "gone", profile.StatusSkipped, "", "")
	if org.made != 2 {
		t.Errorf("%d creates, want 2 (u1, and gone once)", org.made)
	}
}

// A night with nothing new lists one page: the catch-up starts from when
// the state last listed the org, not from its newest profile, which an
// org where nothing is made would list back to every night.
func TestCatchUpOfAQuietOrgIsOnePage(t *testing.T) {
	org, st := &memOrg{}, openStore(t)
	var b strings.Builder
	b.WriteString("external_id,name\n")
	for i := range 250 {
		fmt.Fprintf(&b, "u%d,User %d\n", i, i)
	}
	night := func() int {
		t.Helper()
		rd, err := reader.Open(strings.NewReader(b.String()), reader.Options{Format: reader.FormatCSV})
		if err != nil {
			t.Fatal(err)
		}
		before := org.lists
		ctx := context.Background()
		res, err := Run(ctx, ctx, Config{Input: rd, InputName: "users.csv", Store: st, API: org, Pacer: noPacer{}, Concurrency: 4,
			MaxAttempts: 2, Settle: time.Millisecond, Timeout: time.Second, ClockMargin: time.Minute, Progress: nopProgress{}, Target: "org"})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.FinishRun(res.Run.ID, res.Rows, 0, nil, 10); err != nil {
			t.Fatal(err)
		}
		org.ahead += 24 * time.Hour // the next night
		return org.lists - before
	}
	night() // the bulk load: adoption, creates, a sweep of 3 pages
	second := night()
	third := night()
	// Each later night: the catch-up and the sweep. The night after the
	// bulk load still re-reads what was made within the clock margin of
	// its last listing; the one after, nothing.
	if third != 2 {
		t.Errorf("a quiet night listed %d pages (the one after the bulk load %d); want 2: one catch-up page, one sweep page", third, second)
	}
}

// The sweep skips the lookup of a profile only when this run recorded that
// very id under that very identity: a second profile of the identity, or
// the id listed under another identity, is still looked up.
func TestOwnKnowsOnlyWhatTheRunRecorded(t *testing.T) {
	p := func(id, ext string) profile.Profile { return profile.Profile{ID: id, ExternalID: profile.Str(ext)} }
	var o own
	if o.has(p("uprof_1", "u1")) {
		t.Fatal("an empty set knows a profile")
	}
	o.add("external_id:u1", "uprof_1")
	o.add("external_id:u2", "") // no id: nothing to know
	for _, tc := range []struct {
		p    profile.Profile
		want bool
	}{
		{p("uprof_1", "u1"), true},
		{p("uprof_2", "u1"), false}, // a duplicate of u1
		{p("uprof_1", "u2"), false}, // the id under another identity
		{p("", "u2"), false},
	} {
		if got := o.has(tc.p); got != tc.want {
			t.Errorf("has(%s, %s) = %v, want %v", tc.p.ID, *tc.p.ExternalID, got, tc.want)
		}
	}
}

// A run warns about external_ids that differ only by case or surrounding
// spaces, and not about an id given twice (a duplicate row).
func TestVariantsAreWarnedAbout(t *testing.T) {
	for _, tc := range []struct {
		csv  string
		warn bool
	}{
		{"external_id,name\nada,Ada\n ADA ,Ada\nbob,Bob\n", true},
		{"external_id,name\nada,Ada\nbob,Bob\n", false},
		{"external_id,name\nada,Ada\nada,Ada again\n", false}, // the same id twice is a duplicate row, not a variant
	} {
		var logs strings.Builder
		rd, err := reader.Open(strings.NewReader(tc.csv), reader.Options{Format: reader.FormatCSV})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		_, err = Run(ctx, ctx, Config{Input: rd, InputName: "variants.csv", Store: openStore(t), API: &memOrg{}, Pacer: noPacer{}, Concurrency: 2,
			MaxAttempts: 2, Settle: time.Millisecond, Timeout: time.Second, Progress: nopProgress{}, Target: "org",
			Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(logs.String(), "differ only by case"); got != tc.warn {
			t.Errorf("%q: warned %v, want %v\n%s", tc.csv, got, tc.warn, logs.String())
		}
	}

}

// Settled is called once every row is recorded, before the sweep; Marked
// says whether the sweep changed a row after it.
func TestSettledComesBeforeTheSweep(t *testing.T) {
	for _, tc := range []struct {
		org    API
		marked bool
	}{
		{&memOrg{}, false},
		{twinOrg{&memOrg{}}, true}, // every create makes a second profile: the sweep marks the row
	} {
		st := openStore(t)
		rd, err := reader.Open(strings.NewReader("external_id,name\nu1,One\nu2,Two\n"), reader.Options{Format: reader.FormatCSV})
		if err != nil {
			t.Fatal(err)
		}
		calls := 0
		var atSettled []profile.Status
		ctx := context.Background()
		res, err := Run(ctx, ctx, Config{Input: rd, InputName: "settled.csv", Store: st, API: tc.org, Pacer: noPacer{}, Concurrency: 2,
			MaxAttempts: 2, Settle: time.Millisecond, Timeout: time.Second, Progress: nopProgress{}, Target: "org",
			Settled: func(run state.Run) {
				calls++
				if err := st.EachRow(ctx, run.ID, func(r state.ReportRow) error {
					atSettled = append(atSettled, r.Status)
					return nil
				}); err != nil {
					t.Error(err)
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		if calls != 1 || len(atSettled) != 2 || atSettled[0] != profile.StatusCreated || atSettled[1] != profile.StatusCreated {
			t.Errorf("Settled called %d times, rows then %v; want once, both created", calls, atSettled)
		}
		if res.Marked != tc.marked || len(res.Duplicates) != map[bool]int{false: 0, true: 2}[tc.marked] {
			t.Errorf("marked %v with %d duplicates, want %v", res.Marked, len(res.Duplicates), tc.marked)
		}
	}
}
