// Command gen writes a synthetic user export for the benchmarks: N rows of
// CSV or JSONL with the canonical columns and a free-text column. With
// -change-every K, every Kth row differs from the export of the same seed
// without it in its name and its plan: the next night's export of the same
// users, for a sync.
package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
)

var (
	first   = []string{"Ada", "Alan", "Grace", "Donald", "Barbara", "Edsger", "Frances", "Ken", "Margaret", "Niklaus", "Radia", "Søren", "Zoë", "José", "Ngozi", "Wei"}
	last    = []string{"Lovelace", "Turing", "Hopper", "Ångström", "Liskov", "Dijkstra", "Allen", "Thompson", "Hamilton", "Wirth", "Perlman", "Kierkegaard", "Núñez", "Okafor", "Zhang", "O'Brien"}
	rels    = []string{"external", "external", "external", "external", "resold", "internal"}
	plans   = []string{"free", "pro", "team", "enterprise"}
	regions = []string{"us", "eu", "apac", "latam"}
	words   = strings.Fields("account migrated from legacy billing, renewal due \"soon\" contact via email prefers phone support escalated twice; see ticket notes: trial extended by sales on request")
)

type row struct {
	ExternalID   string `json:"external_id"`
	Name         string `json:"name"`
	Relationship string `json:"relationship"`
	Plan         string `json:"metadata.plan"`
	Region       string `json:"metadata.region"`
	Notes        string `json:"notes"`
}

func main() {
	n := flag.Int("n", 1000, "rows to write")
	format := flag.String("format", "csv", "csv or jsonl")
	out := flag.String("o", "", "output file (default stdout)")
	seed := flag.Uint64("seed", 1, "random seed")
	prefix := flag.String("prefix", "u", "external_id prefix, so separate files hold separate users")
	changeEvery := flag.Int("change-every", 0, "change the name and the plan of every Kth row (0: none)")
	flag.Parse()
	if *format != "csv" && *format != "jsonl" {
		fmt.Fprintln(os.Stderr, "gen: -format must be csv or jsonl")
		os.Exit(2)
	}
	f := os.Stdout
	if *out != "" {
		var err error
		if f, err = os.Create(*out); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
	}
	w := bufio.NewWriterSize(f, 1<<16)
	rng := rand.New(rand.NewPCG(*seed, 0))
	cw := csv.NewWriter(w)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	var err error
	if *format == "csv" {
		err = cw.Write([]string{"external_id", "name", "relationship", "metadata.plan", "metadata.region", "notes"})
	}
	for i := 1; i <= *n && err == nil; i++ {
		r := row{
			ExternalID:   *prefix + "-" + strconv.Itoa(i),
			Name:         first[rng.IntN(len(first))] + " " + last[rng.IntN(len(last))],
			Relationship: rels[rng.IntN(len(rels))],
			Plan:         plans[rng.IntN(len(plans))],
			Region:       regions[rng.IntN(len(regions))],
			Notes:        notes(rng),
		}
		if *changeEvery > 0 && i%*changeEvery == 0 {
			r.Name += " Jr"
			r.Plan = "changed-" + r.Plan
		}
		if *format == "csv" {
			err = cw.Write([]string{r.ExternalID, r.Name, r.Relationship, r.Plan, r.Region, r.Notes})
		} else {
			err = enc.Encode(r)
		}
	}
	if *format == "csv" && err == nil {
		cw.Flush()
		err = cw.Error()
	}
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func notes(rng *rand.Rand) string {
	k := 4 + rng.IntN(14)
	parts := make([]string, k)
	for i := range parts {
		parts[i] = words[rng.IntN(len(words))]
	}
	return strings.Join(parts, " ")
}
