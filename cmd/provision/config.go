package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
	"go.yaml.in/yaml/v3"
)

// loadConfig reads a --config file (TOML, or YAML by its extension) and
// sets every flag it names that the command line did not: flags override
// the file. Keys are flag names; a list sets a repeatable flag once per
// item; `map` may also be a table of FIELD = SOURCE, so a whole mapping
// reads as one:
//
//	api = "ga"
//	where = ["Status!=DEPROVISIONED"]
//	[map]
//	reference_id = "id"
//	name = "{First name} {Last name}"
func loadConfig(fs *flag.FlagSet, path string, setOnLine map[string]bool) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return usagef("--config: %v", err)
	}
	doc := map[string]any{}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		if err := yaml.NewDecoder(bytes.NewReader(b)).Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
			return usagef("--config %s: %v", path, err)
		}
	default:
		if _, err := toml.Decode(string(b), &doc); err != nil {
			return usagef("--config %s: %v", path, err)
		}
	}
	for _, key := range sortedKeys(doc) {
		if key == "config" {
			return usagef("--config %s: a config file cannot name another (config)", path)
		}
		f := fs.Lookup(key)
		if f == nil {
			var known []string
			fs.VisitAll(func(f *flag.Flag) { known = append(known, f.Name) })
			hint := ""
			if best := closest(key, known); best != "" {
				hint = fmt.Sprintf("; did you mean %q?", best)
			}
			return usagef("--config %s: unknown setting %q%s", path, key, hint)
		}
		if setOnLine[key] {
			continue
		}
		values, err := configValues(key, doc[key])
		if err != nil {
			return usagef("--config %s: %v", path, err)
		}
		for _, v := range values {
			if err := fs.Set(key, v); err != nil {
				return usagef("--config %s: %s = %q: %v", path, key, v, err)
			}
		}
	}
	return nil
}

// configValues turns one setting into the strings its flag takes.
func configValues(key string, v any) ([]string, error) {
	switch x := v.(type) {
	case string:
		return []string{x}, nil
	case bool, int, int64, float64, uint64:
		return []string{fmt.Sprint(x)}, nil
	case []any:
		var out []string
		for _, item := range x {
			vs, err := configValues(key, item)
			if err != nil {
				return nil, err
			}
			out = append(out, vs...)
		}
		return out, nil
	case map[string]any:
		if key != "map" {
			return nil, fmt.Errorf("%s: a table is only taken for map (FIELD = SOURCE)", key)
		}
		return mapEntries("", x)
	}
	return nil, fmt.Errorf("%s: unsupported value %v (%T)", key, v, v)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// mapEntries flattens a map table into FIELD=SOURCE specs. A dotted key
// left unquoted (metadata.plan = "...") is a nested table in TOML and
// YAML; it means the dotted field all the same.
func mapEntries(prefix string, table map[string]any) ([]string, error) {
	var out []string
	for _, key := range sortedKeys(table) {
		field := prefix + key
		switch v := table[key].(type) {
		case string:
			out = append(out, field+"="+v)
		case map[string]any:
			more, err := mapEntries(field+".", v)
			if err != nil {
				return nil, err
			}
			out = append(out, more...)
		default:
			return nil, fmt.Errorf("map.%s: the source must be a string, got %v", field, v)
		}
	}
	return out, nil
}
