package report

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// WriteFileAtomic replaces path with what write produces, so that a reader
// (or the next run after a crash) sees either the old file or the complete new
// one, never a torn write. It writes a temporary file in the same directory
// (a rename is atomic only within one file system), fsyncs it, sets perm,
// renames it over path and fsyncs the directory so that the rename itself
// survives a power loss. An error before the rename removes the temporary
// file and leaves path as it was. A long file is written back and synced
// as it is written (writeback), so that the final fsync waits only for its
// last few megabytes rather than for the whole file.
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

	wb := &writeback{f: f}
	bw := bufio.NewWriter(wb)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if serr := wb.wait(); err == nil && serr != nil {
		err = fmt.Errorf("sync: %w", serr)
	}
	if err != nil {
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

// slowSync is how long a sync of a chunk may take before writeback stops
// syncing as it goes: a disk that other writers keep busy makes every
// sync wait for their data too, and writes can then stall behind them.
const slowSync = 100 * time.Millisecond

// writeback writes to f and, every writebackChunk bytes, starts the
// writeback of what it wrote since the last time, without waiting for it
// (startWriteback), and syncs the file on a goroutine of its own if no
// sync is under way: a virtual disk's fsync persists everything written
// since the last one, so a long file synced only at its end waits for all
// of it (a tenth of a second for 100 MB here), and synced as it goes waits
// only for its last chunk. Once a sync takes longer than slowSync, it
// stops syncing as it goes. It makes the file no more and no less durable:
// only the final fsync promises anything; a sync's error is kept and
// returned by wait, since the kernel may report a failed write only once.
type writeback struct {
	f       *os.File
	written int64 // bytes written to f
	started int64 // bytes whose writeback has been started
	syncing sync.WaitGroup
	busy    atomic.Bool // a sync is under way
	slow    atomic.Bool // a sync took longer than slowSync: no more of them
	mu      sync.Mutex
	err     error // the first error of a sync
}

func (w *writeback) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.written += int64(n)
	if w.written-w.started >= writebackChunk {
		startWriteback(w.f, w.started, w.written-w.started)
		w.started = w.written
		if !w.slow.Load() && w.busy.CompareAndSwap(false, true) {
			w.syncing.Add(1)
			go w.sync()
		}
	}
	return n, err
}

func (w *writeback) sync() {
	defer w.syncing.Done()
	defer w.busy.Store(false)
	start := time.Now()
	if err := w.f.Sync(); err != nil {
		w.mu.Lock()
		if w.err == nil {
			w.err = err
		}
		w.mu.Unlock()
	}
	if time.Since(start) > slowSync {
		w.slow.Store(true)
	}
}

// wait waits for the sync under way and returns the first error of any.
func (w *writeback) wait() error {
	w.syncing.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}
