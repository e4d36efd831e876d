package report

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
)

// WriteFileAtomic replaces path with what write produces, so that a reader
// (or the next run after a crash) sees either the old file or the complete new
// one, never a torn write. It writes a temporary file in the same directory
// (a rename is atomic only within one file system), fsyncs it, sets perm,
// renames it over path and fsyncs the directory so that the rename itself
// survives a power loss. An error before the rename removes the temporary
// file and leaves path as it was. A long file's writeback starts as it is
// written (writeback), so that the final fsync waits only for its last few
// megabytes rather than for the whole file.
func WriteFileAtomic(path string, perm os.FileMode, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	renamed := false
	defer func() {
		if err != nil && !renamed {
			_ = f.Close() // may already be closed; the first error matters
			_ = os.Remove(tmp)
		}
	}()

	bw := bufio.NewWriter(&writeback{f: f})
	if err = write(bw); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write %s: sync: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// CreateTemp makes the file 0600; chmod is not subject to the umask, so
	// the mode is exactly perm.
	if err = os.Chmod(tmp, perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	renamed = true
	if err = syncDir(dir); err != nil {
		// The new file is in place; only the rename's durability is in doubt.
		return fmt.Errorf("write %s: sync directory: %w", path, err)
	}
	return nil
}

// syncDir makes a rename in dir durable. Some file systems and platforms
// cannot fsync a directory; there the rename is as durable as it can be made.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if errors.Is(err, errors.ErrUnsupported) || errors.Is(err, syscall.EINVAL) {
		err = nil
	}
	return errors.Join(err, d.Close())
}

// writebackChunk is how much of a file is written before writeback asks the
// kernel to start writing it to disk.
const writebackChunk = 8 << 20

// writeback writes to f and, every writebackChunk bytes, starts the
// writeback of what it wrote since the last time, without waiting for it
// (startWriteback): the disk works while the file is still being
// produced, and the fsync that ends WriteFileAtomic has little left to do.
// It makes the file no more and no less durable: only the fsync promises
// anything.
type writeback struct {
	f       *os.File
	written int64 // bytes written to f
	started int64 // bytes whose writeback has been started
}

func (w *writeback) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.written += int64(n)
	if w.written-w.started >= writebackChunk {
		startWriteback(w.f, w.started, w.written-w.started)
		w.started = w.written
	}
	return n, err
}
