package state

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/provision/provision/internal/profile"
)

// BenchmarkRowPath is the state's cost of one fresh row of a run: Admit,
// a group commit every 64 rows (as the job does), then Record of its
// profile. go test -bench RowPath -benchtime 20000x ./internal/state/
func BenchmarkRowPath(b *testing.B) {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "s.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	run, err := s.BeginRun(Spec{Command: "run", Input: "bench.csv", Columns: []string{"external_id", "name", "plan"}})
	if err != nil {
		b.Fatal(err)
	}
	ins := make([]Input, b.N)
	for i := range ins {
		ext := fmt.Sprintf("user-%08d", i)
		r := profile.Request{ExternalID: profile.Str(ext), Name: profile.Str("Ada Lovelace"), Metadata: map[string]string{"plan": "pro"}}
		ins[i] = Input{Seq: int64(i + 1), Line: i + 2, Request: r,
			Fields: []profile.Field{{Name: "external_id", Value: ext}, {Name: "name", Value: "Ada Lovelace"}, {Name: "plan", Value: "pro"}}}
	}
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += 64 {
		end := min(i+64, b.N)
		for _, in := range ins[i:end] {
			d, err := s.Admit(run.ID, in)
			if err != nil || !d.Send {
				b.Fatalf("admit: %+v %v", d, err)
			}
		}
		if err := s.Commit(); err != nil {
			b.Fatal(err)
		}
		for _, in := range ins[i:end] {
			if err := s.Record(run.ID, Outcome{Seq: in.Seq, Identity: in.Request.Identity(), Status: profile.StatusCreated,
				ProfileID: "uprof_0123456789abcdefghijklmn", CreatedAt: now, RequestID: "req_0123456789abcdefghijklmn", Attempts: 1}); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := s.Commit(); err != nil {
		b.Fatal(err)
	}
}
