package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

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

// byteCounter counts the bytes read through it, to tell an empty input
// from one without records.
type byteCounter struct {
	r io.Reader
	n int64
}

func (c *byteCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
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
	counted := &byteCounter{r: src}
	rd, err := reader.Open(counted, o.readerOpts)
	if err != nil {
		in.close()
		return nil, err
	}
	switch {
	case o.readerOpts.Format == reader.FormatCSV && rd.Columns() == nil:
		in.close()
		return nil, usagef("%s: the export is empty: no header", name)
	case counted.n == 0:
		in.close()
		return nil, usagef("%s: the export is empty: no line", name)
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

// openState takes the lock, then opens the state file.
func openState(path string) (*state.Store, func(), error) {
	unlock, err := state.Lock(path + ".lock")
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
