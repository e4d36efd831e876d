package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// LockedError says another live process holds the state's lock.
type LockedError struct {
	Path  string
	PID   int
	Since time.Time
}

func (e *LockedError) Error() string {
	holder := "another process"
	if e.PID > 0 {
		holder = "process " + strconv.Itoa(e.PID)
	}
	since := ""
	if !e.Since.IsZero() {
		since = " since " + e.Since.Format(time.RFC3339)
	}
	return fmt.Sprintf("the state is in use: %s holds %s%s; wait for it to finish, or use another --state", holder, e.Path, since)
}

// Lock takes an exclusive flock on path (created 0600) and writes the
// holder's pid and start time into it. The kernel drops a flock when its
// process dies, so a lock left by a killed run never blocks the next one.
func Lock(path string) (unlock func() error, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			le := &LockedError{Path: path}
			if b, rerr := os.ReadFile(path); rerr == nil {
				le.PID, le.Since = parseHolder(string(b))
			}
			return nil, le
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	holder := fmt.Sprintf("pid %d\nstarted %s\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339))
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(holder), 0)
		_ = f.Sync()
	}
	return func() error {
		_ = f.Truncate(0)
		return f.Close() // closing the descriptor releases the flock
	}, nil
}

func parseHolder(s string) (pid int, since time.Time) {
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		switch k {
		case "pid":
			pid, _ = strconv.Atoi(v)
		case "started":
			since, _ = time.Parse(time.RFC3339, v)
		}
	}
	return pid, since
}

// LockPath is the lock file of the state at statePath: beside the file the
// path resolves to, so that two paths to one state (a symlink, another
// relative path) take the same lock.
func LockPath(statePath string) string {
	p := statePath
	if r, err := filepath.EvalSymlinks(statePath); err == nil {
		p = r
	} else if dir, err := filepath.EvalSymlinks(filepath.Dir(statePath)); err == nil {
		p = filepath.Join(dir, filepath.Base(statePath)) // the state does not exist yet
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	return p + ".lock"
}
