package report

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// onlyFiles returns the names in dir.
func onlyFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "report.csv")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}

	err := WriteFileAtomic(path, 0o600, func(w io.Writer) error {
		_, err := io.WriteString(w, "new")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "new" {
		t.Errorf("content %q, want %q", got, "new")
	}
	if names := onlyFiles(t, dir); len(names) != 1 {
		t.Errorf("directory holds %q, want only report.csv", names)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("mode %v, want 0600", fi.Mode().Perm())
		}
	}
}

func TestWriteFileAtomicFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "summary.json")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := WriteFileAtomic(path, 0o600, func(w io.Writer) error {
		_, _ = io.WriteString(w, "half")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want it to wrap %v", err, boom)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "old" {
		t.Errorf("a failed write changed the file to %q", got)
	}
	if names := onlyFiles(t, dir); len(names) != 1 {
		t.Errorf("directory holds %q after a failed write, want only summary.json", names)
	}
}

func TestWriteFileAtomicMissingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "r.csv")
	called := false
	err := WriteFileAtomic(path, 0o600, func(io.Writer) error { called = true; return nil })
	if err == nil || called {
		t.Errorf("err = %v, called = %v; want an error before writing", err, called)
	}
}

// TestWriteFileAtomicLongFile writes a file of several writeback chunks, in
// pieces of odd sizes: the writeback started along the way leaves the
// content as written.
func TestWriteFileAtomicLongFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.csv")
	piece := make([]byte, 1<<20+7)
	for i := range piece {
		piece[i] = byte('a' + i%26)
	}
	const pieces = 2*writebackChunk/(1<<20) + 3
	err := WriteFileAtomic(path, 0o600, func(w io.Writer) error {
		for i := 0; i < pieces; i++ {
			if _, err := w.Write(piece[:len(piece)-i%5]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	for i := 0; i < pieces; i++ {
		want = append(want, piece[:len(piece)-i%5]...)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the file holds %d bytes, not the %d written", len(got), len(want))
	}
}
