package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gocarina/gocsv"

	"github.com/provision/provision/internal/profile"
)

// binary is the provision binary built once for the end-to-end tests: they
// drive the real program, over loopback HTTP, against the real emulator.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "provision-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "provision")
	build := exec.Command("go", "build", "-race", "-o", binary, ".")
	if os.Getenv("PROVISION_E2E_NORACE") != "" {
		build = exec.Command("go", "build", "-o", binary, ".")
	}
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building provision:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// emu is a running `provision emulator`.
type emu struct {
	URL string
	cmd *exec.Cmd
}

type emuStats struct {
	Requests    int64            `json:"requests"`
	Created     int64            `json:"created"`
	RateLimited int64            `json:"rate_limited"`
	Faults      map[string]int64 `json:"faults"`
	Profiles    int              `json:"profiles"`
}

func startEmulator(t testing.TB, args ...string) *emu {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"emulator", "--addr", "127.0.0.1:0"}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("emulator did not start: %v; stderr: %s", err, stderr.String())
	}
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok {
		t.Fatalf("emulator's first line is %q", line)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return &emu{URL: url, cmd: cmd}
}

func (e *emu) getJSON(t testing.TB, path string, v any) {
	t.Helper()
	res, err := http.Get(e.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func (e *emu) stats(t testing.TB) emuStats {
	var s emuStats
	e.getJSON(t, "/_emulator/stats", &s)
	return s
}

func (e *emu) profiles(t testing.TB) []profile.Profile {
	var p []profile.Profile
	e.getJSON(t, "/_emulator/profiles", &p)
	return p
}

// result is one finished provision process.
type result struct {
	code           exitCode
	stdout, stderr string
}

// workdir is a test's directory: state, reports and inputs live there.
type workdir struct {
	t   testing.TB
	dir string
	env []string
}

func newWorkdir(t testing.TB, e *emu) *workdir {
	w := &workdir{t: t, dir: t.TempDir()}
	w.env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + w.dir, "ANTHROPIC_API_KEY=test-key"}
	if e != nil {
		w.env = append(w.env, "ANTHROPIC_BASE_URL="+e.URL)
	}
	return w
}

func (w *workdir) path(name string) string { return filepath.Join(w.dir, name) }

func (w *workdir) write(name, content string) string {
	w.t.Helper()
	p := w.path(name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		w.t.Fatal(err)
	}
	return p
}

func (w *workdir) command(args ...string) *exec.Cmd {
	cmd := exec.Command(binary, args...)
	cmd.Dir = w.dir
	cmd.Env = w.env
	return cmd
}

func (w *workdir) run(args ...string) result {
	w.t.Helper()
	cmd := w.command(args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := exitOK
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = exitCode(ee.ExitCode())
	} else if err != nil {
		w.t.Fatal(err)
	}
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// readCSVReport reads a CSV report into one map per row.
func readCSVReport(t testing.TB, path string) []map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 {
		t.Fatalf("%s: empty report", path)
	}
	rows, err := gocsv.CSVToMaps(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return rows
}
