package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/provision/provision/internal/profile"
)

// Sync, told as three nights against an emulator with faults on (issue 14,
// docs/ARCHITECTURE.md "Sync" and "Plan"):
//
//   - night 1: `sync --api ga` creates 60 users;
//   - night 2: the export renames 5, changes or drops metadata of 4,
//     removes 6 and adds 7; `--absent suspend --max-absent 20%` leaves the
//     org holding exactly the export, the 6 suspended, and a profile made
//     by hand before night 1 untouched;
//   - night 3: the export has lost 40% of its users by mistake: the
//     safeguard holds every suspension (exit 1) while creates and updates
//     go through, and a user removed on night 2 comes back, reactivated.
//
// Before each night, `plan` with the same flags predicts the night's
// report row for row and writes nothing, to the org or to the state. A
// second test kills night 2's sync with SIGKILL and re-runs it: the same
// end. Every test runs over PROVISION_SYNC_SEEDS seeds (default 2), from
// PROVISION_SYNC_SEED (default 1).

// syncFaults are the emulator's faults: every write may fail, be lost
// after it was applied, or have its connection reset.
const syncFaults = "500=0.03,529=0.03,lost=0.03,reset=0.03"

func syncSeeds(t *testing.T) []int64 {
	n := envInt(t, "PROVISION_SYNC_SEEDS", 2)
	first := envInt(t, "PROVISION_SYNC_SEED", 1)
	var s []int64
	for i := range n {
		s = append(s, first+i)
	}
	return s
}

// syncUser is one user of the platform, as an export row has it. An empty
// plan or team is a cell left empty: no such metadata key.
type syncUser struct {
	ref, name, plan, team, country string
}

func (u syncUser) String() string { return u.ref }

// syncExport renders users as a GA export, in the order given.
func syncExport(users []syncUser) string {
	var b strings.Builder
	b.WriteString("reference_id,name,metadata.plan,metadata.team,country\n")
	for _, u := range users {
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s\n", u.ref, u.name, u.plan, u.team, u.country)
	}
	return b.String()
}

func syncRef(seed int64, i int) string { return fmt.Sprintf("s%d-u%03d", seed, i) }

// syncStats is what the tests read of /_emulator/stats: the writes applied,
// whatever the client saw of them.
type syncStats struct {
	Requests int64            `json:"requests"`
	Created  int64            `json:"created"`
	Updated  int64            `json:"updated"`
	Deleted  int64            `json:"deleted"`
	Profiles int              `json:"profiles"`
	Faults   map[string]int64 `json:"faults"`
}

func (e *emu) writes(t testing.TB) syncStats {
	t.Helper()
	var s syncStats
	e.getJSON(t, "/_emulator/stats", &s)
	return s
}

// syncSummary is what the tests read of --summary-json.
type syncSummary struct {
	Total      int            `json:"total"`
	Counts     map[string]int `json:"counts"`
	ErrorTypes map[string]int `json:"error_types"`
	ExitCode   int            `json:"exit_code"`
	Adopted    int            `json:"adopted"`
	Stopped    string         `json:"stopped"`
}

func readSyncSummary(t *testing.T, path string) syncSummary {
	t.Helper()
	var s syncSummary
	if err := json.Unmarshal([]byte(readFile(t, path)), &s); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s
}

// byHand creates a profile the way another tool would: a GA create, no
// beta header. Writes suffer the emulator's faults, and a lost one is
// stored all the same, so the org is looked at before every attempt.
func byHand(t *testing.T, e *emu, ref string) profile.Profile {
	t.Helper()
	req := profile.Request{ExternalID: profile.Str(ref), Name: profile.Str("Made by hand"), AccessType: profile.Str("application"),
		Metadata: map[string]string{"plan": "legacy"}, Country: profile.Str("CA")}
	body, err := json.Marshal(req.Body(profile.VersionGA))
	if err != nil {
		t.Fatal(err)
	}
	for range 30 {
		for _, p := range e.profiles(t) {
			if p.ExternalID != nil && *p.ExternalID == ref {
				return p
			}
		}
		hr, _ := http.NewRequest(http.MethodPost, e.URL+"/v1/user_profiles", bytes.NewReader(body))
		hr.Header.Set("x-api-key", "test-key")
		hr.Header.Set("anthropic-version", "2023-06-01")
		hr.Header.Set("content-type", "application/json")
		if res, err := http.DefaultClient.Do(hr); err == nil {
			res.Body.Close()
		}
	}
	t.Fatal("the direct create never went through")
	return profile.Profile{}
}

// syncOrg is what the org should hold: the last data an export gave each
// user a sync manages, and its account_status ("" for never set).
type syncOrg struct {
	users  map[string]syncUser
	status map[string]string
}

func (o *syncOrg) apply(users []syncUser) {
	for _, u := range users {
		o.users[u.ref] = u
	}
}

// checkOrg compares the emulator with o: one profile per user holding what
// o says, the profile made by hand (if any) exactly as it was, and nothing
// else.
func checkOrg(t *testing.T, e *emu, o *syncOrg, hand *profile.Profile) {
	t.Helper()
	found := map[string][]profile.Profile{}
	handSeen := hand == nil
	for _, p := range e.profiles(t) {
		if hand != nil && p.ID == hand.ID {
			handSeen = true
			if !p.UpdatedAt.Equal(hand.UpdatedAt) || p.AccountStatus != nil || p.Name == nil || *p.Name != *hand.Name || !maps.Equal(p.Metadata, hand.Metadata) {
				t.Errorf("the profile made by hand was touched: updated_at %v (was %v), account_status %v, name %v, metadata %v",
					p.UpdatedAt, hand.UpdatedAt, str(p.AccountStatus), str(p.Name), p.Metadata)
			}
			continue
		}
		ref := str(p.ExternalID)
		found[ref] = append(found[ref], p)
	}
	if !handSeen {
		t.Errorf("the profile made by hand %s is gone", hand.ID)
	}
	for _, ref := range slices.Sorted(maps.Keys(o.users)) {
		u := o.users[ref]
		ps := found[ref]
		if len(ps) != 1 {
			t.Errorf("%s: %d profiles, want 1", ref, len(ps))
			continue
		}
		p := ps[0]
		want := map[string]string{}
		if u.plan != "" {
			want["plan"] = u.plan
		}
		if u.team != "" {
			want["team"] = u.team
		}
		if str(p.Name) != u.name || str(p.Country) != u.country || !maps.Equal(p.Metadata, want) || str(p.AccountStatus) != o.status[ref] {
			t.Errorf("%s holds name %q country %q metadata %v account_status %q; want %q %q %v %q", ref,
				str(p.Name), str(p.Country), p.Metadata, str(p.AccountStatus), u.name, u.country, want, o.status[ref])
		}
	}
	for ref, ps := range found {
		if _, ok := o.users[ref]; !ok {
			t.Errorf("%d profiles of no user: %s (%q)", len(ps), ps[0].ID, ref)
		}
	}
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// profileIDs maps each user's reference_id to its profile's id.
func profileIDs(t *testing.T, e *emu) map[string]string {
	ids := map[string]string{}
	for _, p := range e.profiles(t) {
		ids[str(p.ExternalID)] = p.ID
	}
	return ids
}

// expect is a report row a night should write for one user.
type expect struct {
	status  string
	errType string
	msg     string // a part of error_message
}

// checkReport checks a sync's report against the export and what each user
// expects (by reference_id; absent users are those expected with no row of
// the export): the input rows in input order with their lines, then the
// absent ones with an empty line and their identity in the reference_id
// column; every id the emulator's; counts and the summary agreeing.
func checkReport(t *testing.T, rows []map[string]string, users []syncUser, want map[string]expect, ids map[string]string, sum syncSummary) {
	t.Helper()
	inExport := map[string]bool{}
	for _, u := range users {
		inExport[u.ref] = true
	}
	var absent []string
	for ref := range want {
		if !inExport[ref] {
			absent = append(absent, ref)
		}
	}
	if len(rows) != len(users)+len(absent) {
		t.Fatalf("%d report rows, want %d input rows and %d absent", len(rows), len(users), len(absent))
	}
	seen := map[string]bool{}
	for i, r := range rows {
		ref := r["reference_id"]
		if i < len(users) {
			if u := users[i]; r["line"] != strconv.Itoa(i+2) || ref != u.ref {
				t.Errorf("report row %d: line %q %s; want line %d %s", i+1, r["line"], ref, i+2, u.ref)
			}
		} else {
			if r["line"] != "" || inExport[ref] || seen[ref] {
				t.Errorf("report row %d (%s, line %q): want an absent profile, with no line, after the input rows", i+1, ref, r["line"])
			}
			seen[ref] = true
		}
		w, ok := want[ref]
		switch {
		case !ok:
			t.Errorf("report row %d: %s is no user of this night", i+1, ref)
			continue
		case r["status"] != w.status || r["error_type"] != w.errType || !strings.Contains(r["error_message"], w.msg):
			t.Errorf("%s (line %q): %s %q %q; want %s %q containing %q", ref, r["line"], r["status"], r["error_type"], r["error_message"],
				w.status, w.errType, w.msg)
		}
		if r["user_profile_id"] != ids[ref] {
			t.Errorf("%s: user_profile_id %q, the emulator's is %q", ref, r["user_profile_id"], ids[ref])
		}
	}
	got := countStatus(rows)
	for _, st := range profile.Statuses() {
		if sum.Counts[string(st)] != got[string(st)] {
			t.Errorf("summary counts %d %s, the report %d", sum.Counts[string(st)], st, got[string(st)])
		}
	}
	if sum.Total != len(rows) {
		t.Errorf("summary total %d, the report has %d rows", sum.Total, len(rows))
	}
}

// checkPlan compares a plan's report with the sync's that followed it, row
// for row: line, identity, status, error type, the changed fields of
// updates, and the profile's id where the plan knows it.
func checkPlan(t *testing.T, plan, sync []map[string]string) {
	t.Helper()
	if len(plan) != len(sync) {
		t.Fatalf("the plan has %d rows, the sync %d", len(plan), len(sync))
	}
	for i := range plan {
		p, s := plan[i], sync[i]
		if p["line"] != s["line"] || p["reference_id"] != s["reference_id"] || p["status"] != s["status"] || p["error_type"] != s["error_type"] {
			t.Errorf("row %d: the plan said line %q %s %s %q; the sync did line %q %s %s %q", i+1,
				p["line"], p["reference_id"], p["status"], p["error_type"], s["line"], s["reference_id"], s["status"], s["error_type"])
			continue
		}
		if id := p["user_profile_id"]; id != "" && id != s["user_profile_id"] {
			t.Errorf("row %d (%s): the plan named profile %s, the sync %s", i+1, p["reference_id"], id, s["user_profile_id"])
		}
		if st := p["status"]; (st == "updated" || st == "reactivated") && p["error_message"] != s["error_message"] {
			t.Errorf("row %d (%s): the plan said %q, the sync %q", i+1, p["reference_id"], p["error_message"], s["error_message"])
		}
	}
}

func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return [32]byte{}
	}
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// syncNights is the data of the three nights of one seed.
type syncNights struct {
	night1, night2, night3 []syncUser
	// Night 2.
	renamed, replanned, unteamed, removed, added []string
	// Night 3.
	changed, dropped, added3 []string
	back                     string
}

func makeNights(seed int64) syncNights {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x73796e63))
	plans := []string{"free", "pro", "team", "enterprise"}
	countries := []string{"DE", "FR", "GB", "US", "JP", "BR"}
	user := func(i int) syncUser {
		u := syncUser{ref: syncRef(seed, i), name: fmt.Sprintf("User %d", i), plan: plans[i%len(plans)], country: countries[i%len(countries)]}
		if i%3 != 0 {
			u.team = fmt.Sprintf("t%d", i%5)
		}
		return u
	}
	var n syncNights
	for i := 1; i <= 60; i++ {
		n.night1 = append(n.night1, user(i))
	}
	rng.Shuffle(len(n.night1), func(i, j int) { n.night1[i], n.night1[j] = n.night1[j], n.night1[i] })

	// Night 2: disjoint groups of the 60, by a shuffled order of them.
	order := slices.Clone(n.night1)
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	role := map[string]string{}
	take := func(k int, name string, ok func(syncUser) bool) []string {
		var refs []string
		for _, u := range order {
			if len(refs) == k {
				break
			}
			if role[u.ref] == "" && ok(u) {
				role[u.ref] = name
				refs = append(refs, u.ref)
			}
		}
		return refs
	}
	all := func(syncUser) bool { return true }
	n.renamed = take(5, "renamed", all)
	n.replanned = take(2, "replanned", all)
	n.unteamed = take(2, "unteamed", func(u syncUser) bool { return u.team != "" })
	n.removed = take(6, "removed", all)
	for _, u := range n.night1 {
		switch role[u.ref] {
		case "renamed":
			u.name = "Renamed " + u.name
		case "replanned":
			u.plan = plans[(slices.Index(plans, u.plan)+1)%len(plans)]
		case "unteamed":
			u.team = ""
		case "removed":
			continue
		}
		n.night2 = append(n.night2, u)
	}
	for i := 61; i <= 67; i++ {
		n.added = append(n.added, syncRef(seed, i))
		n.night2 = slices.Insert(n.night2, rng.IntN(len(n.night2)+1), user(i))
	}

	// Night 3: 40% of night 2's users lost by mistake, two users renamed
	// with a new plan, three new ones, and one removed on night 2 back.
	kept := slices.Clone(n.night2)
	rng.Shuffle(len(kept), func(i, j int) { kept[i], kept[j] = kept[j], kept[i] })
	lose := len(n.night2) * 40 / 100
	for _, u := range kept[:lose] {
		n.dropped = append(n.dropped, u.ref)
	}
	for _, u := range kept[lose : lose+2] {
		n.changed = append(n.changed, u.ref)
	}
	n.back = n.removed[rng.IntN(len(n.removed))]
	for _, u := range n.night2 {
		if slices.Contains(n.dropped, u.ref) {
			continue
		}
		if slices.Contains(n.changed, u.ref) {
			u.name = "Changed " + u.name
			u.plan = plans[(slices.Index(plans, u.plan)+1)%len(plans)]
		}
		n.night3 = append(n.night3, u)
	}
	for _, u := range n.night1 {
		if u.ref == n.back {
			n.night3 = slices.Insert(n.night3, rng.IntN(len(n.night3)+1), u)
		}
	}
	for i := 68; i <= 70; i++ {
		n.added3 = append(n.added3, syncRef(seed, i))
		n.night3 = slices.Insert(n.night3, rng.IntN(len(n.night3)+1), user(i))
	}
	return n
}

// syncArgs are the flags every sync and plan of these tests shares.
func syncArgs(cmd, input, report, summary string, extra ...string) []string {
	return append([]string{cmd, input, "--api", "ga", "--report", report, "--summary-json", summary,
		"--timeout", "500ms", "--settle", "100ms", "--progress", "never", "--quiet"}, extra...)
}

var nightFlags = []string{"--absent", "suspend", "--max-absent", "20%"}

// planThenSync runs plan, checks it wrote nothing, runs the sync with the
// same flags and checks the plan predicted it. It returns the sync.
func planThenSync(t *testing.T, e *emu, w *workdir, night, input string, wantExit exitCode, extra ...string) (result, []map[string]string, syncSummary) {
	t.Helper()
	before, state := e.writes(t), fileHash(t, w.path("provision.db"))
	pres := w.run(syncArgs("plan", input, night+"-plan.csv", night+"-plan.json", extra...)...)
	if pres.code != wantExit {
		t.Fatalf("%s: plan exit %d, want %d\n%s%s", night, pres.code, wantExit, pres.stdout, pres.stderr)
	}
	after := e.writes(t)
	if after.Created != before.Created || after.Updated != before.Updated || after.Deleted != before.Deleted || after.Profiles != before.Profiles {
		t.Errorf("%s: the plan wrote to the org: created %d, updated %d, deleted %d", night,
			after.Created-before.Created, after.Updated-before.Updated, after.Deleted-before.Deleted)
	}
	if fileHash(t, w.path("provision.db")) != state {
		t.Errorf("%s: the plan changed the state", night)
	}
	res := w.run(syncArgs("sync", input, night+".csv", night+".json", extra...)...)
	if res.code != wantExit {
		t.Fatalf("%s: sync exit %d, want %d\n%s%s", night, res.code, wantExit, res.stdout, res.stderr)
	}
	rows := readCSVReport(t, w.path(night+".csv"))
	checkPlan(t, readCSVReport(t, w.path(night+"-plan.csv")), rows)
	psum, sum := readSyncSummary(t, w.path(night+"-plan.json")), readSyncSummary(t, w.path(night+".json"))
	if !maps.Equal(psum.Counts, sum.Counts) || !maps.Equal(psum.ErrorTypes, sum.ErrorTypes) {
		t.Errorf("%s: the plan counted %v %v, the sync %v %v", night, psum.Counts, psum.ErrorTypes, sum.Counts, sum.ErrorTypes)
	}
	return res, rows, sum
}

func TestSyncThreeNights(t *testing.T) {
	for _, seed := range syncSeeds(t) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			t.Parallel()
			threeNights(t, seed)
		})
	}
}

func threeNights(t *testing.T, seed int64) {
	e := startEmulator(t, "--seed", strconv.FormatInt(seed, 10), "--faults", syncFaults)
	w := newWorkdir(t, e)
	n := makeNights(seed)
	hand := byHand(t, e, fmt.Sprintf("s%d-by-hand", seed))
	org := &syncOrg{users: map[string]syncUser{}, status: map[string]string{}}

	// Night 1: every user is new.
	in1 := w.write("export1.csv", syncExport(n.night1))
	_, rows, sum := planThenSync(t, e, w, "night1", in1, exitOK)
	want := map[string]expect{}
	for _, u := range n.night1 {
		want[u.ref] = expect{status: "created"}
	}
	checkReport(t, rows, n.night1, want, profileIDs(t, e), sum)
	if sum.Adopted != 1 {
		t.Errorf("night 1 adopted %d profiles, want the one made by hand", sum.Adopted)
	}
	org.apply(n.night1)
	checkOrg(t, e, org, &hand)
	if t.Failed() {
		t.FailNow()
	}
	ids1 := profileIDs(t, e)

	// Night 2: renames, metadata changed and dropped, users removed and added.
	in2 := w.write("export2.csv", syncExport(n.night2))
	_, rows, sum = planThenSync(t, e, w, "night2", in2, exitOK, nightFlags...)
	want = map[string]expect{}
	for _, u := range n.night2 {
		want[u.ref] = expect{status: "skipped"}
	}
	for _, ref := range n.renamed {
		want[ref] = expect{status: "updated", msg: "changed: name"}
	}
	for _, ref := range n.replanned {
		want[ref] = expect{status: "updated", msg: "changed: metadata.plan"}
	}
	for _, ref := range n.unteamed {
		want[ref] = expect{status: "updated", msg: "changed: metadata.team"}
	}
	for _, ref := range n.added {
		want[ref] = expect{status: "created"}
	}
	for _, ref := range n.removed {
		want[ref] = expect{status: "suspended", msg: "no longer in the export"}
		org.status[ref] = "suspended"
	}
	ids2 := profileIDs(t, e)
	checkReport(t, rows, n.night2, want, ids2, sum)
	for ref, id := range ids1 {
		if ids2[ref] != id {
			t.Errorf("%s: profile %s became %s; a sync updates in place", ref, id, ids2[ref])
		}
	}
	org.apply(n.night2)
	checkOrg(t, e, org, &hand)
	if t.Failed() {
		t.FailNow()
	}

	// Night 3: 40% lost by mistake; the safeguard holds, the rest goes.
	in3 := w.write("export3.csv", syncExport(n.night3))
	res, rows, sum := planThenSync(t, e, w, "night3", in3, exitRows, nightFlags...)
	want = map[string]expect{}
	for _, u := range n.night3 {
		want[u.ref] = expect{status: "skipped"}
	}
	for _, ref := range n.changed {
		want[ref] = expect{status: "updated", msg: "changed: name, metadata.plan"}
	}
	for _, ref := range n.added3 {
		want[ref] = expect{status: "created"}
	}
	want[n.back] = expect{status: "reactivated", msg: "account_status"}
	org.status[n.back] = "active"
	for _, ref := range n.dropped {
		want[ref] = expect{status: "absent", errType: "absent_threshold", msg: "--max-absent"}
	}
	for _, ref := range n.removed {
		if ref != n.back {
			want[ref] = expect{status: "absent", msg: "suspended"}
		}
	}
	checkReport(t, rows, n.night3, want, profileIDs(t, e), sum)
	if !strings.Contains(res.stdout, "--max-absent") {
		t.Errorf("night 3's summary does not name --max-absent: %s", res.stdout)
	}
	if sum.ErrorTypes["absent_threshold"] != len(n.dropped) || sum.ExitCode != int(exitRows) {
		t.Errorf("night 3's summary: %d absent_threshold, exit %d; want %d, 1", sum.ErrorTypes["absent_threshold"], sum.ExitCode, len(n.dropped))
	}
	org.apply(n.night3)
	checkOrg(t, e, org, &hand)
	st := e.writes(t)
	t.Logf("seed %d: %d requests; %d created, %d updated, %d deleted; %d profiles; faults %v", seed, st.Requests, st.Created, st.Updated, st.Deleted, st.Profiles, st.Faults)
}

// TestSyncKilledDuringANight kills night 2's sync with SIGKILL after a
// random short delay, once or twice, then runs the same command to the
// end: the org ends as an uninterrupted night 2 leaves it, and one more
// sync of the same export finds nothing to do.
func TestSyncKilledDuringANight(t *testing.T) {
	for _, seed := range syncSeeds(t) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			t.Parallel()
			killedNight(t, seed)
		})
	}
}

func killedNight(t *testing.T, seed int64) {
	e := startEmulator(t, "--seed", strconv.FormatInt(seed, 10), "--faults", syncFaults)
	w := newWorkdir(t, e)
	n := makeNights(seed)
	hand := byHand(t, e, fmt.Sprintf("s%d-by-hand", seed))
	in1 := w.write("export1.csv", syncExport(n.night1))
	if res := w.run(syncArgs("sync", in1, "night1.csv", "night1.json")...); res.code != exitOK {
		t.Fatalf("night 1: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	in2 := w.write("export2.csv", syncExport(n.night2))
	args := syncArgs("sync", in2, "night2.csv", "night2.json", nightFlags...)
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6b696c6c))
	for k := range 1 + rng.IntN(2) {
		delay := 50*time.Millisecond + time.Duration(rng.Int64N(int64(1200*time.Millisecond)))
		cmd := w.command(args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		select {
		case err := <-done:
			t.Logf("seed %d: sync %d ended (%v) before its kill at %v", seed, k+1, err, delay)
			if c := exitCodeOf(err); c != exitOK {
				t.Fatalf("sync %d: exit %d\n%s", k+1, c, out.String())
			}
		case <-time.After(delay):
			_ = cmd.Process.Kill()
			<-done
			st := e.writes(t)
			t.Logf("seed %d: killed sync %d at %v; emulator: %d created, %d updated", seed, k+1, delay.Round(time.Millisecond), st.Created, st.Updated)
		}
	}
	res := w.run(args...)
	if res.code != exitOK {
		t.Fatalf("the re-run: exit %d, want 0\n%s%s", res.code, res.stdout, res.stderr)
	}
	org := &syncOrg{users: map[string]syncUser{}, status: map[string]string{}}
	org.apply(n.night1)
	org.apply(n.night2)
	for _, ref := range n.removed {
		org.status[ref] = "suspended"
	}
	checkOrg(t, e, org, &hand)

	// The report of the finished night: every row settled, naming the
	// emulator's profile; the removed users suspended, by this process or
	// by the one killed before it.
	ids := profileIDs(t, e)
	rows := readCSVReport(t, w.path("night2.csv"))
	absent := 0
	for _, r := range rows {
		ref := r["reference_id"]
		if r["user_profile_id"] != ids[ref] {
			t.Errorf("%s: user_profile_id %q, the emulator's is %q", ref, r["user_profile_id"], ids[ref])
		}
		switch st := r["status"]; {
		case r["line"] == "":
			absent++
			if !slices.Contains(n.removed, ref) || r["error_type"] != "" || (st != "suspended" && st != "absent") {
				t.Errorf("absent row %s: %s %q %q; want a removed user, suspended", ref, st, r["error_type"], r["error_message"])
			}
		case st != "created" && st != "updated" && st != "skipped":
			t.Errorf("line %s (%s): %s %q %q", r["line"], ref, st, r["error_type"], r["error_message"])
		}
	}
	if absent != len(n.removed) || len(rows) != len(n.night2)+len(n.removed) {
		t.Errorf("%d report rows, %d absent; want %d and %d", len(rows), absent, len(n.night2)+len(n.removed), len(n.removed))
	}

	// Converged: the same export again sends no write.
	before := e.writes(t)
	again := w.run(syncArgs("sync", in2, "again.csv", "again.json", nightFlags...)...)
	if again.code != exitOK {
		t.Fatalf("the next sync: exit %d\n%s%s", again.code, again.stdout, again.stderr)
	}
	after := e.writes(t)
	if after.Created != before.Created || after.Updated != before.Updated || after.Deleted != before.Deleted {
		t.Errorf("the next sync of the same export wrote: %d created, %d updated, %d deleted",
			after.Created-before.Created, after.Updated-before.Updated, after.Deleted-before.Deleted)
	}
	sum := readSyncSummary(t, w.path("again.json"))
	if sum.Counts["skipped"] != len(n.night2) || sum.Counts["absent"] != len(n.removed) {
		t.Errorf("the next sync: %v; want %d skipped, %d absent", sum.Counts, len(n.night2), len(n.removed))
	}
}

// TestSyncKilledWhileSuspending kills a sync at the moment its absent
// profiles are in the report and their suspensions queued behind a slow
// update, before any answer: the re-run of the same command must suspend
// them and report them settled.
func TestSyncKilledWhileSuspending(t *testing.T) {
	t.Parallel()
	e := startEmulator(t, "--latency", "400ms")
	w := newWorkdir(t, e)
	var night1 []syncUser
	for i := 1; i <= 8; i++ {
		night1 = append(night1, syncUser{ref: syncRef(0, i), name: fmt.Sprintf("User %d", i), plan: "pro", country: "DE"})
	}
	in1 := w.write("export1.csv", syncExport(night1))
	if res := w.run(syncArgs("sync", in1, "night1.csv", "night1.json", "--concurrency", "8")...); res.code != exitOK {
		t.Fatalf("night 1: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	night2 := slices.Clone(night1[:5])
	night2[0].name, night2[1].name = "Renamed 1", "Renamed 2"
	in2 := w.write("export2.csv", syncExport(night2))
	args := syncArgs("sync", in2, "night2.csv", "night2.json", "--absent", "suspend", "--max-absent", "50%", "--concurrency", "1", "--log-format", "json")

	cmd := w.command(args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "managed profiles the export no longer names") {
			break
		}
	}
	// The absent rows are committed within a few milliseconds of that
	// line; the first update's answer takes 400.
	time.Sleep(150 * time.Millisecond)
	_ = cmd.Process.Kill()
	for sc.Scan() {
	}
	_ = cmd.Wait()

	res := w.run(args...)
	if res.code != exitOK {
		t.Errorf("the re-run: exit %d, want 0\n%s", res.code, res.stdout)
	}
	for _, r := range readCSVReport(t, w.path("night2.csv")) {
		if r["line"] == "" && r["status"] != "suspended" && (r["status"] != "absent" || r["error_type"] != "") {
			t.Errorf("absent row %s: %s %q %q; want suspended", r["reference_id"], r["status"], r["error_type"], r["error_message"])
		}
	}
	org := &syncOrg{users: map[string]syncUser{}, status: map[string]string{}}
	org.apply(night1)
	org.apply(night2)
	for _, u := range night1[5:] {
		org.status[u.ref] = "suspended"
	}
	checkOrg(t, e, org, nil)
}

// TestSyncRefusesAReportOverItsExport: a report written over the export
// replaces the users with the report's rows, and the next night's sync of
// the same command would read them as the export (absent rows become users
// with no name, no metadata). The command must stop before sending.
func TestSyncRefusesAReportOverItsExport(t *testing.T) {
	t.Parallel()
	e := startEmulator(t)
	w := newWorkdir(t, e)
	content := syncExport([]syncUser{{ref: "u1", name: "One", plan: "pro", country: "DE"}})
	in := w.write("export.csv", content)
	for _, cmd := range []string{"sync", "plan", "run"} {
		res := w.run(cmd, in, "--api", "ga", "--report", in, "--progress", "never", "--quiet")
		if res.code != exitUsage {
			t.Errorf("%s --report over its own input: exit %d, want %d\n%s%s", cmd, res.code, exitUsage, res.stdout, res.stderr)
		}
		if got := readFile(t, in); got != content {
			t.Fatalf("%s wrote over its input:\n%s", cmd, got)
		}
	}
	sentNothing(t, e)
}
