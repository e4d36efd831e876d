package emulator

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"time"
)

// DefaultAddr is where `provision emulator` listens without --addr.
const DefaultAddr = "127.0.0.1:8787"

// shutdownTimeout bounds the graceful part of shutdown; requests still held
// after it (a slow fault, say) are cut off.
const shutdownTimeout = 2 * time.Second

// UsageError reports a bad command line: nothing was started, and the caller
// exits with the usage status. For -h it wraps flag.ErrHelp.
type UsageError struct{ Err error }

// Error returns the underlying error's message.
func (e *UsageError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *UsageError) Unwrap() error { return e.Err }

func usageErrorf(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// Main runs `provision emulator`: it parses args (without the subcommand
// name), listens, prints "listening on http://HOST:PORT" as the first line
// on stdout, and serves until ctx is cancelled, then shuts down gracefully.
// Status goes to stderr. A bad command line returns a *UsageError.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	srv, err := New(cfg)
	if err != nil {
		return &UsageError{Err: err}
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	if _, err := fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr()); err != nil {
		_ = ln.Close()
		return err
	}
	cfg = srv.Config()
	fmt.Fprintf(stderr, "emulator: seed %d (pass --seed %d to replay the same faults); %s; latency %v; faults %s; slow delay %v; clock offset %v; api key %s\n",
		cfg.Seed, cfg.Seed, describeRate(cfg), cfg.Latency, cfg.Faults, cfg.SlowDelay, cfg.ClockOffset, describeKey(cfg))

	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(stderr, "emulator: ", 0),
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		_ = hs.Close()
	}
	<-served // http.ErrServerClosed, expected
	st := srv.Stats()
	fmt.Fprintf(stderr, "emulator: stopped after %d requests: %d profiles created, %d updated, %d deleted, %d rate limited\n",
		st.Requests, st.Created, st.Updated, st.Deleted, st.RateLimited)
	return nil
}

func parseFlags(args []string, stderr io.Writer) (Config, error) {
	var cfg Config
	fs := flag.NewFlagSet("provision emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Addr, "addr", DefaultAddr, "`HOST:PORT` to listen on; port 0 picks a free port")
	fs.Float64Var(&cfg.Rate, "rate", 0, "token bucket refill in requests per second, `N`; 0 is unlimited")
	fs.IntVar(&cfg.Burst, "burst", 0, "token bucket capacity, `N` requests (default 10 when --rate is set)")
	fs.DurationVar(&cfg.Latency, "latency", 0, "`DURATION` added before answering every API request, e.g. 50ms")
	fs.StringVar(&cfg.APIKey, "api-key", "", "the only API `KEY` accepted; others get 401 (default: any key)")
	fs.Int64Var(&cfg.Seed, "seed", 0, "`N` seeding the fault draws, to replay a run (default: from the clock, printed)")
	faults := fs.String("faults", "", "fault `SPEC`: comma list of KIND=PROBABILITY, KIND one of 500, 529, reset, lost, slow, late")
	fs.DurationVar(&cfg.SlowDelay, "slow-delay", DefaultSlowDelay, "how long a slow fault holds its answer, and a late one its write, `DURATION`")
	fs.DurationVar(&cfg.ClockOffset, "clock-offset", 0, "shift the server's clock (Date header, created_at, updated_at) by `DURATION`, e.g. -5m")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: provision emulator [flags]

Serve a local, in-memory User Profiles API (create, retrieve, list, update
and delete) for demos and tests, under every contract the anthropic-beta header
selects: user-profiles-2026-03-24, user-profiles-2026-08-18,
user-profiles-2026-09-04, or none for GA. The first line on stdout is
"listening on http://HOST:PORT". GET /_emulator/stats and /_emulator/profiles
show what happened. Stop it with Ctrl-C.

Faults apply to creates, updates and deletes that pass validation.

Example:
  provision emulator --addr 127.0.0.1:0 --rate 20 --burst 40 --seed 7 \
      --faults 500=0.02,reset=0.01,lost=0.01,slow=0.01 --slow-delay 5s \
      --clock-offset -5m

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, &UsageError{Err: err}
	}
	if fs.NArg() > 0 {
		return cfg, usageErrorf("unexpected argument %q; the emulator takes only flags", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["burst"] && cfg.Rate == 0 {
		return cfg, usageErrorf("--burst needs --rate: without a rate there is no bucket")
	}
	if set["slow-delay"] && cfg.SlowDelay <= 0 {
		return cfg, usageErrorf("--slow-delay %v: must be more than 0", cfg.SlowDelay)
	}
	if !set["seed"] {
		cfg.Seed = time.Now().UnixNano()
	}
	f, err := ParseFaults(*faults)
	if err != nil {
		return cfg, &UsageError{Err: err}
	}
	cfg.Faults = f
	return cfg, nil
}

func describeRate(cfg Config) string {
	if cfg.Rate == 0 {
		return "no rate limit"
	}
	return "rate " + strconv.FormatFloat(cfg.Rate, 'g', -1, 64) + "/s burst " + strconv.Itoa(cfg.Burst)
}

func describeKey(cfg Config) string {
	if cfg.APIKey == "" {
		return "any"
	}
	return "required"
}

// IsUsage reports whether err is (or wraps) a *UsageError.
func IsUsage(err error) bool {
	var u *UsageError
	return errors.As(err, &u)
}
