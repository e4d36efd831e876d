// Command sdkloop is the floor for sending creates: N POST /v1/user_profiles
// through the official SDK from a few goroutines, keeping no state. It prints
// the rate.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
)

func main() {
	url := flag.String("url", "", "base URL of the API (the emulator)")
	n := flag.Int("n", 20000, "creates to send")
	c := flag.Int("c", 16, "goroutines")
	flag.Parse()
	if *url == "" || *n < 1 || *c < 1 {
		fmt.Fprintln(os.Stderr, "usage: sdkloop -url URL [-n N] [-c C]")
		os.Exit(2)
	}
	// The default transport keeps 2 idle connections per host; keep one per
	// goroutine, as provision does, so the loop does not measure reconnecting.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = *c
	client := anthropic.NewClient(option.WithBaseURL(*url), option.WithAPIKey("k"), option.WithMaxRetries(0),
		option.WithHTTPClient(&http.Client{Transport: tr}))
	ctx := context.Background()
	var next, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range *c {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(*n) {
					return
				}
				body := map[string]any{
					"external_id":  "sdk-" + strconv.FormatInt(i, 10),
					"name":         "Ada Lovelace",
					"relationship": "external",
					"metadata":     map[string]string{"plan": "pro", "region": "eu"},
				}
				var res struct {
					ID string `json:"id"`
				}
				if err := client.Post(ctx, "v1/user_profiles", body, &res, option.WithHeader("anthropic-beta", "user-profiles-2026-03-24")); err != nil || res.ID == "" {
					failed.Add(1)
					if err != nil {
						firstErr.CompareAndSwap(nil, err.Error())
					}
				}
			}
		})
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	ok := int64(*n) - failed.Load()
	fmt.Printf("rows %d failed %d elapsed_seconds %.3f rows_per_second %.1f\n", ok, failed.Load(), el, float64(ok)/el)
	if failed.Load() > 0 {
		fmt.Fprintln(os.Stderr, "sdkloop: first error:", firstErr.Load())
		os.Exit(1)
	}
}
