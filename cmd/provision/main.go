// Command provision creates Anthropic user profiles in bulk from a user
// export, exactly once per row, and reports what became of every row.
package main

import (
	"os"
)

func main() {
	os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}
