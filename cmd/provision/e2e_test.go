package main

import (
	"fmt"
	"github.com/provision/provision/internal/profile"
	"os"
	"strconv"
	"strings"
	"testing"
)

// hostileRow is one line of the hostile export and what the report must say.
type hostileRow struct {
	csv    string // the record as it appears in the file (may span lines)
	status string
	rule   string
}

func hostileExport() (string, []hostileRow) {
	long := strings.Repeat("é", 256)
	many := "{" + strings.Repeat(`""k0"":""v""`, 0)
	var keys []string
	for i := range 17 {
		keys = append(keys, fmt.Sprintf(`""k%d"":""v""`, i))
	}
	many = `"{` + strings.Join(keys, ",") + `}"`
	rows := []hostileRow{
		{`u-1,Ada Lovelace,external,,pro`, "created", ""},
		{`u-2,"Hopper, Grace",,"{""team"":""core""}",`, "created", ""},
		{`u-3,"Multi` + "\r\n" + `line name",internal,,`, "created", ""},
		{`u-4,Acme Corp,resold,,enterprise`, "created", ""},
		{`u-5,=1+2,,,@SUM(A1)`, "created", ""},
		{`,Anonymous,,,`, "created", ""},
		{`,,,,`, "created", ""},
		{`u-6,` + long + `,,,`, "invalid", "name_too_long"},
		{strings.Repeat("x", 256) + `,Long Id,,,`, "invalid", "external_id_too_long"},
		{`u-7,,resold,,`, "invalid", "name_required_for_resold"},
		{`u-8,Partner,partner,,`, "invalid", "relationship_invalid"},
		{`u-9,Many Keys,,` + many + `,`, "invalid", "metadata_too_many_keys"},
		{`u-10,Long Key,,"{""` + strings.Repeat("k", 65) + `"":""v""}",`, "invalid", "metadata_key_too_long"},
		{`u-11,Long Value,,,` + strings.Repeat("v", 513), "invalid", "metadata_value_too_long"},
		{`u-12,Empty Value,,"{""a"":""""}",`, "invalid", "metadata_value_empty"},
		{`u-13,Bad Json,,{not json,`, "invalid", "metadata_invalid_json"},
		{`u-14,Conflict,,"{""plan"":""a""}",b`, "invalid", "metadata_conflict"},
		{`u-15,Too,Many,Fields,,,`, "invalid", "field_count"},
		{`u-1,Ada Again,,,`, "invalid", "duplicate_external_id"},
		{`,Anonymous,,,`, "invalid", "duplicate_row"},
		{`u-16,Bad "quote,,,`, "invalid", "csv_syntax"},
		{`u-17,Last One,external,,free`, "created", ""},
	}
	var b strings.Builder
	b.WriteString("\ufeffexternal_id,name,relationship,metadata,metadata.plan\r\n")
	for _, r := range rows {
		b.WriteString(r.csv + "\r\n")
	}
	return b.String(), rows
}

func TestRunHostileExport(t *testing.T) {
	e := startEmulator(t, "--seed", "7")
	w := newWorkdir(t, e)
	content, rows := hostileExport()
	input := w.write("users.csv", content)

	res := w.run("run", input, "--report", "report.csv", "--summary-json", "summary.json")
	if res.code != exitRows {
		t.Fatalf("exit %d, want %d (some rows invalid)\nstdout: %s\nstderr: %s", res.code, exitRows, res.stdout, res.stderr)
	}
	report := readCSVReport(t, w.path("report.csv"))
	if len(report) != len(rows) {
		t.Fatalf("report has %d rows, input %d", len(report), len(rows))
	}
	line := 2
	created := 0
	ids := map[string]string{}
	for i, want := range rows {
		got := report[i]
		if got["line"] != strconv.Itoa(line) {
			t.Errorf("row %d: line %s, want %d", i, got["line"], line)
		}
		if got["status"] != want.status || got["error_type"] != want.rule {
			t.Errorf("line %d: %s/%s (%s), want %s/%s", line, got["status"], got["error_type"], got["error_message"], want.status, want.rule)
		}
		if want.rule != "" && !strings.HasPrefix(got["error_message"], "line "+strconv.Itoa(line)+": ") {
			t.Errorf("line %d: message %q does not name the line", line, got["error_message"])
		}
		if want.status == "created" {
			created++
			if !strings.HasPrefix(got["user_profile_id"], "uprof_") {
				t.Errorf("line %d: id %q", line, got["user_profile_id"])
			}
			ids[got["user_profile_id"]] = got["external_id"]
		}
		line += strings.Count(want.csv, "\n") + 1
	}
	// Formula cells are neutralised in the report.
	if got := report[4]["name"]; got != "'=1+2" {
		t.Errorf("formula cell rendered %q, want '=1+2", got)
	}

	profiles := e.profiles(t)
	if len(profiles) != created {
		t.Fatalf("emulator holds %d profiles, the report says %d created", len(profiles), created)
	}
	for _, p := range profiles {
		ext, ok := ids[p.ID]
		if !ok {
			t.Errorf("profile %s is not in the report", p.ID)
		}
		if p.ExternalID != nil && *p.ExternalID != ext {
			t.Errorf("profile %s: external_id %q, report says %q", p.ID, *p.ExternalID, ext)
		}
		if p.Name != nil && *p.Name == "=1+2" {
			continue // the value sent is the input's, not the neutralised cell
		}
	}
	if !hasProfileNamed(profiles, "=1+2") {
		t.Error("the formula-like name was not sent verbatim")
	}

	// A re-run creates nothing: every created row is skipped with its id.
	res = w.run("run", input, "--report", "again.csv")
	if res.code != exitRows {
		t.Fatalf("re-run exit %d\n%s", res.code, res.stderr)
	}
	again := readCSVReport(t, w.path("again.csv"))
	for i, r := range again {
		if report[i]["status"] == "created" && (r["status"] != "skipped" || r["user_profile_id"] != report[i]["user_profile_id"]) {
			t.Errorf("re-run line %s: %s %s, want skipped %s", r["line"], r["status"], r["user_profile_id"], report[i]["user_profile_id"])
		}
	}
	if n := len(e.profiles(t)); n != created {
		t.Fatalf("re-run created %d more profiles", n-created)
	}

	// The same users as JSONL, in another order, under another name: nothing new.
	var jsonl strings.Builder
	jsonl.WriteString(`{"external_id":"u-17","name":"Last One","relationship":"external","metadata":{"plan":"free"}}` + "\n\n")
	jsonl.WriteString(`{"external_id":"u-1","name":"Ada Lovelace","relationship":"external","metadata":{"plan":"pro"}}` + "\r\n")
	jsonl.WriteString(`{"name":"Anonymous"}` + "\n")
	jsonl.WriteString(`{"external_id":"u-2","name":"Hopper, Grace","metadata":{"team":"core"}}` + "\n")
	jsonl.WriteString(`{"external_id":"u-4","name":"Acme Corp","relationship":"resold","metadata.plan":"enterprise"}` + "\n")
	jsonl.WriteString(`{"external_id":"u-3","name":"Multi\nline name","relationship":"internal"}` + "\n")
	jsonl.WriteString(`{}` + "\n")
	jsonl.WriteString(`{"external_id":"u-5","name":"=1+2","metadata":{"plan":"@SUM(A1)"}}` + "\n")
	jsonl.WriteString(`{"external_id":42}` + "\n")
	other := w.write("export-2.jsonl", jsonl.String())
	res = w.run("run", other, "--report", "jsonl.jsonl")
	if res.code != exitRows {
		t.Fatalf("JSONL run exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if n := len(e.profiles(t)); n != created {
		t.Fatalf("the JSONL export created %d more profiles\n%s", n-created, readFile(t, w.path("jsonl.jsonl")))
	}
	if strings.Contains(readFile(t, w.path("jsonl.jsonl")), "profile_changed") {
		t.Errorf("the same users read as JSONL were reported as changed:\n%s", readFile(t, w.path("jsonl.jsonl")))
	}
	if !strings.Contains(readFile(t, w.path("jsonl.jsonl")), `"line":10,"status":"invalid","user_profile_id":"","error_type":"wrong_type"`) {
		t.Errorf("JSONL report lacks the wrong_type row on line 10:\n%s", readFile(t, w.path("jsonl.jsonl")))
	}
}

func hasProfileNamed(ps []profile.Profile, name string) bool {
	for _, p := range ps {
		if p.Name != nil && *p.Name == name {
			return true
		}
	}
	return false
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestValidateCallsNothing(t *testing.T) {
	e := startEmulator(t)
	w := newWorkdir(t, e)
	content, rows := hostileExport()
	input := w.write("users.csv", content)
	res := w.run("validate", input, "--report", "check.csv")
	if res.code != exitRows {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	report := readCSVReport(t, w.path("check.csv"))
	for i, want := range rows {
		status := want.status
		if status == "created" {
			status = "valid"
		}
		if report[i]["status"] != status || report[i]["error_type"] != want.rule {
			t.Errorf("row %d: %s/%s, want %s/%s", i, report[i]["status"], report[i]["error_type"], status, want.rule)
		}
	}
	if s := e.stats(t); s.Requests != 0 {
		t.Fatalf("validate sent %d requests", s.Requests)
	}
	if _, err := os.Stat(w.path("provision.db")); !os.IsNotExist(err) {
		t.Fatalf("validate touched the state: %v", err)
	}
}

func TestFailedRowsAreRetriedByTheNextRun(t *testing.T) {
	e := startEmulator(t, "--faults", "529=0.5", "--seed", "3")
	w := newWorkdir(t, e)
	var b strings.Builder
	b.WriteString("external_id,name\n")
	for i := range 20 {
		fmt.Fprintf(&b, "u-%d,User %d\n", i, i)
	}
	input := w.write("users.csv", b.String())
	res := w.run("run", input, "--max-attempts", "1", "--report", "r.csv")
	if res.code != exitRows {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	failed := 0
	for _, r := range readCSVReport(t, w.path("r.csv")) {
		if r["status"] == "failed" {
			failed++
			if r["error_type"] != "overloaded_error" || r["attempts"] != "1" {
				t.Errorf("row %s: %s attempts %s, want overloaded_error 1", r["line"], r["error_type"], r["attempts"])
			}
		}
	}
	if failed == 0 {
		t.Fatal("no row failed; the test needs some")
	}
	// Each later run sends the failed rows again, and only those.
	for i := 0; res.code != exitOK; i++ {
		if i == 20 {
			t.Fatalf("still exit %d after 20 runs", res.code)
		}
		res = w.run("run", input, "--max-attempts", "1", "--report", "r.csv")
	}
	if n := len(e.profiles(t)); n != 20 {
		t.Fatalf("the runs created %d profiles, want 20", n)
	}
}

// TestReportRendersTheLastRunAgain: the report comes from the state alone.
func TestReportRendersTheLastRunAgain(t *testing.T) {
	e := startEmulator(t)
	w := newWorkdir(t, e)
	content, _ := hostileExport()
	input := w.write("users.csv", content)
	if res := w.run("run", input, "--report", "first.csv"); res.code != exitRows {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	res := w.run("report")
	if res.code != exitOK {
		t.Fatalf("report: exit %d\n%s", res.code, res.stderr)
	}
	if want := readFile(t, w.path("first.csv")); res.stdout != want {
		t.Errorf("report differs from the run's:\n%s\nwant:\n%s", res.stdout, want)
	}
	if res := w.run("report", "--report", "again.jsonl"); res.code != exitOK || !strings.Contains(readFile(t, w.path("again.jsonl")), `"status":"created"`) {
		t.Errorf("JSONL report: exit %d %s", res.code, res.stderr)
	}
	empty := newWorkdir(t, nil)
	if res := empty.run("report"); res.code != exitUsage || !strings.Contains(res.stderr, "nothing has run yet") {
		t.Errorf("report without a state: exit %d %s", res.code, res.stderr)
	}
}

// TestReportOfAPrunedRunSaysItIsGone: --keep-runs drops the rows of older
// runs; their reports say so, with the summary that is left, and --runs
// lists which runs still have rows. A kept run renders as it was written.
func TestReportOfAPrunedRunSaysItIsGone(t *testing.T) {
	e := startEmulator(t)
	w := newWorkdir(t, e)
	input := w.write("users.csv", "external_id,name\nu1,One\nu2,Two\n")
	for i := 1; i <= 3; i++ {
		if res := w.run("run", input, "--keep-runs", "2", "--report", fmt.Sprintf("r%d.csv", i)); res.code != exitOK {
			t.Fatalf("run %d: exit %d\n%s", i, res.code, res.stderr)
		}
	}
	res := w.run("report", "--run", "1")
	if res.code != exitUsage || !strings.Contains(res.stderr, "the rows of run 1") || !strings.Contains(res.stderr, "are gone") || !strings.Contains(res.stderr, `"created"`) {
		t.Errorf("report of the pruned run 1: exit %d\n%s", res.code, res.stderr)
	}
	res = w.run("report", "--run", "2")
	if want := readFile(t, w.path("r2.csv")); res.code != exitOK || res.stdout != want {
		t.Errorf("report of the kept run 2: exit %d\n%s\nwant:\n%s", res.code, res.stdout, want)
	}
	res = w.run("report", "--runs")
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	if res.code != exitOK || len(lines) != 4 || !strings.Contains(lines[1], "pruned") || strings.Contains(lines[2], "pruned") || strings.Contains(lines[3], "pruned") {
		t.Errorf("report --runs: exit %d\n%s", res.code, res.stdout)
	}
	if res := w.run("report", "--run", "9"); res.code != exitUsage || !strings.Contains(res.stderr, "no run 9") {
		t.Errorf("report --run 9: exit %d %s", res.code, res.stderr)
	}
}
