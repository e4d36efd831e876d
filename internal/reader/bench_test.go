package reader

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"testing"
)

// benchCSV is a 100k-row export with the canonical columns, a metadata key
// and a column no field uses; some names are quoted.
func benchCSV() []byte {
	var b bytes.Buffer
	b.WriteString("external_id,name,relationship,metadata.plan,email\n")
	for i := range 100_000 {
		name := fmt.Sprintf("Person %d", i)
		if i%10 == 0 {
			name = fmt.Sprintf("\"Person, %d\"", i)
		}
		fmt.Fprintf(&b, "user-%07d,%s,external,pro,person%d@example.com\n", i, name, i)
	}
	return b.Bytes()
}

func BenchmarkCSV(b *testing.B) {
	data := benchCSV()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := Open(bytes.NewReader(data), Options{Format: FormatCSV})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil || rec.Problem != nil {
				b.Fatal(err, rec.Problem)
			}
			n++
		}
		if n != 100_000 {
			b.Fatalf("%d records", n)
		}
	}
}

// BenchmarkBareCSV is encoding/csv alone on the same bytes: the floor that
// BenchmarkCSV is compared with.
func BenchmarkBareCSV(b *testing.B) {
	data := benchCSV()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r := csv.NewReader(bytes.NewReader(data))
		r.ReuseRecord = true
		r.FieldsPerRecord = -1
		n := 0
		for {
			_, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 100_001 {
			b.Fatalf("%d records", n)
		}
	}
}

func BenchmarkJSONL(b *testing.B) {
	var buf bytes.Buffer
	for i := range 100_000 {
		fmt.Fprintf(&buf, `{"external_id":"user-%07d","name":"Person %d","relationship":"external","metadata":{"plan":"pro"},"email":"person%d@example.com"}`+"\n", i, i, i)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := Open(bytes.NewReader(data), Options{Format: FormatJSONL})
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}
