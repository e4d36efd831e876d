// Command statesize reports what a provision state file spends on disk:
//
//	statesize -state provision.db [-input users.csv]
//
// prints "rows N row_bytes B runs_with_rows R identities I ledger_bytes L
// file_bytes F", and with -input "input_bytes_per_row X" (the export's size
// over its rows, header included): the bytes SQLite's pages hold for the
// rows table (every retained run's rows) and the ledger, indexes included,
// from its dbstat table.
package main

import (
	"bufio"
	"database/sql"
	"flag"
	"fmt"
	"os"

	_ "modernc.org/sqlite"
)

func main() {
	path := flag.String("state", "", "the state file")
	input := flag.String("input", "", "the export the runs read (optional)")
	flag.Parse()
	if *path == "" {
		fmt.Fprintln(os.Stderr, "usage: statesize -state FILE [-input FILE]")
		os.Exit(2)
	}
	if err := report(*path, *input); err != nil {
		fmt.Fprintln(os.Stderr, "statesize:", err)
		os.Exit(1)
	}
}

func report(path, input string) error {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return err
	}
	defer db.Close()
	bytes := map[string]int64{}
	rows, err := db.Query(`SELECT tbl_name, sum(pgsize) FROM dbstat JOIN sqlite_schema USING (name) GROUP BY tbl_name`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			return err
		}
		bytes[name] = n
	}
	rows.Close()
	var nRows, nIdentities, runsWithRows int64
	if err := db.QueryRow(`SELECT count(*), count(DISTINCT k >> 32) FROM rows`).Scan(&nRows, &runsWithRows); err != nil {
		return err
	}
	if err := db.QueryRow(`SELECT count(*) FROM ledger`).Scan(&nIdentities); err != nil {
		return err
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	fmt.Printf("rows %d row_bytes %d runs_with_rows %d identities %d ledger_bytes %d file_bytes %d", nRows, bytes["rows"], runsWithRows, nIdentities, bytes["ledger"], st.Size())
	if input != "" {
		per, err := inputPerRow(input)
		if err != nil {
			return err
		}
		fmt.Printf(" input_bytes_per_row %.2f", per)
	}
	fmt.Println()
	return nil
}

// inputPerRow is the export's size over its lines but the header.
func inputPerRow(path string) (float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	lines := int64(0)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		lines++
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if lines < 2 {
		return 0, fmt.Errorf("%s has no rows", path)
	}
	return float64(st.Size()) / float64(lines-1), nil
}
