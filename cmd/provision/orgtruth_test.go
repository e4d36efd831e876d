package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/provision/provision/internal/profile"
)

// The org is the truth: each scenario below once made a second profile, or
// skipped rows that were never created, with exit 0. Each must now end with
// exactly one profile per row on the emulator, or stop before sending, or
// report the duplicate with both ids and exit 1. Every scenario runs over
// PROVISION_ORG_SEEDS seeds (default 2).

func orgSeeds(t *testing.T) []int64 {
	n := envInt(t, "PROVISION_ORG_SEEDS", 2)
	first := envInt(t, "PROVISION_CHAOS_SEED", 1)
	var s []int64
	for i := range n {
		s = append(s, first+i)
	}
	return s
}

// orgSummary is what the scenarios read of --summary-json.
type orgSummary struct {
	Counts     map[string]int `json:"counts"`
	ErrorTypes map[string]int `json:"error_types"`
	ExitCode   int            `json:"exit_code"`
	Adopted    int            `json:"adopted"`
	Duplicates []struct {
		Identity  string `json:"identity"`
		Kept      string `json:"kept"`
		Duplicate string `json:"duplicate"`
	} `json:"duplicates"`
	Stopped string `json:"stopped"`
}

func readSummary(t *testing.T, path string) orgSummary {
	t.Helper()
	var s orgSummary
	if err := json.Unmarshal([]byte(readFile(t, path)), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// onePerRow checks that the emulator holds exactly one profile for each
// row, and none for anything else (but the identities except names); loose
// lines need not hold what the row asks for.
func onePerRow(t *testing.T, e *emu, rows []chaosRow, loose map[int]bool, except ...string) {
	t.Helper()
	byIdentity := map[string][]profile.Profile{}
	for _, p := range e.profiles(t) {
		id := p.Request().Identity()
		if slices.Contains(except, id) {
			continue
		}
		byIdentity[id] = append(byIdentity[id], p)
	}
	want := map[string]bool{}
	for _, r := range rows {
		id := r.req.Identity()
		want[id] = true
		ps := byIdentity[id]
		if len(ps) != 1 {
			t.Errorf("line %d (%s): %d profiles, want 1", r.line, id, len(ps))
			continue
		}
		if !loose[r.line] && !r.req.Matches(ps[0]) {
			t.Errorf("line %d: profile %s does not hold what the row asks for", r.line, ps[0].ID)
		}
	}
	for id, ps := range byIdentity {
		if !want[id] {
			t.Errorf("%d profiles match no row: %s (%s)", len(ps), ps[0].ID, id)
		}
	}
}

// postProfile creates a profile directly, as another tool would.
func postProfile(t *testing.T, e *emu, req profile.Request) string {
	t.Helper()
	body, _ := json.Marshal(req)
	hr, _ := http.NewRequest(http.MethodPost, e.URL+"/v1/user_profiles", bytes.NewReader(body))
	hr.Header.Set("x-api-key", "test-key")
	hr.Header.Set("anthropic-version", "2023-06-01")
	hr.Header.Set("anthropic-beta", profile.BetaHeader)
	hr.Header.Set("content-type", "application/json")
	res, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var p struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(res.Body).Decode(&p); err != nil || res.StatusCode != 200 {
		t.Fatalf("direct create: %d %v", res.StatusCode, err)
	}
	return p.ID
}

var orgRunFlags = []string{"--summary-json", "summary.json", "--log-format", "json", "--progress", "never", "--quiet"}

func (w *workdir) provision(args ...string) result {
	w.t.Helper()
	return w.run(append(args, orgRunFlags...)...)
}

// startKillable starts provision and returns a function that kills it
// with SIGKILL.
func (w *workdir) startKillable(t *testing.T, args ...string) (kill func()) {
	t.Helper()
	cmd := w.command(append(args, orgRunFlags...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return func() {
		_ = cmd.Process.Kill()
		<-done
	}
}

func removeState(t *testing.T, w *workdir) {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(w.path("provision.db" + suffix)); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
}

// (a) The state is deleted between runs: the next run adopts the org and
// creates nothing.
func TestOrgStateDeleted(t *testing.T) {
	for _, seed := range orgSeeds(t) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			e := startEmulator(t, "--seed", strconv.FormatInt(seed, 10), "--faults", "500=0.05,lost=0.05,reset=0.05")
			w := newWorkdir(t, e)
			content, rows := chaosExport(40, seed)
			input := w.write("users.csv", content)
			if res := w.provision("run", input, "--timeout", "500ms", "--settle", "100ms"); res.code != exitOK {
				t.Fatalf("first run: exit %d\n%s", res.code, res.stderr)
			}
			removeState(t, w)
			before := e.stats(t).Created
			res := w.provision("run", input, "--report", "again.csv")
			if res.code != exitOK {
				t.Fatalf("run over a deleted state: exit %d\n%s", res.code, res.stderr)
			}
			if after := e.stats(t).Created; after != before {
				t.Errorf("the run over a deleted state created %d profiles", after-before)
			}
			sum := readSummary(t, w.path("summary.json"))
			if sum.Adopted != len(rows) || sum.Counts["skipped"] != len(rows) {
				t.Errorf("adopted %d, skipped %d; want %d each", sum.Adopted, sum.Counts["skipped"], len(rows))
			}
			onePerRow(t, e, rows, nil)
		})
	}
}

// (b) 30% of the rows' profiles exist before the first run, made by direct
// API calls; one identity even twice.
func TestOrgProfilesExistBeforehand(t *testing.T) {
	for _, seed := range orgSeeds(t) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			// No faults: the direct creates stand for another tool's, which
			// may not fail ambiguously here.
			e := startEmulator(t, "--seed", strconv.FormatInt(seed, 10), "--latency", "2ms")
			w := newWorkdir(t, e)
			content, rows := chaosExport(50, seed)
			input := w.write("users.csv", content)
			made := map[int]string{}
			for i, r := range rows {
				if i%10 < 3 {
					made[r.line] = postProfile(t, e, r.req)
				}
			}
			twice := rows[0]
			second := postProfile(t, e, twice.req)
			res := w.provision("run", input, "--timeout", "500ms", "--settle", "100ms", "--report", "r.csv")
			if res.code != exitRows {
				t.Fatalf("exit %d, want 1 (one identity is held twice)\n%s", res.code, res.stderr)
			}
			for _, r := range readCSVReport(t, w.path("r.csv")) {
				line, _ := strconv.Atoi(r["line"])
				switch {
				case line == twice.line:
					if r["status"] != "skipped" || r["error_type"] != "multiple_profiles_match" ||
						!strings.Contains(r["error_message"], made[line]) || !strings.Contains(r["error_message"], second) {
						t.Errorf("line %d: %s %s %q; want skipped multiple_profiles_match naming %s and %s", line, r["status"], r["error_type"], r["error_message"], made[line], second)
					}
				case made[line] != "":
					if r["status"] != "skipped" || r["user_profile_id"] != made[line] {
						t.Errorf("line %d: %s %s, want skipped %s", line, r["status"], r["user_profile_id"], made[line])
					}
				case r["status"] != "created":
					t.Errorf("line %d: %s %s", line, r["status"], r["error_message"])
				}
			}
			byIdentity := 0
			for _, p := range e.profiles(t) {
				if p.Request().Identity() == twice.req.Identity() {
					byIdentity++
				}
			}
			if byIdentity != 2 {
				t.Errorf("the identity held twice now has %d profiles; nothing may be sent for it", byIdentity)
			}
			onePerRow(t, e, rows[1:], nil, twice.req.Identity())
		})
	}
}

// (c) A state filled against one emulator is used against another: exit 2
// before anything is sent.
func TestOrgStateOfAnotherTarget(t *testing.T) {
	for _, seed := range orgSeeds(t) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			rehearsal := startEmulator(t, "--seed", strconv.FormatInt(seed, 10))
			w := newWorkdir(t, rehearsal)
			content, _ := chaosExport(20, seed)
			input := w.write("users.csv", content)
			if res := w.provision("run", input); res.code != exitOK {
				t.Fatalf("rehearsal: exit %d\n%s", res.code, res.stderr)
			}
			production := startEmulator(t)
			res := w.provision("run", input, "--base-url", production.URL)
			if res.code != exitUsage {
				t.Fatalf("exit %d, want 2\n%s", res.code, res.stderr)
			}
			if !strings.Contains(res.stderr, rehearsal.URL) || !strings.Contains(res.stderr, production.URL) || !strings.Contains(res.stderr, "--state") {
				t.Errorf("the error must name both targets and --state:\n%s", res.stderr)
			}
			if st := production.stats(t); st.Requests != 0 {
				t.Errorf("%d requests reached the other target", st.Requests)
			}
		})
	}
}

// (d) A run is killed while its creates are unknown; the next export
// renames a user. The profile holds the old name: reconciliation must look
// for what was sent, not for what the export now says.
func TestOrgKilledThenRenamed(t *testing.T) {
	for _, seed := range orgSeeds(t) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			e := startEmulator(t, "--seed", strconv.FormatInt(seed, 10), "--faults", "slow=1", "--slow-delay", "2s")
			w := newWorkdir(t, e)
			content, rows := chaosExport(10, seed)
			input := w.write("users.csv", content)
			kill := w.startKillable(t, "run", input, "--timeout", "4s", "--settle", "200ms", "--concurrency", "16")
			time.Sleep(time.Second)
			kill()
			if n := len(e.profiles(t)); n == 0 {
				t.Fatal("nothing was in flight at the kill")
			}
			// Every user is renamed in the next export.
			renamed := strings.ReplaceAll(content, "User ", "Renamed ")
			input2 := w.write("users2.csv", renamed)
			res := w.provision("run", input2, "--timeout", "4s", "--settle", "200ms", "--report", "r.csv")
			if res.code != exitOK {
				t.Fatalf("exit %d\n%s", res.code, res.stderr)
			}
			loose := map[int]bool{}
			for _, r := range rows {
				loose[r.line] = true
			}
			changed := 0
			for _, r := range readCSVReport(t, w.path("r.csv")) {
				if r["error_type"] == "profile_changed" {
					changed++
				}
			}
			if changed == 0 {
				t.Error("no row says its profile holds other data than the export")
			}
			// Rows without external_id are identified by content: renamed,
			// they are other users, created anew. Check the others.
			var withID []chaosRow
			for _, r := range rows {
				if r.req.ExternalID != nil {
					withID = append(withID, r)
				}
			}
			byIdentity := map[string]int{}
			for _, p := range e.profiles(t) {
				byIdentity[p.Request().Identity()]++
			}
			for _, r := range withID {
				if n := byIdentity[r.req.Identity()]; n != 1 {
					t.Errorf("line %d: %d profiles, want 1", r.line, n)
				}
			}
		})
	}
}

// (e) The server's clock is 5 minutes behind ours; a resumed run that
// creates nothing new must still find the profiles the killed run made.
func TestOrgServerClockBehind(t *testing.T) {
	for _, seed := range orgSeeds(t) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			// Every answer comes 5 s after its profile is made: the run is
			// killed once all are made, before any answer.
			e := startEmulator(t, "--seed", strconv.FormatInt(seed, 10), "--faults", "slow=1", "--slow-delay", "5s", "--clock-offset", "-5m")
			w := newWorkdir(t, e)
			content, rows := chaosExport(10, seed)
			input := w.write("users.csv", content)
			kill := w.startKillable(t, "run", input, "--timeout", "8s", "--settle", "200ms", "--concurrency", "16")
			for deadline := time.Now().Add(4 * time.Second); len(e.profiles(t)) < len(rows) && time.Now().Before(deadline); {
				time.Sleep(50 * time.Millisecond)
			}
			kill()
			made := len(e.profiles(t))
			if made != len(rows) {
				t.Fatalf("%d of %d creates were in flight at the kill; the scenario needs all", made, len(rows))
			}
			res := w.provision("run", input, "--timeout", "4s", "--settle", "200ms")
			if res.code != exitOK {
				t.Fatalf("exit %d\n%s", res.code, res.stderr)
			}
			if n := len(e.profiles(t)); n != made {
				t.Errorf("the resumed run created %d profiles; it should have found them all", n-made)
			}
			onePerRow(t, e, rows, nil)
		})
	}
}

// (f) A backup of the state taken mid-run is restored before the next run:
// what the run created after the backup is adopted, not created again.
func TestOrgBackupRestored(t *testing.T) {
	for _, seed := range orgSeeds(t) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			e := startEmulator(t, "--seed", strconv.FormatInt(seed, 10), "--rate", "40", "--burst", "5", "--faults", "500=0.05,lost=0.05")
			w := newWorkdir(t, e)
			content, rows := chaosExport(60, seed)
			input := w.write("users.csv", content)
			cmd := w.command(append([]string{"run", input, "--timeout", "500ms", "--settle", "100ms"}, orgRunFlags...)...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill() })
			time.Sleep(700 * time.Millisecond)
			backup(t, w.path("provision.db"), w.path("backup.db"))
			if err := cmd.Wait(); exitCodeOf(err) != exitOK {
				t.Fatalf("the run: %v", err)
			}
			removeState(t, w)
			if err := os.Rename(w.path("backup.db"), w.path("provision.db")); err != nil {
				t.Fatal(err)
			}
			before := e.stats(t).Created
			res := w.provision("run", input, "--timeout", "500ms", "--settle", "100ms")
			if res.code != exitOK {
				t.Fatalf("run over the restored state: exit %d\n%s", res.code, res.stderr)
			}
			if after := e.stats(t).Created; after != before {
				t.Errorf("the run over the restored state created %d profiles", after-before)
			}
			onePerRow(t, e, rows, nil)
		})
	}
}

// backup copies a live state as `sqlite3 db ".backup copy"` would.
func backup(t *testing.T, from, to string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+from+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`VACUUM INTO ?`, to); err != nil {
		t.Fatal(err)
	}
}

// (g) Creates stored later than --timeout + --settle after their send:
// reconciliation finds nothing and the row is sent again, so a second
// profile appears. The sweep at the end of the run, or the catch-up of the
// next one, must report every such duplicate with both ids, and exit 1.
func TestOrgLateBeyondSettle(t *testing.T) {
	for _, seed := range orgSeeds(t) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			e := startEmulator(t, "--seed", strconv.FormatInt(seed, 10), "--faults", "late=0.3", "--slow-delay", "1500ms")
			w := newWorkdir(t, e)
			content, rows := chaosExport(30, seed)
			input := w.write("users.csv", content)
			reported := map[string][]string{}
			var codes []exitCode
			for run := range 2 {
				res := w.provision("run", input, "--timeout", "300ms", "--settle", "100ms")
				codes = append(codes, res.code)
				sum := readSummary(t, w.path("summary.json"))
				for _, d := range sum.Duplicates {
					reported[d.Identity] = append(reported[d.Identity], d.Kept, d.Duplicate)
				}
				if len(sum.Duplicates) > 0 && res.code != exitRows {
					t.Errorf("run %d reported %d duplicates with exit %d, want 1", run+1, len(sum.Duplicates), res.code)
				}
				time.Sleep(1600 * time.Millisecond) // every late create has landed
			}
			byIdentity := map[string][]string{}
			for _, p := range e.profiles(t) {
				id := p.Request().Identity()
				byIdentity[id] = append(byIdentity[id], p.ID)
			}
			dups := 0
			for _, r := range rows {
				ids := byIdentity[r.req.Identity()]
				if len(ids) == 0 {
					t.Errorf("line %d: no profile", r.line)
				}
				if len(ids) < 2 {
					continue
				}
				dups++
				for _, id := range ids {
					if !slices.Contains(reported[r.req.Identity()], id) {
						t.Errorf("line %d: profiles %v, but %s was never reported", r.line, ids, id)
					}
				}
			}
			t.Logf("seed %d: %d identities with a late second profile, all reported; exit codes %v", seed, dups, codes)
		})
	}
}
