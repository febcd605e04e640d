package ratelimit

import (
	"context"
	"fmt"
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

func TestLocalDropsIdleBucketsAFewAtATime(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	l := NewLocal()
	l.NowFunc = func() time.Time { return now }
	ctx := context.Background()
	const idle = 10_000
	for i := range idle {
		if _, err := l.Allow(ctx, fmt.Sprint("idle-", i), 20); err != nil {
			t.Fatal(err)
		}
	}
	// Drain one bucket that stays in use throughout.
	for range 20 {
		l.Allow(ctx, "busy", 20)
	}
	if got := len(l.buckets); got != idle+1 {
		t.Fatalf("%d buckets after %d keys, want all kept while fresh", got, idle+1)
	}
	busy := l.buckets["busy"]
	// A minute and a second go by with the busy bucket used every second:
	// every other bucket is idle now.
	steps := int(idleAfter/time.Second) + 1
	for range steps {
		now = now.Add(time.Second)
		l.Allow(ctx, "busy", 20)
	}
	// A call looks at a few buckets, not all of them: a server with many
	// accounts must not walk every bucket under the lock on some request.
	const calls = 1024
	for range calls {
		l.Allow(ctx, "busy", 20)
	}
	if dropped := idle + 1 - len(l.buckets); dropped > (steps+calls)*sweepPerCall {
		t.Fatalf("%d calls dropped %d buckets, want at most %d each", steps+calls, dropped, sweepPerCall)
	}
	// Enough calls drop every idle bucket and keep the busy one.
	for range idle {
		now = now.Add(time.Millisecond)
		l.Allow(ctx, "busy", 20)
	}
	if got := len(l.buckets); got != 1 || l.buckets["busy"] == nil {
		t.Fatalf("%d buckets left after the idle ones expired, want only the busy one", got)
	}
	// The busy bucket was never dropped: its state carried over.
	if l.buckets["busy"] != busy {
		t.Fatal("the busy bucket was replaced while in use")
	}
}
