// Command csvread is the floor for reading an export: it reads every record
// of a CSV file with encoding/csv, counts them and prints the rate. One
// record buffer serves every record (csv.Reader.ReuseRecord), the least any
// reader of the file pays; -reuse=false gives each record a fresh slice of
// strings instead, as a reader that keeps the values gets.
package main

import (
	"bufio"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

func main() {
	reuse := flag.Bool("reuse", true, "reuse one record buffer (csv.Reader.ReuseRecord); false allocates every record")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: csvread [-reuse=false] FILE")
		os.Exit(2)
	}
	start := time.Now()
	f, err := os.Open(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "csvread:", err)
		os.Exit(1)
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReaderSize(f, 1<<16))
	r.ReuseRecord = *reuse
	n := -1 // the header is not a row
	for {
		_, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "csvread:", err)
			os.Exit(1)
		}
		n++
	}
	el := time.Since(start).Seconds()
	fmt.Printf("rows %d elapsed_seconds %.3f rows_per_second %.1f\n", n, el, float64(n)/el)
}
