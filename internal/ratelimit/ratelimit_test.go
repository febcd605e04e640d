package ratelimit

import (
	"context"
	"testing"
	"time"
)

func TestLocalAdmitsTheRateAndKeepsKeysApart(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	l := NewLocal()
	l.NowFunc = func() time.Time { return now }
	ctx := context.Background()
	allowed := func(key string, n int) int {
		got := 0
		for range n {
			ok, err := l.Allow(ctx, key, 20)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				got++
			}
		}
		return got
	}
	if got := allowed("a", 50); got != 20 {
		t.Fatalf("burst of 50 at one instant: allowed %d, want 20", got)
	}
	// Another account's bucket is untouched by a's burst.
	if got := allowed("b", 5); got != 5 {
		t.Fatalf("other key: allowed %d, want 5", got)
	}
	// Half a second later, half the bucket has refilled.
	now = now.Add(500 * time.Millisecond)
	if got := allowed("a", 50); got != 10 {
		t.Fatalf("after 500ms: allowed %d, want 10", got)
	}
	// Over ten simulated seconds at 40 requests/second, 20/s get through.
	total := 0
	for range 400 {
		now = now.Add(25 * time.Millisecond)
		total += allowed("c", 1)
	}
	if total < 200 || total > 220 {
		t.Fatalf("40 req/s for 10s: allowed %d, want about 200 (+burst 20)", total)
	}
}
