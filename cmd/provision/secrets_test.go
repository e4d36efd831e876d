package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const secretKey = "sk-ant-api03-NeverPrintMe-0123456789abcdef"

// TestRefusedKeyStopsAndNeverLeaks runs against a server that refuses the
// key, then looks for the key in every output the run produced.
func TestRefusedKeyStopsAndNeverLeaks(t *testing.T) {
	e := startEmulator(t, "--api-key", "the-right-key")
	for _, tc := range []struct {
		name, keyFile, wantSource string
		logFormat                 string
	}{
		{"env-text", "", "ANTHROPIC_API_KEY", "text"},
		{"file-json", "key.txt", "--api-key-file", "json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorkdir(t, e)
			w.env = append(w.env[:len(w.env):len(w.env)], "ANTHROPIC_API_KEY="+secretKey)
			args := []string{"run", export(w, "users.csv", 1, 50, 1), "--report", "r.csv", "--summary-json", "s.json",
				"--metrics-file", "m.prom", "--log-format", tc.logFormat}
			if tc.keyFile != "" {
				w.write(tc.keyFile, secretKey+"\n")
				w.env = append(w.env, "ANTHROPIC_API_KEY=")
				args = append(args, "--api-key-file", tc.keyFile)
			}
			res := w.run(args...)
			if res.code != exitStopped {
				t.Fatalf("exit %d, want %d\n%s\n%s", res.code, exitStopped, res.stdout, res.stderr)
			}
			if !strings.Contains(res.stdout+res.stderr, tc.wantSource) {
				t.Errorf("the message does not say which key was used (%s):\n%s%s", tc.wantSource, res.stdout, res.stderr)
			}
			if s := e.stats(t); s.Requests > 20 {
				t.Errorf("%d requests after a 401: the job did not stop at once", s.Requests)
			}
			assertNoKey(t, "stdout", res.stdout)
			assertNoKey(t, "stderr", res.stderr)
			err := filepath.WalkDir(w.dir, func(path string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() || d.Name() == tc.keyFile {
					return err
				}
				b, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				assertNoKey(t, d.Name(), string(b))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"provision.db", "provision.db.lock", "r.csv", "s.json", "m.prom"} {
				info, err := os.Stat(w.path(name))
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				perm := info.Mode().Perm()
				if name == "m.prom" {
					// Metrics hold no secret, and node_exporter reads them as another user.
					if perm != 0o644 {
						t.Errorf("%s has mode %v, want 0644", name, perm)
					}
					continue
				}
				if perm&0o077 != 0 {
					t.Errorf("%s has mode %v; others can read it", name, perm)
				}
			}
		})
	}
}

func assertNoKey(t *testing.T, where, s string) {
	t.Helper()
	for _, part := range []string{secretKey, secretKey[len(secretKey)-16:]} {
		if strings.Contains(s, part) {
			t.Errorf("the API key appears in %s", where)
		}
	}
}

func TestConfigurationErrorsSendNothing(t *testing.T) {
	e := startEmulator(t)
	w := newWorkdir(t, e)
	input := export(w, "users.csv", 1, 3, 1)
	for _, tc := range []struct {
		name string
		args []string
		env  string
		want string
	}{
		{"http to a remote host", []string{"--base-url", "http://api.example.com"}, "", "not loopback"},
		{"key as a flag", []string{"--api-key", secretKey}, "", "flag provided but not defined"},
		{"no key", nil, "ANTHROPIC_API_KEY=", "no API key"},
		{"bad report extension", []string{"--report", "r.xlsx"}, "", "--report"},
		{"bad mapping", []string{"--map", "nickname=nick"}, "", "nickname"},
		{"mapped column missing", []string{"--map", "name=full_name"}, "", "full_name"},
		{"windows-1252 without --encoding", []string{"--format", "csv"}, "", "--encoding windows-1252"},
		{"unknown format", []string{"--format", "xml"}, "", "xml"},
		{"zero concurrency", []string{"--concurrency", "0"}, "", "--concurrency"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := input
			if strings.HasPrefix(tc.name, "windows-1252") {
				file = w.write("latin.csv", "external_id,name\nu-1,Ren\xe9e\n")
			}
			saved := w.env
			if tc.env != "" {
				w.env = append(w.env[:len(w.env):len(w.env)], tc.env)
			}
			res := w.run(append([]string{"run", file}, tc.args...)...)
			w.env = saved
			if res.code != exitUsage {
				t.Fatalf("exit %d, want %d\n%s", res.code, exitUsage, res.stderr)
			}
			if !strings.Contains(res.stderr, tc.want) {
				t.Errorf("message %q lacks %q", res.stderr, tc.want)
			}
			assertNoKey(t, "stderr", res.stderr)
		})
	}
	if s := e.stats(t); s.Requests != 0 {
		t.Fatalf("configuration errors sent %d requests", s.Requests)
	}
}
