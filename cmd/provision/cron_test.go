package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/provision/provision/internal/profile"
	"github.com/provision/provision/internal/state"
)

// export writes rows u-FROM..u-TO (inclusive) in a shuffled order.
func export(w *workdir, name string, from, to int, seed uint64) string {
	ids := make([]int, 0, to-from+1)
	for i := from; i <= to; i++ {
		ids = append(ids, i)
	}
	rand.New(rand.NewPCG(seed, seed)).Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	var b strings.Builder
	b.WriteString("external_id,name,metadata.plan\n")
	for _, i := range ids {
		fmt.Fprintf(&b, "u-%d,User %d,pro\n", i, i)
	}
	return w.write(name, b.String())
}

func countStatus(rows []map[string]string) map[string]int {
	m := map[string]int{}
	for _, r := range rows {
		m[r["status"]]++
	}
	return m
}

func TestLockHeldExits4AndNamesTheHolder(t *testing.T) {
	e := startEmulator(t)
	w := newWorkdir(t, e)
	input := export(w, "users.csv", 1, 3, 1)
	unlock, err := state.Lock(w.path("provision.db.lock"))
	if err != nil {
		t.Fatal(err)
	}
	res := w.run("run", input)
	if res.code != exitLocked {
		t.Fatalf("exit %d, want %d\n%s", res.code, exitLocked, res.stderr)
	}
	if !strings.Contains(res.stderr, "process "+strconv.Itoa(os.Getpid())) || !strings.Contains(res.stderr, "since ") {
		t.Errorf("message does not name the holder: %s", res.stderr)
	}
	if s := e.stats(t); s.Requests != 0 {
		t.Fatalf("a locked run sent %d requests", s.Requests)
	}
	unlock()

	// A lock file left by a dead process (its content says who) never blocks.
	w.write("provision.db.lock", "pid 999999\nstarted 2026-01-01T00:00:00Z\n")
	if res := w.run("run", input); res.code != exitOK {
		t.Fatalf("after a stale lock: exit %d\n%s", res.code, res.stderr)
	}
}

func TestIncrementalNightlyRun(t *testing.T) {
	e := startEmulator(t)
	w := newWorkdir(t, e)
	first := export(w, "users-day1.csv", 1, 40, 1)
	if res := w.run("run", first, "--report", "day1.csv"); res.code != exitOK {
		t.Fatalf("day 1: exit %d\n%s", res.code, res.stderr)
	}
	day1 := map[string]string{}
	for _, r := range readCSVReport(t, w.path("day1.csv")) {
		day1[r["external_id"]] = r["user_profile_id"]
	}

	// Day 2: a larger export, another name, another order, and one user whose plan changed.
	second := export(w, "users-day2.csv", 1, 55, 2)
	content := strings.Replace(readFile(t, second), "u-7,User 7,pro", "u-7,User 7,enterprise", 1)
	w.write("users-day2.csv", content)
	res := w.run("run", second, "--report", "day2.csv", "--summary-json", "summary.json", "--metrics-file", "provision.prom")
	if res.code != exitOK {
		t.Fatalf("day 2: exit %d\n%s", res.code, res.stderr)
	}
	rows := readCSVReport(t, w.path("day2.csv"))
	if c := countStatus(rows); c["created"] != 15 || c["skipped"] != 40 || len(rows) != 55 {
		t.Fatalf("day 2 statuses %v, want 15 created and 40 skipped", c)
	}
	for _, r := range rows {
		if r["status"] == "skipped" && r["user_profile_id"] != day1[r["external_id"]] {
			t.Errorf("%s skipped with id %s, day 1 gave %s", r["external_id"], r["user_profile_id"], day1[r["external_id"]])
		}
		changed := r["error_type"] == profile.ErrorProfileChanged
		if changed != (r["external_id"] == "u-7") {
			t.Errorf("%s: error_type %q (%s)", r["external_id"], r["error_type"], r["error_message"])
		}
		if changed && !strings.Contains(r["error_message"], "metadata.plan") {
			t.Errorf("the changed-user message does not name the field: %s", r["error_message"])
		}
	}
	if n := len(e.profiles(t)); n != 55 {
		t.Fatalf("emulator holds %d profiles, want 55", n)
	}

	var sum struct {
		Command    string         `json:"command"`
		Total      int            `json:"total"`
		Counts     map[string]int `json:"counts"`
		ErrorTypes map[string]int `json:"error_types"`
		Changed    int            `json:"changed"`
		ExitCode   int            `json:"exit_code"`
		ReportPath string         `json:"report_path"`
		RowsPerSec float64        `json:"rows_per_second"`
	}
	if err := json.Unmarshal([]byte(readFile(t, w.path("summary.json"))), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Command != "run" || sum.Total != 55 || sum.Counts["created"] != 15 || sum.Counts["skipped"] != 40 || sum.Counts["failed"] != 0 ||
		sum.Changed != 1 || sum.ErrorTypes[profile.ErrorProfileChanged] != 1 || sum.ExitCode != 0 || sum.ReportPath != "day2.csv" || sum.RowsPerSec <= 0 {
		t.Errorf("summary: %+v", sum)
	}
	metrics := readFile(t, w.path("provision.prom"))
	for _, want := range []string{
		`provision_rows{status="created"} 15`, `provision_rows{status="skipped"} 40`, `provision_rows{status="failed"} 0`,
		`provision_rows_changed 1`, `provision_last_run_exit_code 0`, `provision_last_run_success 1`, "# TYPE provision_rows gauge",
	} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("metrics lack %q:\n%s", want, metrics)
		}
	}

	// Day 3: nothing new; exit 0, nothing created, and reading the org
	// costs one page at the start (catch-up) and one at the end (sweep).
	before := e.stats(t)
	if res := w.run("run", second, "--report", "day3.csv"); res.code != exitOK {
		t.Fatalf("day 3: exit %d\n%s", res.code, res.stderr)
	}
	after := e.stats(t)
	if after.Created != before.Created || after.Requests-before.Requests != 2 {
		t.Fatalf("day 3 created %d profiles in %d requests; want 0 in 2 (catch-up and sweep)", after.Created-before.Created, after.Requests-before.Requests)
	}
}

// A header without rows is a night with nothing to do; an export with no
// header at all failed (TestEmptyExportIsAUsageError).
func TestNothingToDoExits0(t *testing.T) {
	w := newWorkdir(t, startEmulator(t))
	for name, content := range map[string]string{"header.csv": "external_id,name\r\n", "blank-lines.jsonl": "\n\n"} {
		res := w.run("run", w.write(name, content), "--report", name+".report.csv")
		if res.code != exitOK {
			t.Errorf("%s: exit %d\n%s", name, res.code, res.stderr)
		}
		if rows := readCSVReport(t, w.path(name+".report.csv")); len(rows) != 0 {
			t.Errorf("%s: %d report rows", name, len(rows))
		}
	}
}

func TestLogsWithoutATerminal(t *testing.T) {
	e := startEmulator(t, "--latency", "30ms")
	w := newWorkdir(t, e)
	input := export(w, "users.csv", 1, 60, 1)
	res := w.run("run", input, "--log-format", "json", "--log-interval", "200ms", "--rate", "50")
	if res.code != exitOK {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	var msgs []string
	for _, line := range strings.Split(strings.TrimSpace(res.stderr), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("stderr line is not JSON: %q", line)
		}
		msgs = append(msgs, m["msg"].(string))
	}
	if msgs[0] != "run started" || msgs[len(msgs)-1] != "summary" || !contains(msgs, "progress") {
		t.Errorf("log messages %v: want run started, progress lines, summary", msgs)
	}
	if strings.Contains(res.stderr, "\r") || res.stdout != "" {
		t.Errorf("a progress bar or stdout output without a terminal: %q", res.stdout)
	}

	quiet := w.run("run", export(w, "more.csv", 100, 130, 2), "--quiet", "--log-interval", "100ms", "--rate", "50")
	if strings.Contains(quiet.stderr, "progress") {
		t.Errorf("--quiet still logs progress:\n%s", quiet.stderr)
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestErrorBudgetStops(t *testing.T) {
	e := startEmulator(t, "--faults", "529=1")
	w := newWorkdir(t, e)
	input := export(w, "users.csv", 1, 200, 1)
	res := w.run("run", input, "--max-attempts", "1", "--max-failures", "5", "--concurrency", "2", "--summary-json", "s.json")
	if res.code != exitStopped {
		t.Fatalf("exit %d, want %d\n%s", res.code, exitStopped, res.stderr)
	}
	if !strings.Contains(res.stdout, "error budget") {
		t.Errorf("summary does not say why it stopped: %s", res.stdout)
	}
	if s := e.stats(t); s.Requests > 20 {
		t.Errorf("%d requests sent past an error budget of 5", s.Requests)
	}
}

// TestSignals: a first SIGTERM drains and records everything; a second
// abandons requests on the wire. Either way the next run finishes the job
// with one profile per row.
func TestSignals(t *testing.T) {
	for _, signals := range []int{1, 2} {
		t.Run(strconv.Itoa(signals), func(t *testing.T) {
			e := startEmulator(t, "--latency", "300ms")
			w := newWorkdir(t, e)
			input := export(w, "users.csv", 1, 150, 1)
			// A resumed run waits --timeout (plus --settle) before it looks
			// for the rows the abandoned requests left pending.
			cmd := w.command("run", input, "--rate", "50", "--concurrency", "8", "--timeout", "2s", "--report", "r.csv", "--metrics-file", "m.prom", "--summary-json", "s.json")
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Signal once the run is well under way, however slow the machine.
			deadline := time.Now().Add(30 * time.Second)
			for e.stats(t).Created < 20 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			start := time.Now()
			for range signals {
				_ = cmd.Process.Signal(syscall.SIGTERM)
				time.Sleep(20 * time.Millisecond)
			}
			err := cmd.Wait()
			took := time.Since(start)
			if code := exitCode(cmd.ProcessState.ExitCode()); code != exitStopped {
				t.Fatalf("exit %d (%v), want %d\n%s", code, err, exitStopped, out.String())
			}
			if took > 5*time.Second {
				t.Errorf("took %s to stop", took)
			}
			rows := readCSVReport(t, w.path("r.csv"))
			c := countStatus(rows)
			if c["created"] == 0 || len(rows) == 0 {
				t.Fatalf("stopped run's report: %v", c)
			}
			// The summary and metrics are written for interrupted runs too.
			if m := readFile(t, w.path("m.prom")); !strings.Contains(m, "provision_last_run_exit_code 3\n") || !strings.Contains(m, "provision_last_run_success 0\n") {
				t.Errorf("metrics of the interrupted run:\n%s", m)
			}
			if s := readFile(t, w.path("s.json")); !strings.Contains(s, `"exit_code": 3`) && !strings.Contains(s, `"exit_code":3`) {
				t.Errorf("summary of the interrupted run: %s", s)
			}
			if !strings.Contains(out.String(), "re-run the same command to resume") {
				t.Errorf("no resume hint:\n%s", out.String())
			}

			res := w.run("run", input, "--timeout", "2s", "--report", "r.csv")
			if res.code != exitOK {
				t.Fatalf("resume: exit %d\n%s", res.code, res.stderr)
			}
			rows = readCSVReport(t, w.path("r.csv"))
			if c := countStatus(rows); c["created"] != 150 || len(rows) != 150 {
				t.Errorf("resumed report: %v over %d rows, want 150 created", c, len(rows))
			}
			assertOneProfilePerRow(t, e, rows)
		})
	}
}

// assertOneProfilePerRow checks the emulator holds exactly one profile per
// external_id and that the report gives that very id.
func assertOneProfilePerRow(t *testing.T, e *emu, rows []map[string]string) {
	t.Helper()
	byExt := map[string][]string{}
	for _, p := range e.profiles(t) {
		if p.ExternalID != nil {
			byExt[*p.ExternalID] = append(byExt[*p.ExternalID], p.ID)
		}
	}
	for _, r := range rows {
		ids := byExt[r["external_id"]]
		if len(ids) != 1 {
			t.Errorf("%s: %d profiles %v", r["external_id"], len(ids), ids)
			continue
		}
		if r["user_profile_id"] != ids[0] {
			t.Errorf("%s: report id %s, emulator %s", r["external_id"], r["user_profile_id"], ids[0])
		}
	}
	if len(byExt) != len(rows) {
		t.Errorf("emulator holds profiles for %d external ids, the input has %d", len(byExt), len(rows))
	}
}
