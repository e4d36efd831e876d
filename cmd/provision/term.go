package main

import (
	"io"
	"os"
	"sync"

	"golang.org/x/term"
)

// streams are a command's input and outputs: data on out, everything said
// to the person on err, and the progress bar on bar, which shares err's
// terminal.
type streams struct {
	in            io.Reader
	out           io.Writer
	err           io.Writer
	bar           io.Writer
	errIsTerminal bool
}

func newStreams(stdin io.Reader, stdout, stderr io.Writer) streams {
	t := &sharedLine{out: stderr}
	return streams{in: stdin, out: stdout, err: t, bar: barSide{t}, errIsTerminal: isTerminal(stderr)}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// eraseLine moves to the start of the line and erases it.
const eraseLine = "\r\x1b[K"

// sharedLine lets the progress bar, which redraws its line in place, and
// log lines, which must start a line of their own, write to one terminal.
// A log line first erases the bar, then draws it again below itself, so
// the bar neither runs into the log line nor vanishes until its next
// change, which may be a while when the run waits for unknown outcomes.
type sharedLine struct {
	mu    sync.Mutex
	out   io.Writer
	onBar bool   // the cursor is on a line the bar drew
	bar   []byte // the bar's last drawing, to draw it again
}

// Write writes a log line (or any text for the person) on a line of its own.
func (s *sharedLine) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.onBar {
		return s.out.Write(p)
	}
	if _, err := io.WriteString(s.out, eraseLine); err != nil {
		return 0, err
	}
	n, err := s.out.Write(p)
	if err != nil || n == 0 || p[n-1] != '\n' {
		s.onBar = false
		return n, err
	}
	_, err = s.out.Write(s.bar)
	return n, err
}

// barSide is the progress bar's way to the shared line.
type barSide struct{ s *sharedLine }

func (b barSide) Write(p []byte) (int, error) {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	n, err := b.s.out.Write(p)
	if n > 0 {
		// The bar ends its line only when it finishes.
		b.s.onBar = p[n-1] != '\n'
		b.s.bar = append(b.s.bar[:0], p[:n]...)
	}
	return n, err
}
