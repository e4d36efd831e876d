package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf16"
)

// The command line as a person meets it: every test runs the built binary.

// sentNothing fails if the emulator saw any request.
func sentNothing(t *testing.T, e *emu) {
	t.Helper()
	if s := e.stats(t); s.Requests != 0 {
		t.Fatalf("%d requests were sent", s.Requests)
	}
}

func TestFlagErrorPrintsTheUsageOnce(t *testing.T) {
	e := startEmulator(t)
	w := newWorkdir(t, e)
	input := export(w, "users.csv", 1, 3, 1)
	for _, cmd := range []string{"run", "validate", "adopt", "report"} {
		t.Run(cmd, func(t *testing.T) {
			args := []string{cmd, "--no-such-flag"}
			if cmd == "run" || cmd == "validate" {
				args = append(args, input)
			}
			res := w.run(args...)
			if res.code != exitUsage {
				t.Fatalf("exit %d, want %d\n%s", res.code, exitUsage, res.stderr)
			}
			if n := strings.Count(res.stderr, "Usage: provision "+cmd); n != 1 {
				t.Errorf("the usage is printed %d times, want once:\n%s", n, res.stderr)
			}
			if n := strings.Count(res.stderr, "flag provided but not defined"); n != 1 {
				t.Errorf("the error is printed %d times, want once:\n%s", n, res.stderr)
			}
			if i, j := strings.Index(res.stderr, "not defined"), strings.Index(res.stderr, "Usage:"); i > j {
				t.Errorf("the usage comes before the error:\n%s", res.stderr)
			}
			if res.stdout != "" {
				t.Errorf("a mistake printed on stdout: %q", res.stdout)
			}
		})
	}
	sentNothing(t, e)
}

func TestHelpGoesToStdoutAndExits0(t *testing.T) {
	w := newWorkdir(t, nil)
	for _, args := range [][]string{
		{"-h"}, {"--help"}, {"help"},
		{"run", "-h"}, {"run", "--help"}, {"validate", "-h"}, {"adopt", "--help"}, {"report", "-h"},
		{"run", "users.csv", "--rate", "5", "-h"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			res := w.run(args...)
			if res.code != exitOK {
				t.Fatalf("exit %d, want 0\n%s", res.code, res.stderr)
			}
			if !strings.Contains(res.stdout, "Usage:") || !strings.Contains(res.stdout, "Exit codes:") {
				t.Errorf("stdout lacks the usage and the exit codes:\n%s", res.stdout)
			}
			if res.stderr != "" {
				t.Errorf("help wrote to stderr:\n%s", res.stderr)
			}
		})
	}
}

func TestFlagTypoSuggestsTheFlag(t *testing.T) {
	w := newWorkdir(t, nil)
	input := export(w, "users.csv", 1, 3, 1)
	for _, tc := range []struct {
		args []string
		want string // "" = no suggestion
	}{
		{[]string{"run", input, "--concurency", "4"}, "did you mean --concurrency?"},
		{[]string{"run", input, "--rat", "5"}, "did you mean --rate?"},
		{[]string{"validate", input, "--sumary-json", "s.json"}, "did you mean --summary-json?"},
		{[]string{"validate", input, "--max_attempts", "3"}, "did you mean --max-attempts?"},
		{[]string{"adopt", "--base-ulr", "http://127.0.0.1:1"}, "did you mean --base-url?"},
		{[]string{"report", "--stat", "p.db"}, "did you mean --state?"},
		{[]string{"run", input, "--api-key", "k"}, "did you mean --api-key-file?"},
		{[]string{"run", input, "--zzzzzz"}, ""},
		{[]string{"vaildate", input}, "did you mean validate?"},
	} {
		t.Run(strings.Join(tc.args[:1], " ")+" "+tc.args[len(tc.args)-2], func(t *testing.T) {
			res := w.run(tc.args...)
			if res.code != exitUsage {
				t.Fatalf("exit %d, want %d\n%s", res.code, exitUsage, res.stderr)
			}
			first, _, _ := strings.Cut(res.stderr, "\n")
			if tc.want == "" {
				if strings.Contains(first, "did you mean") {
					t.Errorf("a suggestion for a flag nothing resembles: %s", first)
				}
				return
			}
			if !strings.Contains(first, tc.want) {
				t.Errorf("message %q lacks %q", first, tc.want)
			}
		})
	}
}

// flagNames lists the flags a command's help shows.
func flagNames(t *testing.T, w *workdir, cmd string) []string {
	t.Helper()
	res := w.run(cmd, "-h")
	if res.code != exitOK {
		t.Fatalf("%s -h: exit %d\n%s", cmd, res.code, res.stderr)
	}
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^  --([a-z0-9-]+)`).FindAllStringSubmatch(res.stdout, -1) {
		names = append(names, m[1])
	}
	if len(names) < 10 {
		t.Fatalf("%s -h shows only %v", cmd, names)
	}
	return names
}

// A crontab line is dry-run by changing its verb: validate takes run's
// whole command line, sends nothing and opens no state; run then does the
// work with the very same flags.
func TestValidateTakesRunsCommandLine(t *testing.T) {
	e := startEmulator(t)
	w := newWorkdir(t, e)
	input := export(w, "users.csv", 1, 5, 1)
	w.write("key.txt", "test-key\n")
	if err := os.Mkdir(w.path("out"), 0o700); err != nil {
		t.Fatal(err)
	}
	flags := []string{"--rate", "50", "--base-url", e.URL, "--concurrency", "4", "--max-attempts", "3", "--max-failures", "2",
		"--timeout", "5s", "--grace", "2s", "--clock-margin", "30s", "--settle", "100ms", "--state", "out/p.db",
		"--keep-runs", "3", "--no-adopt", "--remap", "--api-key-file", "key.txt", "--report", "out/report.csv",
		"--summary-json", "out/s.json", "--metrics-file", "out/m.prom", "--log-format", "json", "--progress", "never",
		"--quiet", "--log-interval", "1s", "--format", "csv", "--encoding", "utf-8", "--delimiter", ",",
		"--map", "metadata.tier=metadata.plan"}
	res := w.run(append([]string{"validate", input}, flags...)...)
	if res.code != exitOK {
		t.Fatalf("validate with run's flags: exit %d\n%s", res.code, res.stderr)
	}
	sentNothing(t, e)
	if _, err := os.Stat(w.path("out/p.db")); !os.IsNotExist(err) {
		t.Fatalf("validate opened the state: %v", err)
	}
	if c := countStatus(readCSVReport(t, w.path("out/report.csv"))); c["valid"] != 5 {
		t.Fatalf("validate's report: %v", c)
	}
	res = w.run(append([]string{"run", input}, flags...)...)
	if res.code != exitOK {
		t.Fatalf("run: exit %d\n%s", res.code, res.stderr)
	}
	if n := len(e.profiles(t)); n != 5 {
		t.Fatalf("run created %d profiles, want 5", n)
	}

	// And no flag of run is missing from validate or adopt.
	validate, adopt := flagNames(t, w, "validate"), flagNames(t, w, "adopt")
	for _, name := range flagNames(t, w, "run") {
		if !contains(validate, name) {
			t.Errorf("validate lacks run's --%s", name)
		}
		if !contains(adopt, name) {
			t.Errorf("adopt lacks run's --%s", name)
		}
	}
}

// utf16File encodes text as UTF-16 with a byte-order mark.
func utf16File(text string, bigEndian bool) string {
	var b bytes.Buffer
	put := func(u uint16) {
		if bigEndian {
			b.WriteByte(byte(u >> 8))
			b.WriteByte(byte(u))
		} else {
			b.WriteByte(byte(u))
			b.WriteByte(byte(u >> 8))
		}
	}
	put(0xFEFF)
	for _, u := range utf16.Encode([]rune(text)) {
		put(u)
	}
	return b.String()
}

// Excel's "Unicode text" is tab-separated UTF-16LE with a byte-order mark:
// it is read as is, no --encoding needed; so is big-endian with its mark.
func TestUTF16WithAMarkIsReadAsIs(t *testing.T) {
	e := startEmulator(t)
	w := newWorkdir(t, e)
	text := "external_id\tname\tmetadata.plan\r\nu-1\tZoë Ærø 日本\tpro\r\nu-2\t\"Hopper, Grace\"\tfree\r\n"
	le := w.write("excel.txt", utf16File(text, false))
	res := w.run("run", le, "--report", "r.csv")
	if res.code != exitOK {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	names := map[string]string{}
	for _, p := range e.profiles(t) {
		names[*p.ExternalID] = *p.Name
	}
	if names["u-1"] != "Zoë Ærø 日本" || names["u-2"] != "Hopper, Grace" || len(names) != 2 {
		t.Fatalf("profiles %v", names)
	}
	if p := e.profiles(t)[0]; p.Metadata["plan"] == "" {
		t.Errorf("the tab-separated metadata.plan column was not read: %v", p.Metadata)
	}

	be := w.write("be.csv", utf16File(strings.ReplaceAll(text, "\t", ","), true))
	res = w.run("validate", be, "--report", "v.csv")
	if res.code != exitOK {
		t.Fatalf("big-endian: exit %d\n%s", res.code, res.stderr)
	}
	if rows := readCSVReport(t, w.path("v.csv")); len(rows) != 2 || rows[0]["name"] != "Zoë Ærø 日本" {
		t.Fatalf("big-endian report %v", rows)
	}

	// What is truly ambiguous is still refused, naming --encoding.
	for name, content := range map[string]string{
		"windows-1252.csv": "external_id,name\nu-3,Ren\xe9e\n",
		"no-mark.csv":      utf16File("external_id,name\nu-4,Ada\n", false)[2:],
	} {
		res := w.run("run", w.write(name, content))
		if res.code != exitUsage || !strings.Contains(res.stderr, "--encoding") {
			t.Errorf("%s: exit %d, want %d naming --encoding\n%s", name, res.code, exitUsage, res.stderr)
		}
	}
	if n := len(e.profiles(t)); n != 2 {
		t.Fatalf("the refused files created %d profiles", n-2)
	}
}

// Every output is checked before anything is read or sent: a missing
// report folder found after every row was sent leaves the run unrecorded.
func TestOutputPathsAreCheckedBeforeAnyRequest(t *testing.T) {
	e := startEmulator(t)
	w := newWorkdir(t, e)
	input := export(w, "users.csv", 1, 5, 1)
	if err := os.Mkdir(w.path("adir"), 0o700); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		path string
	}{
		{"report folder missing", []string{"--report", "missing/report.csv"}, "missing/report.csv"},
		{"summary folder missing", []string{"--summary-json", "missing/s.json"}, "missing/s.json"},
		{"metrics folder missing", []string{"--metrics-file", "missing/m.prom"}, "missing/m.prom"},
		{"metrics is a directory", []string{"--metrics-file", "adir"}, "adir"},
		{"state folder missing", []string{"--state", "missing/p.db"}, "missing/p.db"},
	}
	if os.Geteuid() != 0 { // root writes in a read-only directory
		if err := os.Mkdir(w.path("readonly"), 0o500); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, struct {
			name string
			args []string
			path string
		}{"report folder read-only", []string{"--report", "readonly/report.csv"}, "readonly/report.csv"})
	}
	for _, tc := range cases {
		for _, cmd := range []string{"run", "validate"} {
			if cmd == "validate" && strings.HasPrefix(tc.name, "state") {
				continue // validate opens no state
			}
			t.Run(cmd+" "+tc.name, func(t *testing.T) {
				res := w.run(append([]string{cmd, input}, tc.args...)...)
				if res.code != exitUsage {
					t.Fatalf("exit %d, want %d\n%s", res.code, exitUsage, res.stderr)
				}
				if !strings.Contains(res.stderr, tc.path) {
					t.Errorf("the message does not name %s:\n%s", tc.path, res.stderr)
				}
			})
		}
	}
	sentNothing(t, e)
	if _, err := os.Stat(w.path("provision.db")); !os.IsNotExist(err) {
		t.Errorf("a refused run opened the state: %v", err)
	}
}

// A failed nightly export must not look like a night with nothing to do.
func TestEmptyExportIsAUsageError(t *testing.T) {
	e := startEmulator(t)
	w := newWorkdir(t, e)
	for _, tc := range []struct {
		name, file, content string
	}{
		{"empty CSV", "users.csv", ""},
		{"only a byte-order mark", "bom.csv", "\ufeff"},
		{"only blank lines", "blank.csv", "\n\r\n"},
		{"empty JSONL", "users.jsonl", ""},
	} {
		for _, cmd := range []string{"run", "validate"} {
			t.Run(cmd+" "+tc.name, func(t *testing.T) {
				res := w.run(cmd, w.write(tc.file, tc.content), "--report", "r.csv")
				if res.code != exitUsage || !strings.Contains(res.stderr, "the export is empty") {
					t.Fatalf("exit %d, want %d saying the export is empty\n%s", res.code, exitUsage, res.stderr)
				}
				if strings.HasSuffix(tc.file, ".csv") && !strings.Contains(res.stderr, "the export is empty: no header") {
					t.Errorf("the message does not say the header is missing:\n%s", res.stderr)
				}
			})
		}
	}
	t.Run("stdin", func(t *testing.T) {
		cmd := w.command("run", "-", "--report", "r.csv")
		cmd.Stdin = strings.NewReader("")
		var errb bytes.Buffer
		cmd.Stderr = &errb
		err := cmd.Run()
		if code := exitCodeOf(err); code != exitUsage || !strings.Contains(errb.String(), "the export is empty: no header") {
			t.Fatalf("exit %d, want %d\n%s", code, exitUsage, errb.String())
		}
	})
	sentNothing(t, e)
}

func TestDirectoryAsInputIsAUsageError(t *testing.T) {
	e := startEmulator(t)
	w := newWorkdir(t, e)
	for _, name := range []string{"exports", "users.csv"} {
		dir := w.path(name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, cmd := range []string{"run", "validate"} {
			res := w.run(cmd, dir)
			if res.code != exitUsage || !strings.Contains(res.stderr, dir+" is a directory") {
				t.Errorf("%s %s: exit %d, want %d naming the directory\n%s", cmd, name, res.code, exitUsage, res.stderr)
			}
		}
	}
	sentNothing(t, e)
}

func TestAPIKeyFileErrorsNameThePath(t *testing.T) {
	e := startEmulator(t)
	w := newWorkdir(t, e)
	input := export(w, "users.csv", 1, 3, 1)
	empty := w.write("empty.key", "\n")
	if err := os.Mkdir(w.path("keydir"), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{
		"missing":   filepath.Join(w.dir, "secrets", "anthropic.key"),
		"empty":     empty,
		"directory": w.path("keydir"),
	} {
		for _, cmd := range []string{"run", "adopt"} {
			t.Run(cmd+" "+name, func(t *testing.T) {
				args := []string{cmd, "--api-key-file", path}
				if cmd == "run" {
					args = append(args, input)
				}
				res := w.run(args...)
				if res.code != exitUsage || !strings.Contains(res.stderr, "--api-key-file "+path) {
					t.Fatalf("exit %d, want %d naming %s\n%s", res.code, exitUsage, path, res.stderr)
				}
			})
		}
	}
	// validate needs no key: the file is not read.
	if res := w.run("validate", input, "--api-key-file", filepath.Join(w.dir, "nowhere.key")); res.code != exitOK {
		t.Errorf("validate read --api-key-file: exit %d\n%s", res.code, res.stderr)
	}
	sentNothing(t, e)
}

// On a terminal the bar redraws its line in place; a log line must start
// a line of its own, never continue the bar's.
func TestLogLinesDoNotStickToTheBar(t *testing.T) {
	e := startEmulator(t, "--latency", "20ms")
	w := newWorkdir(t, e)
	input := export(w, "users.csv", 1, 60, 1)
	res := w.run("run", input, "--progress", "always", "--concurrency", "2", "--report", "r.csv")
	if res.code != exitOK {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	logs := 0
	for _, line := range strings.Split(res.stderr, "\n") {
		i := strings.Index(line, "time=")
		if i < 0 {
			continue
		}
		logs++
		if before := line[:i]; before != "" && !strings.HasSuffix(before, eraseLine) {
			t.Errorf("a log line continues the bar's line: %q", line)
		}
	}
	if logs == 0 || !strings.Contains(res.stderr, "%") {
		t.Fatalf("no bar or no log lines to check:\n%q", res.stderr)
	}
}

// The first Ctrl-C is acknowledged at once: a drain can take a while, and
// a person who sees nothing presses again.
func TestFirstInterruptIsAcknowledged(t *testing.T) {
	e := startEmulator(t, "--latency", "300ms")
	w := newWorkdir(t, e)
	input := export(w, "users.csv", 1, 100, 1)
	cmd := w.command("run", input, "--concurrency", "2", "--report", "r.csv")
	var errb syncBuffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for e.stats(t).Created < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	const ack = "stopping: finishing requests in flight; press Ctrl-C again to abandon them"
	for !strings.Contains(errb.String(), ack) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	err := cmd.Wait()
	if !strings.Contains(errb.String(), ack) {
		t.Fatalf("no acknowledgement of the first Ctrl-C:\n%s", errb.String())
	}
	if code := exitCodeOf(err); code != exitStopped {
		t.Errorf("exit %d, want %d", code, exitStopped)
	}
}

// syncBuffer is a bytes.Buffer a process writes while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
