package emulator_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/provision/provision/internal/emulator"
)

// lockedBuffer is a bytes.Buffer safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestMainServesAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdoutR, stdoutW := io.Pipe()
	var stderr lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- emulator.Main(ctx, []string{"--addr", "127.0.0.1:0", "--seed", "5", "--api-key", "k", "--rate", "100", "--clock-offset", "-1h"}, stdoutW, &stderr)
		stdoutW.Close()
	}()
	line, err := bufio.NewReader(stdoutR).ReadString('\n')
	if err != nil {
		t.Fatalf("first line: %v (stderr %s)", err, stderr.String())
	}
	go io.Copy(io.Discard, stdoutR)
	url, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "listening on ")
	if !ok || !strings.HasPrefix(url, "http://127.0.0.1:") || strings.HasSuffix(url, ":0") {
		t.Fatalf("first line %q, want listening on http://127.0.0.1:PORT", line)
	}

	client := anthropic.NewClient(option.WithBaseURL(url), option.WithAPIKey("k"), option.WithMaxRetries(0))
	var p wireProfile
	if err := client.Post(ctx, "v1/user_profiles", createReq{Name: str("via main")}, &p, beta()); err != nil {
		t.Fatal(err)
	}
	res, err := http.Get(url + "/_emulator/stats")
	if err != nil {
		t.Fatal(err)
	}
	var st emulator.Stats
	err = json.NewDecoder(res.Body).Decode(&st)
	res.Body.Close()
	if err != nil || st.Created != 1 {
		t.Errorf("stats %+v, %v", st, err)
	}
	if d, err := http.ParseTime(res.Header.Get("Date")); err != nil || d.Sub(time.Now().Add(-time.Hour)).Abs() > 3*time.Second {
		t.Errorf("Date %q (%v), want an hour behind", res.Header.Get("Date"), err)
	}
	if p.CreatedAt.Sub(time.Now().Add(-time.Hour)).Abs() > 3*time.Second {
		t.Errorf("created_at %v, want an hour behind", p.CreatedAt)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Main returned %v after cancel", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Main did not return after its context was cancelled")
	}
	if _, err := http.Get(url + "/_emulator/stats"); err == nil {
		t.Error("still serving after shutdown")
	}
	if s := stderr.String(); !strings.Contains(s, "seed 5") || !strings.Contains(s, "rate 100/s burst 10") || !strings.Contains(s, "clock offset -1h0m0s") {
		t.Errorf("stderr %q does not report the seed and the default burst", s)
	}
}

func TestMainUsageErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--rate", "-1"}, "rate -1"},
		{[]string{"--burst", "5"}, "--burst needs --rate"},
		{[]string{"--latency", "-1s"}, "latency"},
		{[]string{"--slow-delay", "0"}, "--slow-delay"},
		{[]string{"--faults", "500=2"}, "between 0 and 1"},
		{[]string{"--faults", "boom=0.1"}, "unknown kind"},
		{[]string{"--faults", "500=0.6,529=0.6"}, "add up"},
		{[]string{"--nope"}, "flag provided but not defined"},
		{[]string{"--clock-offset", "soon"}, "clock-offset"},
		{[]string{"serve"}, `unexpected argument "serve"`},
		{[]string{"-h"}, flag.ErrHelp.Error()},
	} {
		var stderr lockedBuffer
		err := emulator.Main(context.Background(), tt.args, io.Discard, &stderr)
		var ue *emulator.UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want a UsageError containing %q", tt.args, err, tt.want)
		}
		if tt.args[0] == "-h" && (!errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr.String(), "Example:")) {
			t.Errorf("-h: %v, help %q", err, stderr.String())
		}
	}
	// A port that cannot be bound is not a usage error.
	err := emulator.Main(context.Background(), []string{"--addr", "256.0.0.1:0"}, io.Discard, io.Discard)
	if err == nil || emulator.IsUsage(err) {
		t.Errorf("bad listen address: %v, want a non-usage error", err)
	}
}
