package main

import (
	"context"
	"fmt"

	"github.com/provision/provision/internal/governor"
	"github.com/provision/provision/internal/job"
)

// adoptCommand lists the whole org and records every profile in the
// ledger, so the next run skips users the org already holds: after a
// restore from an older backup, or before a first run against an org that
// another tool filled.
func adoptCommand(stop context.Context, args []string, ios streams, getenv env) error {
	o, err := parseOptions(commandAdopt(), args, ios, getenv)
	if err != nil {
		return err
	}
	if err := checkOutputs(output{"--state", o.statePath}); err != nil {
		return err
	}
	log := newLogger(o.logFormat, ios.err)
	st, api, closeAPI, err := o.openAPI()
	if err != nil {
		return err
	}
	defer closeAPI()
	obs, err := job.Adopt(stop, job.Config{Target: targetOf(o.baseURL, o.workspace), Store: st, API: api, Pacer: governor.New(governor.Config{Ceiling: o.rate}), Logger: log})
	if err != nil {
		return err
	}
	fmt.Fprintf(ios.out, "Listed %d profiles: %d adopted, %d already known, %d duplicates.\n",
		obs.Listed, obs.Adopted, obs.Listed-obs.Adopted-len(obs.Duplicates), len(obs.Duplicates))
	for _, d := range obs.Duplicates {
		fmt.Fprintf(ios.out, "duplicate: %s holds %s and %s\n", d.Identity, d.Kept, d.Other)
	}
	if len(obs.Duplicates) > 0 {
		return exitWith(exitRows, nil)
	}
	return nil
}
