package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/provision/provision/internal/governor"
	"github.com/provision/provision/internal/job"
	"github.com/provision/provision/internal/profile"
	"github.com/provision/provision/internal/reader"
	"github.com/provision/provision/internal/report"
	"github.com/provision/provision/internal/state"
)

// runCommand creates a profile for every row of the export not yet
// provisioned (run), or makes the org match the export (sync), and writes
// the report.
func runCommand(stop, send context.Context, c command, args []string, ios streams, getenv env) error {
	o, err := parseOptions(c, args, ios, getenv)
	if err != nil {
		return err
	}
	log, in, err := o.openRows(stop, ios, true)
	if err != nil {
		return err
	}
	defer in.close()
	st, api, closeAPI, err := o.openAPI()
	if err != nil {
		return err
	}
	defer closeAPI()
	gov := governor.New(governor.Config{Ceiling: o.rate})
	prog := newProgress(o, ios, log, in)
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
	defer acknowledgeStop(stop, ios, log)()
	started := time.Now()
	cfg := o.jobConfig(in, st, api, gov, prog, log)
	// The report is read from the state once every row is recorded, while
	// the sweep lists the org; it is read again only if the sweep marked
	// duplicates. Not for stdout, which would get it twice.
	var early chan error
	if o.reportPath != "-" {
		cfg.Settled = func(run state.Run) {
			early = make(chan error, 1)
			go func() { early <- renderReport(context.Background(), st, run, o.reportPath, o.reportFormat, ios.out) }()
		}
	}
	res, runErr := job.Run(stop, sendCtx, cfg)
	prog.Close()
	rendered := false
	if early != nil {
		rendered = <-early == nil && !res.Marked
	}
	if res.Run.ID == 0 {
		// Nothing was begun: no report to write. The error says why.
		if runErr == nil {
			runErr = errors.New("the run did not begin")
		}
		return runErr
	}
	sum := report.Summary{Command: o.cmd.name, Started: started, ReportPath: o.reportPath, Adopted: res.Adopted, Strays: res.Strays}
	for _, d := range res.Duplicates {
		sum.Duplicates = append(sum.Duplicates, report.Duplicate{Identity: d.Identity, Kept: d.Kept, Other: d.Other})
	}
	stopped := res.Stopped
	if runErr != nil && stopped == "" {
		stopped = runErr.Error()
	}
	if res.Fatal {
		stopped = fmt.Sprintf("%s; check %s", stopped, o.keySource)
	}
	if !rendered {
		if err := renderReport(context.Background(), st, res.Run, o.reportPath, o.reportFormat, ios.out); err != nil {
			return err
		}
	}
	counts, errTypes, err := st.Counts(context.Background(), res.Run.ID)
	if err != nil {
		return err
	}
	sum.Counts, sum.ErrorTypes, sum.Reconciled = counts, errTypes, res.Reconciled
	sum.Changed = errTypes[profile.ErrorProfileChanged]
	code, err := finish(o, log, ios.out, sum, stopped, runErr != nil)
	if stopped == "" {
		summary, _ := sumJSON(sum, code)
		if ferr := st.FinishRun(res.Run.ID, res.Rows, int(code), summary, o.keepRuns); ferr != nil && err == nil {
			return exitWith(exitStopped, ferr)
		}
	}
	return exitWith(code, err)
}

// jobConfig is the job's configuration the options give, for a run, a sync
// or a plan.
func (o *options) jobConfig(in *input, st *state.Store, api job.API, gov governor.Pacer, prog report.Progress, log *slog.Logger) job.Config {
	return job.Config{Target: targetOf(o.baseURL, o.workspace), Mapping: identityMapping(o.maps), Remap: o.remap, NoAdopt: o.noAdopt,
		Version: o.readerOpts.Version, Input: in.rd, InputName: inputName(o.file), Store: st, API: api, Pacer: gov,
		Concurrency: o.concurrency, MaxAttempts: o.maxAttempts, MaxFailures: o.maxFailures,
		Settle: o.settle, Timeout: o.timeout, ClockMargin: o.clockMargin, Progress: prog, Logger: log,
		Sync: o.cmd.name == "sync" || (o.cmd.name == "plan" && !o.createOnly), Absent: o.absentPolicy, MaxAbsent: o.absentLimit,
		IdentityColumn: identityColumn(o.maps, in.rd.Columns()), Probe: o.probe()}
}

// probe is how many records a run reads ahead to judge the mapping: a JSONL
// line may lack a key another has, a CSV header is judged whole.
func (o *options) probe() int {
	if o.readerOpts.Format == reader.FormatJSONL {
		return reader.ProbeRows
	}
	return 0
}
