package reader

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/provision/provision/internal/profile"
)

// readAll opens input and returns every record, or the error that stopped it.
func readAll(t *testing.T, input []byte, opts Options) (*Reader, []Record, error) {
	t.Helper()
	r, err := Open(strings.NewReader(string(input)), opts)
	if err != nil {
		return nil, nil, err
	}
	var out []Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return r, out, nil
		}
		if err != nil {
			return r, out, err
		}
		out = append(out, rec)
	}
}

// dump renders records one per line, so a case can state all of them:
// "LINE ext=… name=… rel=… meta={k:v …}" or "LINE !rule field: message".
func dump(recs []Record) string {
	var b strings.Builder
	for _, r := range recs {
		fmt.Fprintf(&b, "%d ", r.Line)
		if r.Problem != nil {
			fmt.Fprintf(&b, "!%s %s\n", r.Problem.Rule, r.Problem.Error())
			continue
		}
		q := r.Request
		fmt.Fprintf(&b, "ext=%s name=%s rel=%s", str(q.ExternalID), str(q.Name), str(q.Relationship))
		if q.Metadata != nil {
			keys := make([]string, 0, len(q.Metadata))
			for k := range q.Metadata {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			b.WriteString(" meta={")
			for i, k := range keys {
				if i > 0 {
					b.WriteByte(' ')
				}
				fmt.Fprintf(&b, "%s:%s", k, q.Metadata[k])
			}
			b.WriteString("}")
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func str(p *string) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%q", *p)
}

func fieldsText(fs []profile.Field) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = fmt.Sprintf("%s=%q", f.Name, f.Value)
	}
	return strings.Join(parts, " ")
}

func testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func usageText(err error) string {
	var ue *UsageError
	if errors.As(err, &ue) {
		return ue.Message
	}
	return ""
}
