package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/provision/provision/internal/client"
	"github.com/provision/provision/internal/governor"
	"github.com/provision/provision/internal/job"
	"github.com/provision/provision/internal/profile"
	"github.com/provision/provision/internal/report"
	"github.com/provision/provision/internal/state"
)

// planCommand writes the report a sync (or, with --create-only, a run)
// would write, and changes nothing: the job runs on a copy of the state,
// and a stand-in answers its writes, so nothing is written to the org or
// to the state. Listings go to the API, so the plan sees the org as it is.
func planCommand(stop context.Context, args []string, ios streams, getenv env) error {
	o, err := parseOptions(commandPlan(), args, ios, getenv)
	if err != nil {
		return err
	}
	log, in, err := o.openRows(stop, ios, false)
	if err != nil {
		return err
	}
	defer in.close()
	dir, err := os.MkdirTemp(filepath.Dir(o.statePath), ".provision-plan-")
	if err != nil {
		return usagef("plan: a scratch copy of the state beside %s: %v", o.statePath, err)
	}
	defer os.RemoveAll(dir)
	scratch := filepath.Join(dir, "plan.db")
	if err := copyState(o.statePath, scratch); err != nil {
		return err
	}
	st, err := state.Open(context.Background(), scratch)
	if err != nil {
		return err
	}
	defer st.Close()
	api, err := o.newClient()
	if err != nil {
		return err
	}
	prog := newProgress(o, ios, log, in)
	defer acknowledgeStop(stop, ios, log)()
	started := time.Now()
	cfg := o.jobConfig(in, st, standIn{Client: api}, governor.New(governor.Config{Ceiling: o.rate}), prog, log)
	cfg.Dry = true
	res, runErr := job.Run(stop, stop, cfg)
	prog.Close()
	if res.Run.ID == 0 {
		if runErr == nil {
			runErr = errors.New("the plan did not begin")
		}
		return runErr
	}
	if err := renderReport(context.Background(), st, res.Run, o.reportPath, o.reportFormat, ios.out); err != nil {
		return err
	}
	counts, errTypes, err := st.Counts(context.Background(), res.Run.ID)
	if err != nil {
		return err
	}
	sum := report.Summary{Command: o.cmd.name, Started: started, ReportPath: o.reportPath, Adopted: res.Adopted,
		Counts: counts, ErrorTypes: errTypes, Changed: errTypes[profile.ErrorProfileChanged]}
	stopped := res.Stopped
	if runErr != nil && stopped == "" {
		stopped = runErr.Error()
	}
	// The plan's totals go to stderr: stdout may carry the report (--report -).
	return exitWith(finish(o, log, ios.err, sum, stopped, runErr != nil))
}

// copyState copies the state at path to scratch, under the state's lock so
// no run changes it meanwhile; a state that does not exist yet is not
// created (the plan starts from an empty one).
func copyState(path, scratch string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	st, unlock, err := openState(path)
	if err != nil {
		return err
	}
	defer unlock()
	err = st.CopyTo(scratch)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("plan: copying the state: %w", err)
	}
	return nil
}

// standIn answers a plan's writes as the API would if they succeeded,
// without sending them; listings go to the API.
type standIn struct {
	*client.Client
}

func (standIn) Create(_ context.Context, req profile.Request) client.Result {
	return client.Result{Kind: client.Created, Status: 200, Profile: profile.Profile{CreatedAt: time.Now().UTC()}}
}

func (standIn) Update(context.Context, string, any) client.Result {
	return client.Result{Kind: client.Created, Status: 200}
}

func (standIn) Delete(context.Context, string) client.Result {
	return client.Result{Kind: client.Created, Status: 200}
}
