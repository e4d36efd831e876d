package report

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback starts writing n bytes of f from off to disk and returns
// without waiting for them (sync_file_range with SYNC_FILE_RANGE_WRITE). It
// is advice: an error is ignored, as the fsync that follows reports any
// that matters.
func startWriteback(f *os.File, off, n int64) {
	c, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = c.Control(func(fd uintptr) {
		_ = unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
	})
}
