package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/provision/provision/internal/client"
	"github.com/provision/provision/internal/job"
	"github.com/provision/provision/internal/profile"
	"github.com/provision/provision/internal/reader"
	"github.com/provision/provision/internal/report"
)

// The flags' defaults, each defined here once: the help text shows them and
// the packages below take what the flags say.
const (
	defaultBaseURL     = "https://api.anthropic.com"
	defaultStatePath   = "provision.db"
	defaultReportPath  = "provision-report.csv"
	defaultLogFormat   = "text"
	defaultProgress    = report.ProgressAuto
	defaultLogInterval = 10 * time.Second
	defaultConcurrency = 8
	defaultMaxAttempts = 5
	defaultTimeout     = 30 * time.Second
	defaultGrace       = 10 * time.Second
	defaultClockMargin = 60 * time.Second
	defaultSettle      = time.Second
	defaultKeepRuns    = 10
	defaultAPI         = "2026-03-24"
	defaultAbsent      = string(job.AbsentIgnore)
	defaultMaxAbsent   = "5%"
	maxConcurrency     = 256
)

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// group is a set of flags by what they configure. Every command that reads
// rows accepts every group, so that a crontab line is dry-run by changing
// its verb; a command's help says which groups it ignores.
type group int

// The flag groups, in the order the help lists them.
const (
	groupInput group = iota
	groupReport
	groupLogging
	groupState
	groupConnection
	groupSync
)

// groups returns every flag group, in order.
func groups() []group {
	return []group{groupInput, groupReport, groupLogging, groupState, groupConnection, groupSync}
}

func (g group) title() string {
	switch g {
	case groupInput:
		return "Input"
	case groupReport:
		return "Report"
	case groupLogging:
		return "Logging"
	case groupState:
		return "State"
	case groupConnection:
		return "Connection"
	case groupSync:
		return "Sync"
	}
	panic(fmt.Sprintf("flag group %d without a title", int(g)))
}

// command describes a command that takes the shared flags.
type command struct {
	name  string
	args  string // the positional arguments, for the usage line
	about string
	uses  []group // the rest are accepted and ignored
}

func commandRun() command {
	return command{name: "run", args: "FILE", about: "Creates a profile for every row of FILE (\"-\" = stdin) not yet provisioned, and writes a report of every row.",
		uses: []group{groupInput, groupReport, groupLogging, groupState, groupConnection}}
}

func commandSync() command {
	return command{name: "sync", args: "FILE", about: "Makes the org match FILE (\"-\" = stdin): creates new users, updates changed ones (only the fields that changed), and handles the managed\n" +
		"profiles FILE no longer names by --absent, within --max-absent. Profiles no export of this state named are never touched.",
		uses: groups()}
}

func commandPlan() command {
	return command{name: "plan", args: "FILE", about: "Writes the report a sync of FILE would (with --create-only, a run), with its totals on stderr, and changes nothing:\n" +
		"no write is sent (the org is only listed) and the state is left as it was.",
		uses: groups()}
}

func commandValidate() command {
	return command{name: "validate", args: "FILE", about: "Reads and checks every row of FILE (\"-\" = stdin) and writes the same report a run would; sends nothing and opens no state.",
		uses: []group{groupInput, groupReport, groupLogging}}
}

func commandAdopt() command {
	return command{name: "adopt", about: "Lists the whole org and records every profile in the state's ledger, so that runs skip the users the org already holds.",
		uses: []group{groupLogging, groupState, groupConnection}}
}

// options are the flags of the commands that read rows (and of adopt),
// filled by parse and checked as a whole by check before anything runs.
type options struct {
	cmd         command
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
	api         string
	wheres      multiFlag
	config      string
	absent      string
	maxAbsent   string
	createOnly  bool
	workspace   string

	// resolved by check
	readerOpts   reader.Options
	absentPolicy job.Absent
	absentLimit  job.Limit
	reportFormat string
	apiKey       string
	keySource    string
}

// flagSet defines every shared flag on a new set and returns the names of
// each group's flags, in the order defined.
func (o *options) flagSet() (*flag.FlagSet, map[group][]string) {
	fs := flag.NewFlagSet(o.cmd.name, flag.ContinueOnError)
	names := map[group][]string{}
	in := func(g group, define func()) {
		before := map[string]bool{}
		fs.VisitAll(func(f *flag.Flag) { before[f.Name] = true })
		define()
		var added []string
		fs.VisitAll(func(f *flag.Flag) {
			if !before[f.Name] {
				added = append(added, f.Name)
			}
		})
		names[g] = added
	}
	in(groupInput, func() {
		fs.StringVar(&o.config, "config", "", "read every flag, and the whole --map, from this TOML or YAML `file`; flags on the command line win")
		fs.StringVar(&o.api, "api", defaultAPI, "the API contract: 2026-03-24 (the first beta, relationship and external_id) or ga (access_type and external_user_details; no beta header)")
		fs.StringVar(&o.format, "format", "", "input format: csv or jsonl (default from the file's extension; csv for stdin)")
		fs.Var(&o.maps, "map", "read a field from elsewhere: FIELD=SOURCE, e.g. external_id=user_id, name={First name} {Last name}, account_status=Status:ACTIVE=active,SUSPENDED=suspended,\n"+
			"    \tonboarded_at=Created|2006-01-02, name_hash=sha256({Name}), name={Name}|{email:local}, metadata.plan=app_metadata.plan (repeatable; see the README)")
		fs.Var(&o.wheres, "where", "keep only the rows where KEY=VALUE, KEY!=VALUE or KEY=A|B (repeatable, all must hold; case ignored): the scope of a sync")
		fs.StringVar(&o.encoding, "encoding", "", "input `encoding`: "+encodingsText()+
			" (default utf-8, or utf-16 when the file starts with its byte-order mark)")
		fs.StringVar(&o.delimiter, "delimiter", "", "CSV delimiter: ',', ';' or 'tab' (default: detected from the header)")
	})
	in(groupReport, func() {
		fs.StringVar(&o.reportPath, "report", defaultReportPath, "where to write the report: .csv or .jsonl")
		fs.StringVar(&o.summaryJSON, "summary-json", "", "also write the summary as JSON to this file")
		fs.StringVar(&o.metricsFile, "metrics-file", "", "also write Prometheus metrics (node_exporter textfile format) to this file")
	})
	in(groupLogging, func() {
		fs.StringVar(&o.logFormat, "log-format", defaultLogFormat, "log format on stderr: text or json")
		fs.StringVar(&o.progress, "progress", defaultProgress, "progress bar: auto (on a terminal), always or never")
		fs.BoolVar(&o.quiet, "quiet", false, "no periodic progress lines (start line, warnings and the summary remain)")
		fs.DurationVar(&o.interval, "log-interval", defaultLogInterval, "period of progress log lines when there is no progress bar")
	})
	in(groupState, func() {
		fs.StringVar(&o.statePath, "state", defaultStatePath, "the state file (SQLite): what was provisioned, and every run's rows")
		fs.IntVar(&o.keepRuns, "keep-runs", defaultKeepRuns, "how many runs keep their rows in the state for the report command; older runs keep only their summary")
		fs.BoolVar(&o.noAdopt, "no-adopt", false, "when the state is new, do not list the org first to adopt the profiles it already holds (for an org known to be empty)")
		fs.BoolVar(&o.remap, "remap", false, "accept a --map for external_id that differs from the last run's (every identity changes: only for a meant change)")
	})
	in(groupSync, func() {
		fs.StringVar(&o.absent, "absent", defaultAbsent, "what a sync does to a managed profile the export no longer names: ignore (report it), suspend (account_status suspended; --api ga) or delete")
		fs.StringVar(&o.maxAbsent, "max-absent", defaultMaxAbsent, "the safeguard: when more managed profiles than this (N, or P% of them) would be suspended or deleted, none is, and the sync exits 1")
		fs.BoolVar(&o.createOnly, "create-only", false, "plan: the report a run would write (creates only), not a sync's")
	})
	in(groupConnection, func() {
		fs.StringVar(&o.baseURL, "base-url", "", "API base URL (default $ANTHROPIC_BASE_URL or "+defaultBaseURL+"); http:// only to loopback")
		fs.StringVar(&o.apiKeyFile, "api-key-file", "", "read the API key from this file (default: $ANTHROPIC_API_KEY)")
		fs.StringVar(&o.workspace, "workspace", "", "the workspace `ID` to send as anthropic-workspace-id (default: none, the key's own); the state is bound to it with the base URL")
		fs.Float64Var(&o.rate, "rate", 0, "requests per second never exceeded (default: find the server's limit)")
		fs.IntVar(&o.concurrency, "concurrency", defaultConcurrency, "requests in flight at once")
		fs.IntVar(&o.maxAttempts, "max-attempts", defaultMaxAttempts, "requests per row for answers that are safe to retry (429, 529, no connection)")
		fs.IntVar(&o.maxFailures, "max-failures", 0, "stop (exit 3) once more than this many rows have failed; 0 = no limit")
		fs.DurationVar(&o.timeout, "timeout", defaultTimeout, "per-request timeout")
		fs.DurationVar(&o.grace, "grace", defaultGrace, "after a first interrupt, how long requests in flight may take to finish")
		fs.DurationVar(&o.clockMargin, "clock-margin", defaultClockMargin, "how far before an unknown attempt to look for its profile, until the server's clock offset is measured")
		fs.DurationVar(&o.settle, "settle", defaultSettle, "how long past --timeout after its send the server may still store a profile: an unknown outcome is looked up only then (for rows a killed run left pending: this run's start + its --timeout, or the killed run's if longer, + --settle)")
	})
	return fs, names
}

// encodingsText names the encodings --encoding takes, as the reader
// defines them: "utf-8, ... or utf-16 (also utf8, ...)".
func encodingsText() string {
	var canonical, aliases []string
	for _, n := range reader.EncodingNames() {
		if c, _ := reader.ParseEncoding(n); c == n {
			canonical = append(canonical, n)
		} else {
			aliases = append(aliases, n)
		}
	}
	last := len(canonical) - 1
	return strings.Join(canonical[:last], ", ") + " or " + canonical[last] + " (also " + strings.Join(aliases, ", ") + ")"
}

// usage is the command's help: what it does, its flags by group (those it
// ignores last), and the exit codes.
func (o *options) usage(fs *flag.FlagSet, names map[group][]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: provision %s [flags]", o.cmd.name)
	if o.cmd.args != "" {
		fmt.Fprintf(&b, " %s", o.cmd.args)
	}
	fmt.Fprintf(&b, "\n\n%s\n", o.cmd.about)
	uses := map[group]bool{}
	for _, g := range o.cmd.uses {
		uses[g] = true
		fmt.Fprintf(&b, "\n%s flags:\n", g.title())
		printFlags(&b, fs, names[g])
	}
	var ignored []group
	for _, g := range groups() {
		if !uses[g] {
			ignored = append(ignored, g)
		}
	}
	if len(ignored) > 0 {
		fmt.Fprintf(&b, "\nAccepted and ignored by %s, so that another command's line runs with only its verb changed\n(their values are checked all the same):\n", o.cmd.name)
		for _, g := range ignored {
			fmt.Fprintf(&b, "\n%s flags:\n", g.title())
			printFlags(&b, fs, names[g])
		}
	}
	fmt.Fprintf(&b, "\n%s", exitCodesText())
	return b.String()
}

// printFlags writes the named flags as flag.PrintDefaults would, with the
// two dashes users type.
func printFlags(w io.Writer, fs *flag.FlagSet, names []string) {
	for _, n := range names {
		f := fs.Lookup(n)
		kind, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(w, "  --%s", f.Name)
		if kind != "" {
			fmt.Fprintf(w, " %s", kind)
		}
		fmt.Fprintf(w, "\n    \t%s", usage)
		switch def := f.DefValue; {
		case def == "" || def == "0" || def == "false":
		case kind == "string":
			fmt.Fprintf(w, " (default %q)", def)
		default:
			fmt.Fprintf(w, " (default %s)", def)
		}
		fmt.Fprintln(w)
	}
}

// parseOptions reads a command's flags and checks them as a whole.
func parseOptions(c command, args []string, ios streams, getenv env) (*options, error) {
	o := &options{cmd: c}
	if err := o.parse(args, ios.out); err != nil {
		return nil, err
	}
	if err := o.check(getenv); err != nil {
		return nil, err
	}
	return o, nil
}

// parse reads the flags; FILE may come before, between or after them.
func (o *options) parse(args []string, stdout io.Writer) error {
	fs, names := o.flagSet()
	files, err := parseFlags(fs, args, func() string { return o.usage(fs, names) }, stdout)
	if err != nil {
		return err
	}
	if o.config != "" {
		onLine := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { onLine[f.Name] = true })
		if err := loadConfig(fs, o.config, onLine); err != nil {
			return err
		}
	}
	if o.cmd.args == "" {
		if len(files) > 0 {
			return usagef("%s takes no FILE, got %q", o.cmd.name, files[0])
		}
		return nil
	}
	if len(files) != 1 {
		return usagef("%s needs exactly one FILE (or - for stdin), got %d", o.cmd.name, len(files))
	}
	o.file = files[0]
	return nil
}

// parseFlags parses args with fs, positional arguments allowed anywhere, and
// returns them. -h prints the usage to stdout (it was asked for) and returns
// flag.ErrHelp; a mistake returns a *usageError carrying the usage, so that
// it is printed once, after the message, and suggests the flag meant.
func parseFlags(fs *flag.FlagSet, args []string, usage func() string, stdout io.Writer) ([]string, error) {
	// The flag package would print the error and the usage itself; the
	// caller prints them once, in order, instead.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var positional []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage())
			return nil, err
		}
		if err != nil {
			return nil, &usageError{err: suggestFlag(err, fs), usage: usage()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// suggestFlag adds "did you mean --X?" to an unknown flag's error when one
// of fs's flags is a likely typo of it.
func suggestFlag(err error, fs *flag.FlagSet) error {
	name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: ")
	if !ok {
		return err
	}
	name = strings.TrimLeft(name, "-")
	var known []string
	fs.VisitAll(func(f *flag.Flag) { known = append(known, f.Name) })
	if best := closest(name, known); best != "" {
		return fmt.Errorf("%w; did you mean --%s?", err, best)
	}
	return err
}

// closest returns the candidate a user most likely meant by typed: the
// nearest by edit distance within a third of its length (at least one
// edit), or else the only candidate typed abbreviates; "" when none is
// likely.
func closest(typed string, candidates []string) string {
	typed = strings.ToLower(typed)
	best, bestDist := "", max(1, len(typed)/3)+1
	for _, c := range candidates {
		if d := editDistance(typed, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best != "" {
		return best
	}
	var prefixed []string
	for _, c := range candidates {
		if len(typed) >= 3 && strings.HasPrefix(c, typed) {
			prefixed = append(prefixed, c)
		}
	}
	if len(prefixed) == 1 {
		return prefixed[0]
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b, in bytes (flag
// names are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// check checks the options as a whole and resolves what they imply, before
// anything is opened or sent. Every command checks every value it was given,
// used or not, so that a dry run refuses what the run would; only the API
// key is left to the commands that send.
func (o *options) check(getenv env) error {
	if err := o.checkInput(); err != nil {
		return err
	}
	var err error
	if o.absentPolicy, err = job.ParseAbsent(o.absent); err != nil {
		return &usageError{err: err}
	}
	if o.absentLimit, err = job.ParseLimit(o.maxAbsent); err != nil {
		return &usageError{err: err}
	}
	if o.absentPolicy == job.AbsentSuspend && !o.readerOpts.Version.Accepts("account_status") {
		return usagef("--absent suspend sets account_status, which only --api ga has; the %s has no such field (use --absent ignore or delete, or --api ga)", o.readerOpts.Version.Contract())
	}
	if o.reportFormat, err = report.FormatFromPath(o.reportPath); err != nil {
		return &usageError{err: fmt.Errorf("--report: %w", err)}
	}
	switch o.logFormat {
	case "text", "json":
	default:
		return usagef("--log-format %q: use text or json", o.logFormat)
	}
	switch o.progress {
	case report.ProgressAuto, report.ProgressAlways, report.ProgressNever:
	default:
		return usagef("--progress %q: use auto, always or never", o.progress)
	}
	switch {
	case o.rate < 0:
		return usagef("--rate must not be negative")
	case o.concurrency < 1 || o.concurrency > maxConcurrency:
		return usagef("--concurrency must be between 1 and %d", maxConcurrency)
	case o.maxAttempts < 1:
		return usagef("--max-attempts must be at least 1")
	case o.maxFailures < 0:
		return usagef("--max-failures must not be negative")
	case o.timeout <= 0:
		return usagef("--timeout must be positive")
	case o.grace < 0:
		return usagef("--grace must not be negative")
	case o.clockMargin < 0:
		return usagef("--clock-margin must not be negative")
	case o.settle < 0:
		return usagef("--settle must not be negative")
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
		return &usageError{err: err}
	}
	if !o.uses(groupConnection) {
		return nil
	}
	return o.readAPIKey(getenv)
}

// uses reports whether the command uses the flags of g.
func (o *options) uses(g group) bool {
	for _, u := range o.cmd.uses {
		if u == g {
			return true
		}
	}
	return false
}

// checkInput resolves how the export is read.
func (o *options) checkInput() error {
	if o.file != "" && o.file != "-" {
		// Before the format, which a directory's name would not tell.
		if fi, err := os.Stat(o.file); err == nil && fi.IsDir() {
			return usagef("%s is a directory; give the export file", o.file)
		}
	}
	var err error
	if o.readerOpts.Version, err = profile.ParseVersion(o.api); err != nil {
		return &usageError{err: fmt.Errorf("--api: %w", err)}
	}
	if o.readerOpts.Where, err = reader.ParseWhere(o.wheres); err != nil {
		return &usageError{err: err}
	}
	switch {
	case o.format != "":
		o.readerOpts.Format, err = reader.ParseFormat(o.format)
	case o.file == "" || o.file == "-":
		o.readerOpts.Format = reader.FormatCSV
	default:
		o.readerOpts.Format, err = reader.FormatFromPath(o.file)
	}
	if err != nil {
		return &usageError{err: err}
	}
	if o.readerOpts.Mapping, err = reader.ParseMapping(o.maps); err != nil {
		return &usageError{err: err}
	}
	if o.readerOpts.Encoding, err = reader.ParseEncoding(o.encoding); err != nil {
		return &usageError{err: fmt.Errorf("--encoding: %w", err)}
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
	return nil
}

// readAPIKey finds the API key: in --api-key-file, else in the
// environment. Messages name the file, never the key.
func (o *options) readAPIKey(getenv env) error {
	if o.apiKeyFile != "" {
		b, err := os.ReadFile(o.apiKeyFile)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err // the path is named once, below
			}
			return usagef("--api-key-file %s: %v", o.apiKeyFile, err)
		}
		o.apiKey, o.keySource = strings.TrimSpace(string(b)), "the key in --api-key-file "+o.apiKeyFile
		if o.apiKey == "" {
			return usagef("--api-key-file %s is empty; it must hold the API key", o.apiKeyFile)
		}
		return nil
	}
	o.apiKey, o.keySource = strings.TrimSpace(getenv("ANTHROPIC_API_KEY")), "the key in ANTHROPIC_API_KEY"
	if o.apiKey == "" {
		return usagef("no API key: set ANTHROPIC_API_KEY or pass --api-key-file FILE (a key is never accepted as a flag value)")
	}
	return nil
}
