package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

func apiRequest(method, target string, body []byte) *http.Request {
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	req.Header.Set("x-api-key", "k")
	req.Header.Set("anthropic-beta", Beta20260324)
	req.Header.Set("anthropic-version", "2023-06-01")
	return req
}

// populate stores n profiles one millisecond apart, starting at t0, without
// going through HTTP.
func populate(s *Server, n int, t0 time.Time) {
	for i := range n {
		r := &record{id: newProfileID(), referenceID: fmt.Sprint("row-", i), metadata: s.emptyMetadata}
		s.store.add(r, t0.Add(time.Duration(i)*time.Millisecond))
	}
}

// reportCPU adds a cpu-ns/op metric covering the time until the returned
// func is called.
func reportCPU(b *testing.B) func() {
	start := processCPU()
	return func() { b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op") }
}

// BenchmarkCreate measures a create through the handler, from parsing the
// body to encoding the answer, with creates running in parallel; the
// stored=1M case shows the cost does not grow with the store.
func BenchmarkCreate(b *testing.B) {
	body := []byte(`{"external_id":"u-1","name":"Ada Lovelace","relationship":"external","metadata":{"plan":"pro","region":"eu"}}`)
	for _, stored := range []int{0, 1_000_000} {
		b.Run(fmt.Sprint("stored=", stored), func(b *testing.B) {
			s, err := New(Config{})
			if err != nil {
				b.Fatal(err)
			}
			populate(s, stored, time.Now().Add(-time.Hour))
			h := s.Handler()
			b.ReportAllocs()
			b.ResetTimer()
			defer reportCPU(b)()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					w := httptest.NewRecorder()
					h.ServeHTTP(w, apiRequest(http.MethodPost, "/v1/user_profiles", body))
					if w.Code != http.StatusOK {
						b.Fatalf("create: %d %s", w.Code, w.Body)
					}
				}
			})
		})
	}
}

// BenchmarkListSince measures what reconciliation does: list newest first
// until the profiles are older than T, here the 150 newest, which takes two
// pages of 100. Its cost stays flat from a thousand to a million profiles
// because each page starts from a binary search, not a scan.
func BenchmarkListSince(b *testing.B) {
	t0 := time.Date(2026, 3, 24, 0, 0, 0, 0, time.UTC)
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprint("stored=", n), func(b *testing.B) {
			s, err := New(Config{})
			if err != nil {
				b.Fatal(err)
			}
			populate(s, n, t0)
			since := t0.Add(time.Duration(n-150) * time.Millisecond)
			h := s.Handler()
			b.ReportAllocs()
			b.ResetTimer()
			defer reportCPU(b)()
			for b.Loop() {
				page, found := "", 0
				for {
					target := "/v1/user_profiles?limit=100"
					if page != "" {
						target += "&page=" + url.QueryEscape(page)
					}
					w := httptest.NewRecorder()
					h.ServeHTTP(w, apiRequest(http.MethodGet, target, nil))
					// Only what the client's loop looks at is decoded.
					var out struct {
						Data []struct {
							CreatedAt time.Time `json:"created_at"`
						} `json:"data"`
						NextPage *string `json:"next_page"`
					}
					if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || w.Code != http.StatusOK {
						b.Fatalf("list: %d %v", w.Code, err)
					}
					done := false
					for _, p := range out.Data {
						if p.CreatedAt.Before(since) {
							done = true
							break
						}
						found++
					}
					if done || out.NextPage == nil {
						break
					}
					page = *out.NextPage
				}
				if found != 150 {
					b.Fatalf("found %d profiles since T, want 150", found)
				}
			}
		})
	}
}

// BenchmarkListPage isolates the store: one page of 100, newest first, from
// a cursor in the middle of the log. A scan would grow a thousandfold from
// the first case to the last; the binary search grows by a few steps.
func BenchmarkListPage(b *testing.B) {
	t0 := time.Date(2026, 3, 24, 0, 0, 0, 0, time.UTC)
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprint("stored=", n), func(b *testing.B) {
			s, err := New(Config{})
			if err != nil {
				b.Fatal(err)
			}
			populate(s, n, t0)
			mid := s.store.view().at(n / 2)
			q := listQuery{limit: 100, desc: true, after: &cursor{At: mid.created, ID: mid.id}}
			b.ReportAllocs()
			b.ResetTimer()
			defer reportCPU(b)()
			for b.Loop() {
				if page, _ := s.store.list(q); len(page) != 100 {
					b.Fatalf("page of %d", len(page))
				}
			}
		})
	}
}
