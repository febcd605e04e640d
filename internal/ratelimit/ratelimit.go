// Package ratelimit enforces each action's documented request rate per
// account. The gateway asks one Limiter: Local keeps the buckets in
// process (one server), Redis shares them between replicas and falls back
// to a Local while Redis cannot answer.
package ratelimit

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter decides whether one more request under key fits in perSecond.
type Limiter interface {
	// Allow takes one request's token from the bucket named key, which
	// refills at perSecond with a burst of perSecond, and reports whether
	// there was one.
	Allow(ctx context.Context, key string, perSecond int) (bool, error)
}

// Local is an in-process Limiter: a token bucket per key
// (golang.org/x/time/rate). Each key has its own bucket, so one account's
// burst never slows another's.
type Local struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	// NowFunc replaces time.Now, for tests.
	NowFunc func() time.Time
}

type bucket struct {
	lim      *rate.Limiter
	lastUsed time.Time
}

// NewLocal returns an empty in-process limiter.
func NewLocal() *Local { return &Local{buckets: map[string]*bucket{}} }

// idleAfter is how long a bucket may sit unused before it is dropped; a
// dropped bucket comes back full, which an idle caller would have anyway.
const idleAfter = time.Minute

// sweepPerCall is how many buckets each call looks at for idle ones. Every
// call adds at most one bucket and looks at more than one, starting where
// map iteration starts (a random place), so idle buckets are dropped as
// fast as new ones come, and no call walks the whole map under the lock,
// however many accounts there are.
const sweepPerCall = 2

// Allow implements Limiter.
func (l *Local) Allow(_ context.Context, key string, perSecond int) (bool, error) {
	now := time.Now()
	if l.NowFunc != nil {
		now = l.NowFunc()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for k, b := range l.buckets {
		if now.Sub(b.lastUsed) > idleAfter {
			delete(l.buckets, k)
		}
		if n++; n == sweepPerCall {
			break
		}
	}
	b := l.buckets[key]
	if b == nil || b.lim.Limit() != rate.Limit(perSecond) {
		b = &bucket{lim: rate.NewLimiter(rate.Limit(perSecond), perSecond)}
		l.buckets[key] = b
	}
	b.lastUsed = now
	return b.lim.AllowN(now, 1), nil
}
