package report

import (
	"fmt"
	"github.com/provision/provision/internal/profile"
	"io"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Progress modes, as accepted by --progress.
const (
	ProgressAuto   = "auto"   // a bar when Out is a terminal, log lines otherwise
	ProgressAlways = "always" // a bar whatever Out is
	ProgressNever  = "never"  // log lines only
)

// barInterval throttles the bar: often enough to look live, rarely enough
// that drawing costs nothing next to the requests.
const barInterval = 200 * time.Millisecond

// Progress shows a run's progress while it works.
type Progress interface {
	// Add counts one finished row with its status; safe for concurrent use.
	Add(status profile.Status)
	// Waiting says what the run waits for while no row finishes (""
	// once it no longer waits), so a bar at 99% says why; safe for
	// concurrent use.
	Waiting(what string)
	// Close stops the updates and finishes the bar; it is safe to call twice.
	Close()
}

// ProgressOptions configures NewProgress.
type ProgressOptions struct {
	Out        io.Writer // where the bar is drawn, normally stderr; nil draws no bar
	Mode       string    // ProgressAuto (also ""), ProgressAlways or ProgressNever
	IsTerminal bool      // whether Out is a terminal, for ProgressAuto
	Total      int       // rows expected, or -1 when unknown (stdin)
	// Estimate, if set, is asked on every update for the rows expected, -1
	// when unknown; it replaces Total, so the bar gains a total and an ETA
	// as the input is read (see EstimateTotal).
	Estimate func() int64
	Interval time.Duration // period of the log line when there is no bar; 0 means no periodic line
	Logger   *slog.Logger  // receives the log lines; nil logs nothing
	Quiet    bool          // no log lines
}

// NewProgress starts showing progress: a bar on a terminal, otherwise a
// "progress" log line every Interval, otherwise nothing.
func NewProgress(opts ProgressOptions) Progress {
	p := &progress{start: time.Now(), total: opts.Total, estimate: opts.Estimate, counts: newCounts()}
	useBar := opts.Out != nil &&
		(opts.Mode == ProgressAlways || (opts.Mode == ProgressAuto || opts.Mode == "") && opts.IsTerminal)
	switch {
	case useBar:
		p.bar = newBar(opts.Out, opts.Total)
		p.run(barInterval, func() {
			p.refreshTotal()
			p.drawBar()
		})
	case opts.Logger != nil && !opts.Quiet && opts.Interval > 0:
		interval := opts.Interval
		logger := opts.Logger
		p.run(interval, func() {
			p.refreshTotal()
			p.logLine(logger)
		})
	}
	return p
}

// newCounts makes a counter for every status, so Add never meets one it
// does not know.
func newCounts() map[profile.Status]*statusCount {
	m := make(map[profile.Status]*statusCount, len(profile.Statuses()))
	for _, st := range profile.Statuses() {
		m[st] = &statusCount{status: st}
	}
	return m
}

// progress counts rows with atomics so that Add, called by every worker,
// never waits for drawing or logging, which one goroutine does on a ticker.
type progress struct {
	done    atomic.Int64
	counts  map[profile.Status]*statusCount // one per status, made at the start
	waiting atomic.Pointer[string]          // what the run waits for, if anything

	// last is the counter Add counted last: rows come in runs of one
	// status, and comparing a status with the last costs less than
	// hashing it.
	last atomic.Pointer[statusCount]

	start    time.Time
	total    int // read and written by the updating goroutine, then by Close
	estimate func() int64
	bar      *progressbar.ProgressBar

	stop     chan struct{}
	stopped  chan struct{}
	once     sync.Once
	lastDesc string
	lastDone int64
}

// Add implements Progress.
func (p *progress) Add(status profile.Status) {
	c := p.last.Load()
	if c == nil || c.status != status {
		c = p.counts[status] // every status has a counter: see newCounts
		p.last.Store(c)
	}
	c.n.Add(1)
	p.done.Add(1)
}

// statusCount is a status and its counter.
type statusCount struct {
	status profile.Status
	n      atomic.Int64
}

// Waiting implements Progress.
func (p *progress) Waiting(what string) {
	if what == "" {
		p.waiting.Store(nil)
		return
	}
	p.waiting.Store(&what)
}

// Close implements Progress.
func (p *progress) Close() {
	p.once.Do(func() {
		if p.stop == nil {
			return
		}
		close(p.stop)
		<-p.stopped
		if p.bar == nil {
			return
		}
		p.refreshTotal()
		p.drawBar()
		switch {
		case p.bar.IsFinished():
			// Reaching the total finished the bar and ended its line.
		case p.total > 0:
			// Stopped short of the total: leave the bar where it is.
			_ = p.bar.Exit()
		default:
			_ = p.bar.Finish()
		}
	})
}

// run calls tick every interval until Close.
func (p *progress) run(interval time.Duration, tick func()) {
	p.stop = make(chan struct{})
	p.stopped = make(chan struct{})
	go func() {
		defer close(p.stopped)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				tick()
			}
		}
	}()
}

// logLine logs the counts so far; a log that is not a terminal gets a line
// per interval rather than a bar's carriage returns.
func (p *progress) logLine(logger *slog.Logger) {
	attrs := []any{slog.Int64("done", p.done.Load())}
	switch {
	case p.estimate != nil && p.total > 0:
		attrs = append(attrs, slog.Int("expected_total", p.total))
	case p.estimate == nil && p.total >= 0:
		attrs = append(attrs, slog.Int("total", p.total))
	}
	for _, st := range profile.Statuses() {
		// The statuses of a run are always logged; those of a sync only once they occur.
		if n := p.counts[st].n.Load(); n > 0 || !syncOnly(st) {
			attrs = append(attrs, slog.Int64(string(st), n))
		}
	}
	attrs = append(attrs, slog.Float64("rows_per_s", p.rate()))
	if w := p.waiting.Load(); w != nil {
		attrs = append(attrs, slog.String("waiting", *w))
	}
	logger.Info("progress", attrs...)
}

// refreshTotal takes a new estimate of the total, and gives the bar it.
func (p *progress) refreshTotal() {
	if p.estimate == nil {
		return
	}
	t := p.estimate()
	if t <= 0 || int(t) == p.total {
		return
	}
	p.total = int(t)
	if p.bar != nil {
		p.bar.ChangeMax64(t)
	}
}

// rate is the rows finished per second since the start, to one decimal.
func (p *progress) rate() float64 {
	elapsed := time.Since(p.start).Seconds()
	if elapsed <= 0 {
		return 0
	}
	return math.Round(float64(p.done.Load())/elapsed*10) / 10
}

// drawBar brings the bar up to date; only the ticker goroutine and Close
// (after the ticker has stopped) call it.
func (p *progress) drawBar() {
	if desc := p.describe(); desc != p.lastDesc {
		p.lastDesc = desc
		p.bar.Describe(desc)
	}
	if done := p.done.Load(); done != p.lastDone {
		p.lastDone = done
		// Beyond a total that was wrong the bar stays full; not worth reporting.
		_ = p.bar.Set64(done)
	}
}

// describe is the bar's short tally of the non-zero statuses.
func (p *progress) describe() string {
	var parts []string
	for _, st := range profile.Statuses() {
		if n := p.counts[st].n.Load(); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, st))
		}
	}
	if w := p.waiting.Load(); w != nil {
		parts = append(parts, *w)
	}
	return strings.Join(parts, ", ")
}

// newBar builds the terminal bar; an unknown or zero total shows a spinner
// with the count.
func newBar(out io.Writer, total int) *progressbar.ProgressBar {
	n := int64(total)
	if n <= 0 {
		n = -1
	}
	return progressbar.NewOptions64(n,
		progressbar.OptionSetWriter(out),
		progressbar.OptionSetWidth(20),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("rows"),
		progressbar.OptionSpinnerType(14),
		// The ticker redraws; the bar's own spinner goroutine would outlive
		// a bar that never finishes.
		progressbar.OptionSetSpinnerChangeInterval(0),
		progressbar.OptionShowDescriptionAtLineEnd(),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(out) }),
	)
}

// syncOnly reports whether only a sync produces the status.
func syncOnly(st profile.Status) bool {
	switch st {
	case profile.StatusUpdated, profile.StatusSuspended, profile.StatusReactivated, profile.StatusDeleted, profile.StatusAbsent:
		return true
	case profile.StatusCreated, profile.StatusSkipped, profile.StatusInvalid, profile.StatusFailed, profile.StatusPending, profile.StatusValid:
		return false
	}
	panic("report: status without a decision: " + string(st))
}
