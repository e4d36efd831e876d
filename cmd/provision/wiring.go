package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/provision/provision/internal/client"
	"github.com/provision/provision/internal/reader"
	"github.com/provision/provision/internal/report"
	"github.com/provision/provision/internal/state"
)

func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

func rateText(r float64) string {
	if r == 0 {
		return "adaptive"
	}
	return fmt.Sprintf("%g/s", r)
}

// input is the export being read.
type input struct {
	rd    *reader.Reader
	size  int64 // of a regular file, for the progress bar's estimated total; -1 otherwise
	close func()
}

// openRows does what every command that reads rows does before its own
// work: it checks that its outputs (and the state, withState) can be
// written, then opens the export, logging to ios.err.
func (o *options) openRows(stop context.Context, ios streams, withState bool) (*slog.Logger, *input, error) {
	if err := checkOutputs(o.outputs(withState)...); err != nil {
		return nil, nil, err
	}
	if err := checkDistinct(o.file, o.outputs(withState)...); err != nil {
		return nil, nil, err
	}
	log := newLogger(o.logFormat, ios.err)
	// The header of stdin may be slow to come, or never come: a signal
	// must still end the command.
	type opened struct {
		in  *input
		err error
	}
	done := make(chan opened, 1)
	go func() {
		in, err := openInput(o, ios.in, log)
		done <- opened{in, err}
	}()
	select {
	case r := <-done:
		return log, r.in, r.err
	case <-stop.Done():
		return log, nil, exitWith(exitStopped, fmt.Errorf("stopped while waiting for the export's header: %w", context.Cause(stop)))
	}
}

// openInput opens the export and reads its header. Whatever makes it
// unusable as given (missing, a directory, empty, in another encoding) is a
// usage error: a nightly job whose export failed must not look like one
// that had nothing to do.
func openInput(o *options, stdin io.Reader, log *slog.Logger) (*input, error) {
	in := &input{size: -1, close: func() {}}
	src, name := stdin, "stdin"
	if o.file != "-" {
		f, err := os.Open(o.file)
		if err != nil {
			return nil, &usageError{err: err}
		}
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			in.size = fi.Size()
		}
		src, name, in.close = f, o.file, func() { f.Close() }
	}
	empty := usagef("%s: the export is empty: no header", name)
	if o.readerOpts.Format == reader.FormatJSONL {
		empty = usagef("%s: the export is empty: no line", name)
	}
	// Large reads pass this buffer by; it is here to peek at one byte.
	buf := bufio.NewReader(src)
	if _, err := buf.Peek(1); err == io.EOF {
		in.close()
		return nil, empty
	}
	rd, err := reader.Open(buf, o.readerOpts)
	if err != nil {
		in.close()
		return nil, err
	}
	if o.readerOpts.Format == reader.FormatCSV && rd.Columns() == nil {
		in.close() // blank lines or a byte-order mark alone
		return nil, empty
	}
	if unused := rd.Unused(); len(unused) > 0 {
		log.Info("columns no field uses are carried into the report and otherwise ignored", "columns", strings.Join(unused, ","))
	}
	in.rd = rd
	return in, nil
}

// newProgress shows the command's progress on the terminal's bar, or in
// log lines.
func newProgress(o *options, ios streams, log *slog.Logger, in *input) report.Progress {
	return report.NewProgress(report.ProgressOptions{Out: ios.bar, Mode: o.progress, IsTerminal: ios.errIsTerminal,
		Total: -1, Estimate: func() int64 {
			rows, bytes := in.rd.Position()
			return report.EstimateTotal(rows, bytes, in.size)
		}, Interval: o.interval, Logger: log, Quiet: o.quiet})
}

// inputName keys the resumption of an unfinished run: the same command over
// the same file continues it.
func inputName(file string) string {
	if file == "-" {
		return file
	}
	if abs, err := filepath.Abs(file); err == nil {
		return abs
	}
	return file
}

// openState takes the lock (beside the file the path resolves to, so a
// symlink shares it), then opens the state file.
func openState(path string) (*state.Store, func(), error) {
	unlock, err := state.Lock(state.LockPath(path))
	if err != nil {
		return nil, nil, err
	}
	st, err := state.Open(context.Background(), path)
	if err != nil {
		unlock()
		return nil, nil, &usageError{err: err}
	}
	return st, func() { unlock() }, nil
}

// targetOf names the org a base URL (and workspace, when one is used)
// reaches, as the state is bound to it: scheme and host in lower case, no
// trailing slash. The key is no part of it: rotating a key keeps the org.
func targetOf(baseURL, workspace string) string {
	t := baseURL
	if u, err := url.Parse(baseURL); err == nil {
		u.Scheme, u.Host = strings.ToLower(u.Scheme), strings.ToLower(u.Host)
		u.Path = strings.TrimRight(u.Path, "/")
		u.RawQuery, u.Fragment, u.User = "", "", nil
		t = u.String()
	}
	if workspace != "" {
		t += " (workspace " + workspace + ")"
	}
	return t
}

// identityMapping says where rows take their identity from: the column
// mapped to external_id (or reference_id), else the canonical column.
func identityMapping(maps []string) string {
	from, ok := mappedIdentity(maps)
	if !ok {
		from = "external_id"
	}
	return "column " + strconv.Quote(from)
}

// mappedIdentity is the source --map gives external_id (or reference_id,
// the same value): the last such --map, as the reader takes it.
func mappedIdentity(maps []string) (string, bool) {
	from, found := "", false
	for _, m := range maps {
		field, src, ok := strings.Cut(m, "=")
		if f := strings.TrimSpace(field); ok && (f == "external_id" || f == "reference_id") {
			from, found = strings.TrimSpace(src), true
		}
	}
	return from, found
}

// identityColumn is the input column identities come from, where a sync's
// report shows the identity of a profile the export no longer names: the
// column mapped to external_id (or reference_id), else whichever of the
// two the header has.
func identityColumn(maps []string, columns []string) string {
	if src, ok := mappedIdentity(maps); ok && !strings.ContainsAny(src, "{|(") {
		return src // a plain column; a template or fallback has no one column
	}
	if slices.Contains(columns, "reference_id") && !slices.Contains(columns, "external_id") {
		return "reference_id"
	}
	return "external_id"
}

// newClient is the API client the options describe: the SDK as transport,
// speaking the --api contract.
func (o *options) newClient() (*client.Client, error) {
	api, err := client.New(client.Config{BaseURL: o.baseURL, APIKey: o.apiKey, Timeout: o.timeout, Concurrency: o.concurrency,
		UserAgent: "provision/" + version, Version: o.readerOpts.Version, Workspace: o.workspace})
	if err != nil {
		return nil, &usageError{err: err}
	}
	return api, nil
}

// openAPI opens what a command that sends needs: the state, under its lock,
// and the API client. close releases both.
func (o *options) openAPI() (st *state.Store, api *client.Client, close func(), err error) {
	st, unlock, err := openState(o.statePath)
	if err != nil {
		return nil, nil, nil, err
	}
	if api, err = o.newClient(); err != nil {
		st.Close()
		unlock()
		return nil, nil, nil, err
	}
	return st, api, func() { st.Close(); unlock() }, nil
}
