// Command createrate reads the emulator's profiles (GET /_emulator/profiles,
// a JSON array) on stdin and reports the pace at which they were created:
//
//	curl -s URL/_emulator/profiles | createrate
//
// prints "profiles N span_seconds S creates_per_second R": R is (N-1)/S,
// the rate from the first created_at to the last, which is the pace a
// client kept while it created them, without what it did before its first
// create or after its last (listings, the report).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

func main() {
	var profiles []struct {
		CreatedAt time.Time `json:"created_at"`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&profiles); err != nil {
		fmt.Fprintln(os.Stderr, "createrate:", err)
		os.Exit(1)
	}
	if len(profiles) < 2 {
		fmt.Fprintln(os.Stderr, "createrate: fewer than two profiles")
		os.Exit(1)
	}
	first, last := profiles[0].CreatedAt, profiles[0].CreatedAt
	for _, p := range profiles {
		if p.CreatedAt.Before(first) {
			first = p.CreatedAt
		}
		if p.CreatedAt.After(last) {
			last = p.CreatedAt
		}
	}
	span := last.Sub(first).Seconds()
	if span <= 0 {
		fmt.Fprintln(os.Stderr, "createrate: every profile has the same created_at")
		os.Exit(1)
	}
	fmt.Printf("profiles %d span_seconds %.6f creates_per_second %.3f\n", len(profiles), span, float64(len(profiles)-1)/span)
}
