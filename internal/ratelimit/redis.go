package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Redis is a Limiter whose buckets live in Redis, so that every replica
// behind a load balancer takes from the same bucket: N replicas together
// admit an account the documented rate, not N times it. It uses
// redis_rate's GCRA script, which keeps one small key per bucket with an
// expiry, so idle buckets cost nothing.
//
// Redis is an optimisation of fairness, not a dependency of the API: when
// Redis cannot answer within RedisOptions.Timeout (down, unreachable,
// slow, or answering with an error), the request is decided by the
// replica's own fallback Limiter instead and Allow returns no error. While
// that lasts each replica admits the rate on its own, so N replicas admit
// up to N times it. A warning is logged at most once per WarnEvery while
// the trouble persists, and every decision taken by the fallback is
// reported to FallbackFunc (a Prometheus counter in the server).
type Redis struct {
	limiter  *redis_rate.Limiter
	fallback Limiter
	opts     RedisOptions

	// downUntil is when Redis is next tried after a failure (Unix
	// nanoseconds of NowFunc's clock); until then requests go straight to
	// the fallback instead of each waiting for a timeout.
	downUntil atomic.Int64

	// warned is set by a warning and cleared by the note that Redis
	// answers again, so that a recovery is reported only after a warning.
	warned atomic.Bool
	// mu guards lastWarn and unlogged.
	mu sync.Mutex
	// lastWarn is when the last warning was logged. It survives a
	// recovery, so that a flapping Redis is still reported at most once
	// per WarnEvery.
	lastWarn time.Time
	// unlogged counts fallback decisions since the last log line.
	unlogged int64
}

// RedisOptions tunes a Redis limiter. Nil, or a zero field, means the
// default.
type RedisOptions struct {
	// Prefix starts every bucket's key, so that partnerbill's keys are
	// easy to find and cannot collide with another application's sharing
	// the Redis database; default DefaultPrefix. (redis_rate puts its own
	// "rate:" in front of it.)
	Prefix string
	// Timeout bounds one Redis call, on top of the request's own context,
	// so that a slow or black-holed Redis delays a request by at most this
	// much; default 100 ms.
	Timeout time.Duration
	// RetryAfter is how long requests skip Redis after a failed call and
	// go straight to the fallback, so that an unreachable Redis does not
	// cost every request a Timeout; default 1 s.
	RetryAfter time.Duration
	// WarnEvery is the least time between two warnings while Redis keeps
	// failing; default 30 s.
	WarnEvery time.Duration
	// Logger receives the warnings, and a note when Redis answers again;
	// nil discards them.
	Logger *slog.Logger
	// FallbackFunc, when set, is called once for every request that Redis
	// trouble made the fallback decide (metrics.Metrics.RateLimitFallback
	// in the server). Requests whose own context ended are not counted:
	// that is the client's doing, not Redis's.
	FallbackFunc func()
	// NowFunc replaces time.Now for RetryAfter and WarnEvery, for tests.
	// The buckets themselves run on the Redis server's clock.
	NowFunc func() time.Time
}

var (
	_ Limiter = (*Local)(nil)
	_ Limiter = (*Redis)(nil)
)

// DefaultPrefix is the default RedisOptions.Prefix.
const DefaultPrefix = "partnerbill:rl:"

// NewRedis returns a Limiter that keeps its buckets in Redis through
// client and asks fallback (normally a Local) whenever Redis cannot
// answer. A nil opts means the defaults. The caller owns client and
// closes it after the last Allow.
func NewRedis(client redis.UniversalClient, fallback Limiter, opts *RedisOptions) *Redis {
	var o RedisOptions
	if opts != nil {
		o = *opts
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Timeout <= 0 {
		o.Timeout = 100 * time.Millisecond
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = time.Second
	}
	if o.WarnEvery <= 0 {
		o.WarnEvery = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.FallbackFunc == nil {
		o.FallbackFunc = func() {}
	}
	if o.NowFunc == nil {
		o.NowFunc = time.Now
	}
	return &Redis{limiter: redis_rate.NewLimiter(client), fallback: fallback, opts: o}
}

// Allow implements Limiter. When Redis fails it returns the fallback's
// answer, so it returns an error only when the fallback does.
func (l *Redis) Allow(ctx context.Context, key string, perSecond int) (bool, error) {
	if perSecond <= 0 {
		// As Local: a rate of zero admits nothing. redis_rate would
		// divide by it.
		return false, nil
	}
	if l.opts.NowFunc().UnixNano() < l.downUntil.Load() {
		l.fellBack(nil)
		return l.fallback.Allow(ctx, key, perSecond)
	}
	ok, err := l.allowRedis(ctx, key, perSecond)
	if err == nil {
		l.recovered()
		return ok, nil
	}
	if ctx.Err() == nil {
		l.downUntil.Store(l.opts.NowFunc().Add(l.opts.RetryAfter).UnixNano())
		l.fellBack(err)
	}
	return l.fallback.Allow(ctx, key, perSecond)
}

// allowRedis asks Redis, giving up after Timeout. go-redis honours a
// context deadline in the middle of a command only when the client was
// built with ContextTimeoutEnabled (OpenRedis does that); without it a
// silent server holds a call for ReadTimeout or DialTimeout, seconds. So
// the call runs aside and the request stops waiting at the deadline
// whatever the client's settings; the call itself then ends at the
// client's own timeout.
func (l *Redis) allowRedis(ctx context.Context, key string, perSecond int) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, l.opts.Timeout)
	defer cancel()
	type answer struct {
		ok  bool
		err error
	}
	done := make(chan answer, 1)
	go func() {
		// redis_rate type-asserts the script's reply: a server that
		// answers in another shape would otherwise panic this goroutine,
		// which no HTTP handler's recover sees, and end the process.
		defer func() {
			if p := recover(); p != nil {
				done <- answer{err: fmt.Errorf("unexpected reply from Redis: %v", p)}
			}
		}()
		res, err := l.limiter.Allow(ctx, l.opts.Prefix+key, redis_rate.PerSecond(perSecond))
		if err != nil {
			done <- answer{err: err}
			return
		}
		done <- answer{ok: res.Allowed > 0}
	}()
	select {
	case a := <-done:
		return a.ok, a.err
	case <-ctx.Done():
		return false, fmt.Errorf("no answer within %v: %w", l.opts.Timeout, ctx.Err())
	}
}

// OpenRedis returns a client for a redis:// or rediss:// URL (the
// --redis flag) set up for the limiter:
//   - ContextTimeoutEnabled, so that the limiter's short deadline also
//     ends the command itself instead of leaving it to wait out go-redis's
//     socket timeouts;
//   - one dial attempt and one command retry per call (unless the URL
//     sets max_retries), so that a refused connection is reported as such
//     at once instead of the Timeout going on go-redis's retries and their
//     backoff. The limiter's RetryAfter spaces the next attempts, and the
//     one retry still covers a pooled connection that went stale.
//
// It does not connect: the limiter works on its fallback until Redis
// answers. The caller closes the client.
func OpenRedis(rawURL string) (*redis.Client, error) {
	o, err := redis.ParseURL(rawURL)
	if err != nil {
		// A *url.Error quotes the URL, and with it any password.
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("redis URL: %w", err)
	}
	o.ContextTimeoutEnabled = true
	o.DialerRetries = 1
	if o.MaxRetries == 0 {
		o.MaxRetries = 1
	}
	return redis.NewClient(o), nil
}

// fellBack counts one decision left to the fallback and logs a warning
// when none was logged for WarnEvery. err is the Redis error, or nil when
// Redis was skipped because it failed a moment ago; only a fresh error is
// logged.
func (l *Redis) fellBack(err error) {
	l.opts.FallbackFunc()
	now := l.opts.NowFunc()
	l.mu.Lock()
	l.unlogged++
	if err == nil || (!l.lastWarn.IsZero() && now.Sub(l.lastWarn) < l.opts.WarnEvery) {
		l.mu.Unlock()
		return
	}
	n := l.unlogged
	l.unlogged = 0
	l.lastWarn = now
	l.warned.Store(true)
	l.mu.Unlock()
	l.opts.Logger.Warn("redis rate limiter unavailable: this replica limits on its own until Redis answers",
		"err", err, "fallback_decisions", n, "next_warning_after", l.opts.WarnEvery)
}

// recovered notes that Redis answers again, once after each warning.
func (l *Redis) recovered() {
	if !l.warned.Load() {
		return
	}
	l.mu.Lock()
	if !l.warned.Swap(false) {
		l.mu.Unlock()
		return
	}
	n := l.unlogged
	l.unlogged = 0
	l.mu.Unlock()
	l.opts.Logger.Info("redis rate limiter available again", "fallback_decisions", n)
}
