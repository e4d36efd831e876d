package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// output is a file a command writes, and the flag that names it.
type output struct {
	flag, path string
}

// outputs are the files the command writes; withState adds the state's,
// for the commands that open it.
func (o *options) outputs(withState bool) []output {
	outs := []output{{"--report", o.reportPath}, {"--summary-json", o.summaryJSON}, {"--metrics-file", o.metricsFile}}
	if withState {
		outs = append(outs, output{"--state", o.statePath})
	}
	return outs
}

// checkOutputs makes sure every output can be written before anything is
// read or sent: a report folder found missing after every row was sent
// leaves the run without its record. Each path's directory must exist and
// take a new file (written, then removed: permission bits alone do not
// tell, on a read-only mount or under an ACL), and the path must not be a
// directory.
func checkOutputs(outs ...output) error {
	for _, out := range outs {
		if out.path == "" || out.path == "-" {
			continue
		}
		if fi, err := os.Stat(out.path); err == nil && fi.IsDir() {
			return usagef("%s %s is a directory; give a file name", out.flag, out.path)
		}
		dir := filepath.Dir(out.path)
		fi, err := os.Stat(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return usagef("%s %s: the directory %s does not exist", out.flag, out.path, dir)
		case err != nil:
			return usagef("%s %s: %v", out.flag, out.path, err)
		case !fi.IsDir():
			return usagef("%s %s: %s is not a directory", out.flag, out.path, dir)
		}
		f, err := os.CreateTemp(dir, ".provision-check-*")
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return usagef("%s %s: cannot write in %s: %v", out.flag, out.path, dir, err)
		}
		f.Close()
		os.Remove(f.Name())
	}
	return nil
}

// checkDistinct refuses outputs that would overwrite the export or each
// other: a report written over its own input loses the export for good.
func checkDistinct(input string, outs ...output) error {
	seen := map[string]string{}
	if input != "" && input != "-" {
		if abs, err := filepath.Abs(input); err == nil {
			if r, err := filepath.EvalSymlinks(abs); err == nil {
				abs = r
			}
			seen[abs] = "the export"
		}
	}
	for _, out := range outs {
		if out.path == "" || out.path == "-" {
			continue
		}
		abs, err := filepath.Abs(out.path)
		if err != nil {
			continue
		}
		if r, err := filepath.EvalSymlinks(abs); err == nil {
			abs = r
		}
		if other, ok := seen[abs]; ok {
			return usagef("%s %s is %s; give it a path of its own", out.flag, out.path, other)
		}
		seen[abs] = out.flag + " " + out.path
	}
	return nil
}
