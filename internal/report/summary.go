package report

import (
	"encoding/json"
	"fmt"
	"github.com/provision/provision/internal/profile"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Summary is the outcome of one run or validation, for a person (Text), for
// programs (WriteJSON) and for monitoring (WriteMetrics).
type Summary struct {
	Command    string                 // "run" or "validate"
	Counts     map[profile.Status]int // rows per status
	ErrorTypes map[string]int         // rows per error_type: rule names, API error types, "profile_changed", ...
	Changed    int                    // skipped rows whose data changed since their profile was created
	Reconciled int                    // rows whose unknown outcome was resolved by listing
	Total      int                    // rows in the report
	Started    time.Time
	Elapsed    time.Duration
	ExitCode   int
	ReportPath string
	Stopped    string // "" or why the run stopped early (signal, auth failure, error budget)
	Adopted    int    // profiles the org held that the state did not know, now recorded
	Strays     int    // pending entries of rows no longer in the export, reconciled
	// Duplicates are second profiles of one identity found by the catch-up
	// or the sweep: someone must delete one of each pair.
	Duplicates []Duplicate
}

// Duplicate is a second profile of an identity that already has one.
type Duplicate struct {
	Identity string `json:"identity"`
	Kept     string `json:"kept"`
	Other    string `json:"duplicate"`
}

// RowsPerSecond is the run's throughput over its whole elapsed time.
func (s Summary) RowsPerSecond() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Total) / s.Elapsed.Seconds()
}

// Text is a one-paragraph account of the run for a person: how many rows, how
// fast, the non-zero statuses, the commonest errors, whether it stopped early
// and where the report is.
func (s Summary) Text() string {
	var b strings.Builder
	verb := "Processed"
	if s.Command == "validate" {
		verb = "Validated"
	}
	fmt.Fprintf(&b, "%s %s in %s", verb, plural(s.Total, "row", "rows"), formatElapsed(s.Elapsed))
	// A rate that would print as 0.0 says nothing.
	if rate := s.RowsPerSecond(); rate >= 0.05 {
		fmt.Fprintf(&b, " (%.1f rows/s)", rate)
	}

	var parts []string
	for _, status := range s.statuses() {
		n := s.Counts[status]
		if n == 0 {
			continue
		}
		part := thousands(n) + " " + string(status)
		switch status {
		case profile.StatusSkipped:
			if s.Changed > 0 {
				part += fmt.Sprintf(" (already provisioned; %s changed since)", thousands(s.Changed))
			} else {
				part += " (already provisioned)"
			}
		case profile.StatusPending:
			part += " (re-run to resolve)"
		}
		parts = append(parts, part)
	}
	if len(parts) > 0 {
		b.WriteString(": ")
		b.WriteString(strings.Join(parts, ", "))
	}
	b.WriteString(".")

	if errs := s.topErrors(5); errs != "" {
		b.WriteString(" By error type: " + errs + ".")
	}
	if s.Reconciled > 0 {
		fmt.Fprintf(&b, " Listing resolved the unknown outcome of %s.", plural(s.Reconciled, "row", "rows"))
	}
	if n := s.ErrorTypes[profile.ErrorAbsentThreshold]; n > 0 {
		fmt.Fprintf(&b, " HELD: %s the export no longer names would have gone at once, more than --max-absent allows; nothing was suspended or deleted. If the export is right, raise --max-absent.",
			plural(n, "managed profile", "managed profiles"))
	}
	if s.Strays > 0 {
		fmt.Fprintf(&b, " Looked up %s an earlier run left unresolved that this export no longer has.", plural(s.Strays, "row", "rows"))
	}
	if s.Adopted > 0 {
		fmt.Fprintf(&b, " Adopted %s the org already held.", plural(s.Adopted, "profile", "profiles"))
	}
	if len(s.Duplicates) > 0 {
		d := s.Duplicates[0]
		fmt.Fprintf(&b, " DUPLICATES: %s of one user; e.g. %s and %s (%s): delete one of each pair.",
			plural(len(s.Duplicates), "second profile", "second profiles"), d.Kept, d.Other, printable(d.Identity))
	}
	if s.Stopped != "" {
		fmt.Fprintf(&b, " Stopped early: %s; re-run the same command to resume.", printable(s.Stopped))
	}
	if s.ReportPath != "" {
		fmt.Fprintf(&b, " Report: %s.", printable(s.ReportPath))
	}
	return b.String()
}

// statuses lists every status in its canonical order.
func (s Summary) statuses() []profile.Status { return profile.Statuses() }

// topErrors names the n commonest error types, most frequent first.
func (s Summary) topErrors(n int) string {
	types := slices.Collect(maps.Keys(s.ErrorTypes))
	types = slices.DeleteFunc(types, func(t string) bool { return s.ErrorTypes[t] == 0 })
	slices.SortFunc(types, func(a, b string) int {
		if d := s.ErrorTypes[b] - s.ErrorTypes[a]; d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for i, t := range types {
		if i == n {
			parts = append(parts, fmt.Sprintf("%d more", len(types)-n))
			break
		}
		parts = append(parts, printable(t)+" "+thousands(s.ErrorTypes[t]))
	}
	return strings.Join(parts, ", ")
}

// summaryJSON fixes the order of the keys in the summary file.
type summaryJSON struct {
	Command        string         `json:"command"`
	Total          int            `json:"total"`
	Counts         map[string]int `json:"counts"`
	ErrorTypes     map[string]int `json:"error_types"`
	Changed        int            `json:"changed"`
	Reconciled     int            `json:"reconciled"`
	Started        string         `json:"started"`
	ElapsedSeconds float64        `json:"elapsed_seconds"`
	RowsPerSecond  float64        `json:"rows_per_second"`
	ExitCode       int            `json:"exit_code"`
	ReportPath     string         `json:"report_path"`
	Stopped        string         `json:"stopped"`
	Adopted        int            `json:"adopted"`
	Strays         int            `json:"strays_reconciled"`
	Duplicates     []Duplicate    `json:"duplicates"`
}

// WriteJSON writes the summary to path as a JSON object, atomically. Counts
// has every status, zero included, so that programs need no defaults.
func (s Summary) WriteJSON(path string) error {
	counts := make(map[string]int, len(profile.Statuses()))
	for _, status := range profile.Statuses() {
		counts[string(status)] = s.Counts[status]
	}
	errorTypes := make(map[string]int, len(s.ErrorTypes))
	maps.Copy(errorTypes, s.ErrorTypes)
	doc := summaryJSON{
		Command:        s.Command,
		Total:          s.Total,
		Counts:         counts,
		ErrorTypes:     errorTypes,
		Changed:        s.Changed,
		Reconciled:     s.Reconciled,
		Started:        s.Started.Format(time.RFC3339),
		ElapsedSeconds: round3(s.Elapsed.Seconds()),
		RowsPerSecond:  round3(s.RowsPerSecond()),
		ExitCode:       s.ExitCode,
		ReportPath:     s.ReportPath,
		Stopped:        s.Stopped,
		Adopted:        s.Adopted,
		Strays:         s.Strays,
		Duplicates:     append([]Duplicate{}, s.Duplicates...),
	}
	return WriteFileAtomic(path, 0o600, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(doc)
	})
}

// WriteMetrics writes the summary to path in the Prometheus text exposition
// format, atomically, for node_exporter's textfile collector (which must never
// read a half-written file). The file holds no secret and is mode 0644: the
// collector runs as another user. Families are sorted by name and samples by label
// value so that the file is stable from run to run.
func (s Summary) WriteMetrics(path string) error {
	var b strings.Builder
	family := func(name, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
	}
	sample := func(name, label, value, v string) {
		if label == "" {
			fmt.Fprintf(&b, "%s %s\n", name, v)
			return
		}
		fmt.Fprintf(&b, "%s{%s=\"%s\"} %s\n", name, label, escapeLabel(value), v)
	}
	itoa := strconv.Itoa

	family("provision_duplicates", "Second profiles of one user found by the last run (catch-up or sweep).")
	sample("provision_duplicates", "", "", itoa(len(s.Duplicates)))
	family("provision_errors", "Rows of the last run per error type.")
	for _, t := range slices.Sorted(maps.Keys(s.ErrorTypes)) {
		sample("provision_errors", "type", t, itoa(s.ErrorTypes[t]))
	}
	family("provision_last_run_duration_seconds", "Duration of the last run in seconds.")
	sample("provision_last_run_duration_seconds", "", "", formatFloat(s.Elapsed.Seconds()))
	family("provision_last_run_exit_code", "Exit code of the last run.")
	sample("provision_last_run_exit_code", "", "", itoa(s.ExitCode))
	family("provision_last_run_success", "1 if the last run exited with code 0, else 0.")
	success := "0"
	if s.ExitCode == 0 {
		success = "1"
	}
	sample("provision_last_run_success", "", "", success)
	family("provision_last_run_timestamp_seconds", "Unix time at which the last run finished.")
	end := s.Started.Add(s.Elapsed)
	sample("provision_last_run_timestamp_seconds", "", "", formatFloat(round3(float64(end.Unix())+float64(end.Nanosecond())/1e9)))
	family("provision_rows", "Rows of the last run per status.")
	statuses := s.statuses()
	slices.Sort(statuses)
	for _, status := range statuses {
		sample("provision_rows", "status", string(status), itoa(s.Counts[status]))
	}
	family("provision_rows_changed", "Skipped rows of the last run whose data changed since their profile was created.")
	sample("provision_rows_changed", "", "", itoa(s.Changed))
	family("provision_rows_reconciled", "Rows of the last run whose unknown outcome was resolved by listing.")
	sample("provision_rows_reconciled", "", "", itoa(s.Reconciled))

	return WriteFileAtomic(path, 0o644, func(w io.Writer) error {
		_, err := io.WriteString(w, b.String())
		return err
	})
}

// printable keeps the paragraph on one line: a value with a control
// character (an error type from a server, an odd file name) is quoted.
func printable(v string) string {
	if strings.ContainsFunc(v, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }) {
		return strconv.Quote(v)
	}
	return v
}

// escapeLabel escapes a label value as the exposition format requires.
func escapeLabel(v string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v)
}

// formatFloat writes a sample value without an exponent, which people read
// more easily and every Prometheus parser accepts.
func formatFloat(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// round3 keeps three decimals, enough for seconds and rates, without the
// float noise that would make the JSON file hard to read.
func round3(v float64) float64 {
	return math.Round(v*1000) / 1000
}

// formatElapsed writes a duration as people read it: 12.3s, 4m05s, 1h02m03s.
func formatElapsed(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	d = d.Round(time.Second)
	h, m, sec := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	if h > 0 {
		return fmt.Sprintf("%dh%02dm%02ds", h, m, sec)
	}
	return fmt.Sprintf("%dm%02ds", m, sec)
}

// plural writes n with thousands separators and the noun that agrees with it.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return thousands(n) + " " + many
}

// thousands writes n with a comma between groups of three digits.
func thousands(n int) string {
	s := strconv.Itoa(n)
	sign := ""
	if n < 0 {
		sign, s = "-", s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return sign + b.String()
}
