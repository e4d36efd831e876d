package main

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, file, content string
		onLine              map[string]bool
		wantMaps            []string
		wantAPI, wantState  string
		wantErr             string
	}{
		{name: "toml, a map table with a dotted key left unquoted", file: "a.toml",
			content:  "api = \"ga\"\nstate = \"x.db\"\n[map]\nreference_id = \"id\"\nmetadata.plan = \"app_metadata.plan\"\n\"metadata.team\" = \"team\"\n",
			wantMaps: []string{"metadata.plan=app_metadata.plan", "metadata.team=team", "reference_id=id"}, wantAPI: "ga", wantState: "x.db"},
		{name: "yaml, map as a list", file: "b.yaml",
			content:  "api: ga\nmap:\n  - name={First name} {Last name}\n  - reference_id=id\n",
			wantMaps: []string{"name={First name} {Last name}", "reference_id=id"}, wantAPI: "ga", wantState: "provision.db"},
		{name: "the command line wins", file: "c.toml", content: "api = \"ga\"\nstate = \"file.db\"\n",
			onLine: map[string]bool{"state": true}, wantAPI: "ga", wantState: "provision.db"},
		{name: "an unknown setting", file: "d.toml", content: "mpa = \"x\"\n", wantErr: `unknown setting "mpa"`},
		{name: "a typo close to a flag", file: "e.toml", content: "stat = \"x\"\n", wantErr: `did you mean "state"?`},
		{name: "a value of the wrong kind", file: "f.toml", content: "[map]\nname = 3\n", wantErr: "map.name: the source must be a string"},
		{name: "not TOML", file: "g.toml", content: "api = \n", wantErr: "g.toml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var maps multiFlag
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			api := fs.String("api", "2026-03-24", "")
			state := fs.String("state", "provision.db", "")
			fs.Var(&maps, "map", "")
			err := loadConfig(fs, write(tc.file, tc.content), tc.onLine)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(maps, tc.wantMaps) || *api != tc.wantAPI || *state != tc.wantState {
				t.Errorf("map %q api %q state %q; want %q %q %q", maps, *api, *state, tc.wantMaps, tc.wantAPI, tc.wantState)
			}
		})
	}
}
