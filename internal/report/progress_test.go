package report

import (
	"bytes"
	"encoding/json"
	"github.com/provision/provision/internal/profile"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer that a logger and the test may use at once.
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

func addRows(p Progress) {
	var wg sync.WaitGroup
	statuses := map[profile.Status]int{profile.StatusCreated: 7, profile.StatusFailed: 2, profile.StatusInvalid: 3, profile.StatusSkipped: 1}
	for status, n := range statuses {
		for range n {
			wg.Go(func() { p.Add(status) })
		}
	}
	wg.Wait()
}

func TestProgressLog(t *testing.T) {
	var out syncBuffer
	var bar bytes.Buffer
	p := NewProgress(ProgressOptions{
		Out: &bar, Mode: ProgressAuto, IsTerminal: false, Total: -1,
		Interval: 5 * time.Millisecond,
		Logger:   slog.New(slog.NewJSONHandler(&out, nil)),
	})
	addRows(p)

	deadline := time.Now().Add(5 * time.Second)
	var found map[string]any
	for found == nil && time.Now().Before(deadline) {
		for _, line := range strings.Split(out.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) != nil || rec["msg"] != "progress" {
				continue
			}
			if rec["done"] == float64(13) {
				found = rec
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.Close()
	p.Close() // idempotent
	if found == nil {
		t.Fatalf("no progress line with done=13:\n%s", out.String())
	}
	for key, want := range map[string]float64{"created": 7, "failed": 2, "invalid": 3, "skipped": 1, "pending": 0} {
		if found[key] != want {
			t.Errorf("%s = %v, want %v", key, found[key], want)
		}
	}
	if _, ok := found["rows_per_s"].(float64); !ok {
		t.Errorf("rows_per_s missing: %v", found)
	}
	if _, ok := found["total"]; ok {
		t.Errorf("total logged although unknown: %v", found)
	}
	if bar.Len() != 0 {
		t.Errorf("a bar was drawn off a terminal: %q", bar.String())
	}

	// After Close nothing more is logged.
	n := len(out.String())
	time.Sleep(30 * time.Millisecond)
	if len(out.String()) != n {
		t.Error("progress logged after Close")
	}
}

func TestProgressQuietAndNever(t *testing.T) {
	var out syncBuffer
	var bar bytes.Buffer
	p := NewProgress(ProgressOptions{
		Out: &bar, Mode: ProgressNever, IsTerminal: true, Total: 5,
		Interval: time.Millisecond, Logger: slog.New(slog.NewTextHandler(&out, nil)), Quiet: true,
	})
	p.Add(profile.StatusCreated)
	time.Sleep(20 * time.Millisecond)
	p.Close()
	if out.String() != "" || bar.Len() != 0 {
		t.Errorf("quiet, never: got log %q, bar %q", out.String(), bar.String())
	}
}

func TestProgressBar(t *testing.T) {
	tests := []struct {
		name  string
		opts  ProgressOptions
		total int
		want  []string
	}{
		{"terminal, known total", ProgressOptions{Mode: ProgressAuto, IsTerminal: true, Total: 13}, 13,
			[]string{"13/13", "7 created", "1 skipped", "3 invalid", "2 failed"}},
		{"always, stopped short", ProgressOptions{Mode: ProgressAlways, Total: 100}, 100, []string{"13/100", "7 created"}},
		{"unknown total", ProgressOptions{Mode: ProgressAlways, Total: -1}, -1, []string{"13", "2 failed"}},
		{"estimated total", ProgressOptions{Mode: ProgressAlways, Total: -1, Estimate: func() int64 { return 13 }}, 13,
			[]string{"13/13", "7 created"}},
		{"estimate still unknown", ProgressOptions{Mode: ProgressAlways, Total: -1, Estimate: func() int64 { return -1 }}, -1,
			[]string{"13", "2 failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			var log syncBuffer
			tt.opts.Out = &out
			tt.opts.Logger = slog.New(slog.NewTextHandler(&log, nil))
			tt.opts.Interval = time.Millisecond
			p := NewProgress(tt.opts)
			addRows(p)
			p.Close()
			got := out.String()
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("bar output lacks %q:\n%q", w, got)
				}
			}
			if !strings.HasSuffix(got, "\n") {
				t.Errorf("bar output does not end its line: %q", got)
			}
			if log.String() != "" {
				t.Errorf("progress logged while drawing a bar: %q", log.String())
			}
		})
	}
}

// While no row finishes, the progress says what the run waits for, and
// stops saying it once the wait is over.
func TestProgressSaysWhatTheRunWaitsFor(t *testing.T) {
	var out syncBuffer
	p := NewProgress(ProgressOptions{Out: io.Discard, Mode: ProgressNever, Total: 5,
		Interval: time.Millisecond, Logger: slog.New(slog.NewTextHandler(&out, nil))})
	p.Waiting("3 unknown outcomes: looked up at 12:00:00")
	time.Sleep(20 * time.Millisecond)
	p.Waiting("")
	time.Sleep(5 * time.Millisecond) // a line begun before the wait ended is written
	n := len(out.String())
	time.Sleep(20 * time.Millisecond)
	p.Close()
	if !strings.Contains(out.String()[:n], `waiting="3 unknown outcomes: looked up at 12:00:00"`) {
		t.Errorf("no waiting in the log lines: %q", out.String()[:n])
	}
	if strings.Contains(out.String()[n:], "waiting=") {
		t.Errorf("still waiting after the wait: %q", out.String()[n:])
	}
}

// Add counts each status under its own counter, whether a row's status is
// the last row's or not.
func TestProgressAddCountsEachStatus(t *testing.T) {
	p := NewProgress(ProgressOptions{Mode: ProgressNever}).(*progress)
	defer p.Close()
	// In runs of one status, then each status in turn.
	for i, st := range profile.Statuses() {
		for range i {
			p.Add(st)
		}
	}
	for _, st := range profile.Statuses() {
		p.Add(st)
	}
	total := int64(0)
	for i, st := range profile.Statuses() {
		if n := p.counts[st].n.Load(); n != int64(i+1) {
			t.Errorf("%s: %d, want %d", st, n, i+1)
		}
		total += int64(i + 1)
	}
	if n := p.done.Load(); n != total {
		t.Errorf("done %d, want %d", n, total)
	}
}
