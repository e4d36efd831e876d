package report

import (
	"encoding/json"
	"flag"
	"github.com/provision/provision/internal/profile"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func sampleSummaries() map[string]Summary {
	started := time.Date(2026, 3, 24, 2, 0, 0, 0, time.UTC)
	return map[string]Summary{
		"run": {
			Command: "run",
			Counts: map[profile.Status]int{profile.StatusCreated: 1150, profile.StatusSkipped: 40, profile.StatusInvalid: 10,
				profile.StatusFailed: 3, profile.StatusPending: 1},
			ErrorTypes: map[string]int{"name_too_long": 8, "duplicate_external_id": 2, "rate_limit_error": 3,
				"profile_changed": 2, `odd"type\with` + "\nnewline": 1},
			Changed:    2,
			Reconciled: 4,
			Total:      1204,
			Started:    started,
			Elapsed:    12300 * time.Millisecond,
			ExitCode:   1,
			ReportPath: "out/report.csv",
		},
		"stopped": {
			Command:    "run",
			Counts:     map[profile.Status]int{profile.StatusCreated: 1, profile.StatusPending: 2},
			Total:      3,
			Started:    started,
			Elapsed:    75 * time.Minute,
			ExitCode:   3,
			ReportPath: "report.jsonl",
			Stopped:    "interrupted by signal",
		},
		"validate": {
			Command:    "validate",
			Counts:     map[profile.Status]int{profile.StatusValid: 1, profile.StatusInvalid: 0},
			Total:      1,
			Started:    started,
			Elapsed:    0,
			ExitCode:   0,
			ReportPath: "r.csv",
		},
	}
}

func TestSummaryText(t *testing.T) {
	var b strings.Builder
	for _, name := range []string{"run", "stopped", "validate"} {
		text := sampleSummaries()[name].Text()
		if strings.Contains(text, "\n") {
			t.Errorf("%s: Text is not one paragraph: %q", name, text)
		}
		b.WriteString(name + ": " + text + "\n")
	}
	golden(t, "summary.txt", []byte(b.String()))
}

func TestSummaryJSON(t *testing.T) {
	for name, s := range sampleSummaries() {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "summary.json")
			if err := s.WriteJSON(path); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Counts map[string]int `json:"counts"`
			}
			if err := json.Unmarshal(got, &doc); err != nil {
				t.Fatal(err)
			}
			for _, status := range profile.Statuses() {
				if _, ok := doc.Counts[string(status)]; !ok {
					t.Errorf("counts lacks %q", status)
				}
			}
			wantKeys := []string{"command", "total", "counts", "error_types", "changed", "reconciled", "started",
				"elapsed_seconds", "rows_per_second", "exit_code", "report_path", "stopped", "adopted", "strays_reconciled", "duplicates"}
			if keys := objectKeys(t, got); strings.Join(keys, ",") != strings.Join(wantKeys, ",") {
				t.Errorf("keys %q, want %q", keys, wantKeys)
			}
			golden(t, "summary_"+name+".json", got)
		})
	}
}

func TestSummaryMetrics(t *testing.T) {
	sample := regexp.MustCompile(`^[a-z_]+(\{[^}]*\})? [0-9.e+-]+$`)
	for name, s := range sampleSummaries() {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "provision.prom")
			if err := s.WriteMetrics(path); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			text := string(got)
			if !strings.HasSuffix(text, "\n") {
				t.Error("metrics do not end with a newline")
			}
			for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
				if strings.HasPrefix(line, "# HELP ") || strings.HasPrefix(line, "# TYPE ") {
					continue
				}
				if !sample.MatchString(line) {
					t.Errorf("not a sample line: %q", line)
				}
			}
			for _, status := range profile.Statuses() {
				if !strings.Contains(text, `provision_rows{status="`+string(status)+`"} `) {
					t.Errorf("no provision_rows sample for %q", status)
				}
			}
			success := "provision_last_run_success 0\n"
			if s.ExitCode == 0 {
				success = "provision_last_run_success 1\n"
			}
			if !strings.Contains(text, success) {
				t.Errorf("want %q in\n%s", success, text)
			}
			golden(t, "metrics_"+name+".prom", got)
		})
	}
}

func TestEscapeLabel(t *testing.T) {
	if got, want := escapeLabel("a\\b\"c\nd"), `a\\b\"c\nd`; got != want {
		t.Errorf("escapeLabel = %q, want %q", got, want)
	}
}

func TestRowsPerSecond(t *testing.T) {
	if got := (Summary{Total: 10}).RowsPerSecond(); got != 0 {
		t.Errorf("zero elapsed: got %v, want 0", got)
	}
	if got := (Summary{Total: 10, Elapsed: 4 * time.Second}).RowsPerSecond(); got != 2.5 {
		t.Errorf("got %v, want 2.5", got)
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1204: "1,204", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
