package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/provision/provision/internal/client"
	"github.com/provision/provision/internal/governor"
	"github.com/provision/provision/internal/job"
	"github.com/provision/provision/internal/profile"
	"github.com/provision/provision/internal/reader"
	"github.com/provision/provision/internal/report"
)

const defaultBaseURL = "https://api.anthropic.com"

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// runOptions are the flags of run and validate, checked once by validate().
type runOptions struct {
	command     string
	file        string
	format      string
	maps        multiFlag
	encoding    string
	delimiter   string
	statePath   string
	reportPath  string
	rate        float64
	concurrency int
	maxAttempts int
	maxFailures int
	timeout     time.Duration
	grace       time.Duration
	baseURL     string
	apiKeyFile  string
	summaryJSON string
	metricsFile string
	logFormat   string
	progress    string
	quiet       bool
	interval    time.Duration
	clockMargin time.Duration
	settle      time.Duration
	noAdopt     bool
	remap       bool
	keepRuns    int

	// resolved by validate()
	readerOpts   reader.Options
	reportFormat string
	apiKey       string
	keySource    string
}

func (o *runOptions) flags(stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(o.command, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.format, "format", "", "input format: csv or jsonl (default from the file's extension; csv for stdin)")
	fs.Var(&o.maps, "map", "read a field from a differently named column: FIELD=COLUMN, FIELD is external_id, name, relationship, metadata or metadata.KEY (repeatable)")
	fs.StringVar(&o.encoding, "encoding", "", "input encoding: utf-8 (default), windows-1252, latin1 or utf-16")
	fs.StringVar(&o.delimiter, "delimiter", "", "CSV delimiter: ',', ';' or 'tab' (default: detected from the header)")
	fs.StringVar(&o.statePath, "state", "provision.db", "the state file (SQLite): what was provisioned, and every run's rows")
	fs.StringVar(&o.reportPath, "report", "provision-report.csv", "where to write the report: .csv or .jsonl")
	fs.StringVar(&o.summaryJSON, "summary-json", "", "also write the summary as JSON to this file")
	fs.StringVar(&o.metricsFile, "metrics-file", "", "also write Prometheus metrics (node_exporter textfile format) to this file")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format on stderr: text or json")
	fs.StringVar(&o.progress, "progress", "auto", "progress bar: auto (on a terminal), always or never")
	fs.BoolVar(&o.quiet, "quiet", false, "no periodic progress lines (start line, warnings and the summary remain)")
	fs.DurationVar(&o.interval, "log-interval", 10*time.Second, "period of progress log lines when there is no progress bar")
	if o.command != "validate" {
		fs.Float64Var(&o.rate, "rate", 0, "requests per second never exceeded (default: find the server's limit)")
		fs.IntVar(&o.concurrency, "concurrency", 8, "requests in flight at once")
		fs.IntVar(&o.maxAttempts, "max-attempts", 5, "requests per row for answers that are safe to retry (429, 529, no connection)")
		fs.IntVar(&o.maxFailures, "max-failures", 0, "stop (exit 3) once more than this many rows have failed; 0 = no limit")
		fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "per-request timeout")
		fs.DurationVar(&o.grace, "grace", 10*time.Second, "after a first interrupt, how long requests in flight may take to finish")
		fs.StringVar(&o.baseURL, "base-url", "", "API base URL (default $ANTHROPIC_BASE_URL or "+defaultBaseURL+"); http:// only to loopback")
		fs.StringVar(&o.apiKeyFile, "api-key-file", "", "read the API key from this file (default: $ANTHROPIC_API_KEY)")
		fs.DurationVar(&o.clockMargin, "clock-margin", 60*time.Second, "how far before an unknown attempt to look for its profile, until the server's clock offset is measured")
		fs.BoolVar(&o.noAdopt, "no-adopt", false, "when the state is new, do not list the org first to adopt the profiles it already holds (for an org known to be empty)")
		fs.BoolVar(&o.remap, "remap", false, "accept a --map for external_id that differs from the last run's (every identity changes: only for a meant change)")
		fs.IntVar(&o.keepRuns, "keep-runs", 10, "how many runs keep their rows in the state for the report command; older runs keep only their summary")
		fs.DurationVar(&o.settle, "settle", time.Second, "how long past --timeout after its send the server may still store a profile: an unknown outcome is looked up only then (for rows a killed run left pending: this run's start + its --timeout, or the killed run's if longer, + --settle)")
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: provision %s [flags] FILE\n\nFlags:\n", o.command)
		fs.PrintDefaults()
	}
	return fs
}

// parse reads the flags; FILE may come before or after them.
func (o *runOptions) parse(args []string, stderr io.Writer) error {
	fs := o.flags(stderr)
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return &usageError{err}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		files = append(files, args[0])
		args = args[1:]
	}
	if o.command == "adopt" {
		if len(files) > 0 {
			return usagef("adopt reads no FILE; it lists the org")
		}
		return nil
	}
	if len(files) != 1 {
		return usagef("%s needs exactly one FILE (or - for stdin), got %d", o.command, len(files))
	}
	o.file = files[0]
	return nil
}

// validate checks the options as a whole and resolves defaults, before
// anything is opened or sent.
func (o *runOptions) validate(getenv env) error {
	var err error
	switch {
	case o.command == "adopt":
	case o.format != "":
		o.readerOpts.Format, err = reader.ParseFormat(o.format)
	case o.file == "-":
		o.readerOpts.Format = reader.FormatCSV
	default:
		o.readerOpts.Format, err = reader.FormatFromPath(o.file)
	}
	if err != nil {
		return &usageError{err}
	}
	if o.readerOpts.Mapping, err = reader.ParseMapping(o.maps); err != nil {
		return &usageError{err}
	}
	switch strings.ToLower(o.encoding) {
	case "", "utf-8", "utf8", "windows-1252", "cp1252", "latin1", "iso-8859-1", "utf-16", "utf16":
		o.readerOpts.Encoding = strings.ToLower(o.encoding)
	default:
		return usagef("--encoding %q: use utf-8, windows-1252, latin1 or utf-16", o.encoding)
	}
	switch o.delimiter {
	case "":
	case ",", ";":
		o.readerOpts.Delimiter = rune(o.delimiter[0])
	case "tab", "\\t", "\t":
		o.readerOpts.Delimiter = '\t'
	default:
		return usagef("--delimiter %q: use ',', ';' or tab", o.delimiter)
	}
	if o.reportFormat, err = report.FormatFromPath(o.reportPath); err != nil {
		return &usageError{fmt.Errorf("--report: %w", err)}
	}
	switch o.logFormat {
	case "text", "json":
	default:
		return usagef("--log-format %q: use text or json", o.logFormat)
	}
	switch o.progress {
	case "auto", "always", "never":
	default:
		return usagef("--progress %q: use auto, always or never", o.progress)
	}
	if o.command == "validate" {
		return nil
	}
	switch {
	case o.rate < 0:
		return usagef("--rate must not be negative")
	case o.concurrency < 1 || o.concurrency > 256:
		return usagef("--concurrency must be between 1 and 256")
	case o.maxAttempts < 1:
		return usagef("--max-attempts must be at least 1")
	case o.maxFailures < 0:
		return usagef("--max-failures must not be negative")
	case o.timeout <= 0:
		return usagef("--timeout must be positive")
	case o.keepRuns < 1:
		return usagef("--keep-runs must be at least 1")
	}
	if o.baseURL == "" {
		o.baseURL = getenv("ANTHROPIC_BASE_URL")
	}
	if o.baseURL == "" {
		o.baseURL = defaultBaseURL
	}
	if err := client.CheckBaseURL(o.baseURL); err != nil {
		return &usageError{err}
	}
	if o.apiKeyFile != "" {
		b, err := os.ReadFile(o.apiKeyFile)
		if err != nil {
			return usagef("--api-key-file: %v", errors.Unwrap(err))
		}
		o.apiKey, o.keySource = strings.TrimSpace(string(b)), "the key in --api-key-file "+o.apiKeyFile
	} else {
		o.apiKey, o.keySource = strings.TrimSpace(getenv("ANTHROPIC_API_KEY")), "the key in ANTHROPIC_API_KEY"
	}
	if o.apiKey == "" {
		return usagef("no API key: set ANTHROPIC_API_KEY or pass --api-key-file FILE (a key is never accepted as a flag value)")
	}
	return nil
}

func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func runCommand(stop, send context.Context, command string, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv env) (int, error) {
	o := &runOptions{command: command}
	if err := o.parse(args, stderr); err != nil {
		return exitUsage, err
	}
	if err := o.validate(getenv); err != nil {
		return exitUsage, err
	}
	log := newLogger(o.logFormat, stderr)
	in := stdin
	size := int64(-1) // of a regular file, for the progress bar's estimated total
	if o.file != "-" {
		f, err := os.Open(o.file)
		if err != nil {
			return exitUsage, usagef("%v", err)
		}
		defer f.Close()
		in = f
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
	}
	rd, err := reader.Open(in, o.readerOpts)
	if err != nil {
		return exitUsage, err
	}
	if unused := rd.Unused(); len(unused) > 0 {
		log.Info("columns no field uses are carried into the report and otherwise ignored", "columns", strings.Join(unused, ","))
	}
	prog := report.NewProgress(report.ProgressOptions{Out: stderr, Mode: o.progress, IsTerminal: isTerminal(stderr),
		Total: -1, Estimate: func() int64 {
			rows, bytes := rd.Position()
			return report.EstimateTotal(rows, bytes, size)
		}, Interval: o.interval, Logger: log, Quiet: o.quiet})
	started := time.Now()
	sum := report.Summary{Command: command, Started: started, ReportPath: o.reportPath}

	if command == "validate" {
		counts, errTypes, err := validateTo(stop, rd, o, prog)
		prog.Close()
		if err != nil {
			return exitStopped, err
		}
		sum.Counts, sum.ErrorTypes = counts, errTypes
		return finish(o, log, stdout, sum, "", false)
	}

	st, unlock, err := openState(o.statePath)
	if err != nil {
		return exitUsage, err
	}
	defer unlock()
	defer st.Close()
	api, err := client.New(client.Config{BaseURL: o.baseURL, APIKey: o.apiKey, Timeout: o.timeout, Concurrency: o.concurrency, UserAgent: "provision/" + version})
	if err != nil {
		return exitUsage, &usageError{err}
	}
	gov := governor.New(governor.Config{Ceiling: o.rate})
	log.Info("run started", "input", o.file, "state", o.statePath, "report", o.reportPath, "base_url", o.baseURL,
		"concurrency", o.concurrency, "rate", rateText(o.rate))
	// After a first interrupt, requests on the wire get the grace period.
	sendCtx, cancelSend := context.WithCancel(send)
	defer cancelSend()
	go func() {
		select {
		case <-stop.Done():
		case <-sendCtx.Done():
			return
		}
		select {
		case <-time.After(o.grace):
		case <-sendCtx.Done():
		}
		cancelSend()
	}()
	res, runErr := job.Run(stop, sendCtx, job.Config{Target: targetOf(o.baseURL), Mapping: identityMapping(o.maps), Remap: o.remap, NoAdopt: o.noAdopt,
		Contract: "2026-03-24", Input: rd, InputName: inputName(o.file), Store: st, API: api, Pacer: gov,
		Concurrency: o.concurrency, MaxAttempts: o.maxAttempts, MaxFailures: o.maxFailures,
		Settle: o.settle, Timeout: o.timeout, ClockMargin: o.clockMargin, Progress: prog, Logger: log})
	prog.Close()
	if res.Run.ID == 0 {
		return exitStopped, runErr
	}
	for _, d := range res.Duplicates {
		sum.Duplicates = append(sum.Duplicates, report.Duplicate{Identity: d.Identity, Kept: d.Kept, Other: d.Other})
	}
	sum.Adopted = res.Adopted
	stopped := res.Stopped
	if runErr != nil && stopped == "" {
		stopped = runErr.Error()
	}
	if res.Fatal {
		stopped = fmt.Sprintf("%s; check %s", stopped, o.keySource)
	}
	if err := renderReport(stop, st, res.Run, o.reportPath, o.reportFormat, stdout); err != nil {
		return exitStopped, err
	}
	counts, errTypes, err := st.Counts(context.Background(), res.Run.ID)
	if err != nil {
		return exitStopped, err
	}
	sum.Counts, sum.ErrorTypes, sum.Reconciled = counts, errTypes, res.Reconciled
	sum.Changed = errTypes[profile.ErrorProfileChanged]
	code, err := finish(o, log, stdout, sum, stopped, runErr != nil)
	if stopped == "" {
		summary, _ := sumJSON(sum, code)
		if ferr := st.FinishRun(res.Run.ID, res.Rows, code, summary, o.keepRuns); ferr != nil && err == nil {
			return exitStopped, ferr
		}
	}
	return code, err
}

// targetOf names the org a base URL reaches, as the state is bound to it:
// scheme and host in lower case, no trailing slash.
func targetOf(baseURL string) string {
	u, err := url.Parse(baseURL)
	if err != nil {
		return baseURL
	}
	u.Scheme, u.Host = strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}

// identityMapping says where rows take their identity from: the column
// mapped to external_id (or reference_id), else the canonical column.
func identityMapping(maps []string) string {
	from := "external_id"
	for _, m := range maps {
		field, col, ok := strings.Cut(m, "=")
		if ok && (strings.TrimSpace(field) == "external_id" || strings.TrimSpace(field) == "reference_id") {
			from = strings.TrimSpace(col)
		}
	}
	return "column " + strconv.Quote(from)
}
