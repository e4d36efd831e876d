package main

import (
	"context"
	"runtime/debug"
	"time"

	"github.com/provision/provision/internal/job"
	"github.com/provision/provision/internal/report"
)

// validateCommand reads and checks every row and writes the report a run
// would, sending nothing and opening no state.
func validateCommand(stop context.Context, args []string, ios streams, getenv env) error {
	o, err := parseOptions(commandValidate(), args, ios, getenv)
	if err != nil {
		return err
	}
	if getenv("GOGC") == "" {
		// Validate's live heap is a few MB (its duplicate table lives
		// outside the Go heap) and it makes little garbage (the rows'
		// text, values and requests live in batches that go round): at
		// main's 400 the heap idles at Go's floor and grows in steps; Go's
		// own 100 keeps memory flat at every size.
		debug.SetGCPercent(100)
	}
	log, in, err := o.openRows(stop, ios, false)
	if err != nil {
		return err
	}
	defer in.close()
	prog := newProgress(o, ios, log, in)
	started := time.Now()
	res, err := job.Validate(stop, job.ValidateConfig{Input: in.rd, Version: o.readerOpts.Version,
		ReportPath: o.reportPath, ReportFormat: o.reportFormat, Progress: prog})
	prog.Close()
	if err != nil {
		return err
	}
	// Every JSONL line has been read: a --map or --where key none had is a
	// mistake that would make every profile miss that field.
	if err := in.rd.CheckMapping(); err != nil {
		return err
	}
	sum := report.Summary{Command: o.cmd.name, Started: started, ReportPath: o.reportPath, Counts: res.Counts, ErrorTypes: res.ErrorTypes}
	return exitWith(finish(o, log, ios.out, sum, "", false))
}
