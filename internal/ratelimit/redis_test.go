package ratelimit

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/partnerbill/partnerbill/internal/testenv"
)

// replica is one server's view of the shared limiter: its own Redis
// client, its own fallback and its own counters, as in a separate process.
type replica struct {
	lim       *Redis
	local     *Local
	fallbacks *atomic.Int64
	logs      *logRecorder
	// now is the clock of the limiter's NowFunc and of its fallback.
	now *clock
}

// openClient returns a client for redisURL, closed at the end of the test.
func openClient(t testing.TB, redisURL string) *redis.Client {
	t.Helper()
	c, err := OpenRedis(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// newReplica builds a Redis limiter on client, with its own fallback,
// clock, log and fallback count. Replicas given the same prefix share
// their buckets.
func newReplica(t testing.TB, client redis.UniversalClient, prefix string, opts *RedisOptions) *replica {
	t.Helper()
	r := &replica{local: NewLocal(), fallbacks: new(atomic.Int64), logs: &logRecorder{}, now: newClock()}
	r.local.NowFunc = r.now.Now
	var o RedisOptions
	if opts != nil {
		o = *opts
	}
	o.Prefix = prefix
	o.Logger = slog.New(r.logs)
	o.FallbackFunc = func() { r.fallbacks.Add(1) }
	o.NowFunc = r.now.Now
	r.lim = NewRedis(client, r.local, &o)
	return r
}

// allowed asks n times for key at perSecond and returns how many passed.
func (r *replica) allowed(t testing.TB, key string, n, perSecond int) int {
	t.Helper()
	got := 0
	for range n {
		ok, err := r.lim.Allow(context.Background(), key, perSecond)
		if err != nil {
			t.Fatalf("Allow(%q): %v", key, err)
		}
		if ok {
			got++
		}
	}
	return got
}

// randomPrefix keeps parallel tests, and repeated runs, out of each
// other's buckets.
func randomPrefix(t testing.TB) string {
	b := make([]byte, 8)
	rand.Read(b)
	return "partnerbill-test:" + strings.ReplaceAll(t.Name(), "/", ".") + ":" + hex.EncodeToString(b) + ":"
}

func TestRedisAdmitsTheRate(t *testing.T) {
	t.Parallel()
	url := testenv.RedisURL(t)

	t.Run("BurstAtOneInstant", func(t *testing.T) {
		t.Parallel()
		r := newReplica(t, openClient(t, url), randomPrefix(t), nil)
		start := time.Now()
		got := r.allowed(t, "800000425835/DescribeBillDownloadUrl", 50, 20)
		// At 20/s a token comes back every 50 ms: a burst that took longer
		// than that may fairly get one more per 50 ms.
		if maxGot := 20 + int(time.Since(start)/(50*time.Millisecond)); got < 20 || got > maxGot {
			t.Fatalf("burst of 50: allowed %d, want 20 (at most %d after %v)", got, maxGot, time.Since(start))
		}
		if n := r.fallbacks.Load(); n != 0 {
			t.Fatalf("%d decisions fell back with Redis up", n)
		}
	})

	t.Run("TwoReplicasShareOneBucket", func(t *testing.T) {
		t.Parallel()
		prefix := randomPrefix(t)
		a := newReplica(t, openClient(t, url), prefix, nil)
		b := newReplica(t, openClient(t, url), prefix, nil)
		start := time.Now()
		got := 0
		for range 25 {
			got += a.allowed(t, "uin/action", 1, 20)
			got += b.allowed(t, "uin/action", 1, 20)
		}
		if maxGot := 20 + int(time.Since(start)/(50*time.Millisecond)); got < 20 || got > maxGot {
			t.Fatalf("two replicas, 50 requests: allowed %d together, want 20 (not 40)", got)
		}
		if n := a.fallbacks.Load() + b.fallbacks.Load(); n != 0 {
			t.Fatalf("%d decisions fell back with Redis up", n)
		}
	})

	t.Run("KeysAreIndependent", func(t *testing.T) {
		t.Parallel()
		r := newReplica(t, openClient(t, url), randomPrefix(t), nil)
		if got := r.allowed(t, "a/DescribeBillDownloadUrl", 30, 20); got < 20 {
			t.Fatalf("key a: allowed %d, want 20", got)
		}
		if got := r.allowed(t, "b/DescribeBillDownloadUrl", 5, 20); got != 5 {
			t.Fatalf("key b after a's burst: allowed %d, want 5", got)
		}
		if got := r.allowed(t, "a/OtherAction", 5, 20); got != 5 {
			t.Fatalf("another action of a: allowed %d, want 5", got)
		}
		// Another prefix (another deployment sharing the Redis) is apart too.
		other := newReplica(t, openClient(t, url), randomPrefix(t), nil)
		if got := other.allowed(t, "a/DescribeBillDownloadUrl", 5, 20); got != 5 {
			t.Fatalf("same key under another prefix: allowed %d, want 5", got)
		}
	})

	t.Run("Refills", func(t *testing.T) {
		t.Parallel()
		r := newReplica(t, openClient(t, url), randomPrefix(t), nil)
		r.allowed(t, "k", 25, 20)
		start := time.Now()
		time.Sleep(250 * time.Millisecond)
		got := r.allowed(t, "k", 20, 20)
		// 250 ms at 20/s is 5 tokens; slack for however long the first
		// burst and this one took.
		if maxGot := 5 + int(time.Since(start)-250*time.Millisecond)/int(50*time.Millisecond) + 2; got < 5 || got > maxGot {
			t.Fatalf("250 ms after emptying: allowed %d, want 5 (at most %d)", got, maxGot)
		}
	})
}

func TestRedisUnreachableFallsBack(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1: every connection is refused at once.
	r := newReplica(t, openClient(t, "redis://127.0.0.1:1/0"), randomPrefix(t), nil)
	got := r.allowed(t, "uin/action", 50, 20)
	if got != 20 {
		t.Fatalf("burst of 50 on the fallback: allowed %d, want 20", got)
	}
	if n := r.fallbacks.Load(); n != 50 {
		t.Fatalf("fallback decisions counted: %d, want 50", n)
	}
	// One warning for the whole burst, naming the error.
	warns := r.logs.at(slog.LevelWarn)
	if len(warns) != 1 || !strings.Contains(warns[0], "refused") {
		t.Fatalf("warnings after 50 fallbacks: %q, want one naming the refused connection", warns)
	}
	// Still failing 31 s later: one more warning, and the bucket has
	// refilled on the fallback's clock.
	r.now.Add(31 * time.Second)
	if got := r.allowed(t, "uin/action", 5, 20); got != 5 {
		t.Fatalf("after 31 s: allowed %d, want 5", got)
	}
	if warns := r.logs.at(slog.LevelWarn); len(warns) != 2 || !strings.Contains(warns[1], "fallback_decisions=50") {
		t.Fatalf("warnings after 31 s: %q, want a second one counting the 50 decisions since the first", warns)
	}
}

func TestRedisSilentServerDoesNotHangRequests(t *testing.T) {
	t.Parallel()
	addr := blackHole(t)
	// Through OpenRedis, and through a client built with go-redis's
	// defaults, which would wait out its 5 s dial timeout on its own.
	clients := map[string]func(t *testing.T) redis.UniversalClient{
		"OpenRedis": func(t *testing.T) redis.UniversalClient { return openClient(t, "redis://"+addr+"/0") },
		"DefaultClient": func(t *testing.T) redis.UniversalClient {
			c := redis.NewClient(&redis.Options{Addr: addr})
			t.Cleanup(func() { c.Close() })
			return c
		},
	}
	for name, client := range clients {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			const timeout = 300 * time.Millisecond
			r := newReplica(t, client(t), randomPrefix(t), &RedisOptions{Timeout: timeout, RetryAfter: 5 * time.Second})
			took := func() time.Duration {
				t.Helper()
				start := time.Now()
				ok, err := r.lim.Allow(context.Background(), "k", 20)
				if err != nil || !ok {
					t.Fatalf("Allow = %v, %v; want true from the fallback", ok, err)
				}
				return time.Since(start)
			}
			if d := took(); d < timeout || d > timeout+time.Second {
				t.Fatalf("first request against a silent Redis took %v, want about the %v timeout", d, timeout)
			}
			// Within RetryAfter, requests skip Redis instead of each waiting.
			if d := took(); d >= timeout/2 {
				t.Fatalf("request right after a timeout took %v: it waited for Redis again", d)
			}
			// After RetryAfter, Redis is tried again.
			r.now.Add(6 * time.Second)
			if d := took(); d < timeout || d > timeout+time.Second {
				t.Fatalf("request after RetryAfter took %v, want about the %v timeout of a new try", d, timeout)
			}
			if n := r.fallbacks.Load(); n != 3 {
				t.Fatalf("fallback decisions counted: %d, want 3", n)
			}
			if warns := r.logs.at(slog.LevelWarn); len(warns) != 1 || !strings.Contains(warns[0], "no answer within 300ms") {
				t.Fatalf("warnings: %q, want one saying Redis did not answer in time", warns)
			}

			// A request whose client has gone is decided locally, but it is
			// not Redis's failure and is not counted.
			r.now.Add(6 * time.Second)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err := r.lim.Allow(ctx, "k", 20); err != nil {
				t.Fatalf("Allow with a cancelled context: %v", err)
			}
			if n := r.fallbacks.Load(); n != 3 {
				t.Fatalf("fallback decisions counted after a cancelled request: %d, want still 3", n)
			}
		})
	}
}

func TestRedisComesBackAfterAnOutage(t *testing.T) {
	t.Parallel()
	url := testenv.RedisURL(t)
	ro, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, ro.Addr)
	prefix := randomPrefix(t)
	r := newReplica(t, openClient(t, strings.Replace(url, ro.Addr, p.addr, 1)), prefix, nil)
	direct := newReplica(t, openClient(t, url), prefix, nil)

	// Redis up: the buckets are shared.
	if got := direct.allowed(t, "k", 20, 20); got < 20 {
		t.Fatalf("direct burst: allowed %d, want 20", got)
	}
	if got := r.allowed(t, "k", 5, 20); got > 1 {
		t.Fatalf("proxied replica after the direct burst: allowed %d, want at most 1", got)
	}

	// Redis down for this replica: its own fresh bucket decides.
	p.setUp(false)
	if got := r.allowed(t, "k", 5, 20); got != 5 {
		t.Fatalf("during the outage: allowed %d, want 5 from the fallback", got)
	}
	if n, warns := r.fallbacks.Load(), r.logs.at(slog.LevelWarn); n != 5 || len(warns) != 1 {
		t.Fatalf("outage: %d fallbacks, warnings %q; want 5 and one warning", n, warns)
	}

	// Redis back: once RetryAfter has passed, the shared bucket decides
	// again, and the recovery is noted once.
	p.setUp(true)
	r.now.Add(2 * time.Second)
	direct.allowed(t, "k2", 20, 20)
	if got := r.allowed(t, "k2", 5, 20); got > 1 {
		t.Fatalf("after the outage: allowed %d on a bucket another replica emptied, want at most 1", got)
	}
	if n := r.fallbacks.Load(); n != 5 {
		t.Fatalf("after the outage: %d more fallback decisions, want none", n-5)
	}
	if infos := r.logs.at(slog.LevelInfo); len(infos) != 1 || !strings.Contains(infos[0], "available again") {
		t.Fatalf("info lines after recovery: %q, want one saying Redis is available again", infos)
	}
}

func TestRedisOddReplyFallsBack(t *testing.T) {
	t.Parallel()
	// A server that answers the rate script with integers where
	// redis_rate expects strings, which makes it panic.
	addr := fakeRedis(t, func(cmd []string) string {
		switch strings.ToUpper(cmd[0]) {
		case "HELLO":
			return "-ERR unknown command 'HELLO'\r\n"
		case "EVALSHA", "EVAL":
			return "*4\r\n:1\r\n:19\r\n:0\r\n:0\r\n"
		}
		return "+OK\r\n"
	})
	r := newReplica(t, openClient(t, "redis://"+addr+"/0"), randomPrefix(t), nil)
	if got := r.allowed(t, "k", 3, 20); got != 3 {
		t.Fatalf("allowed %d of 3, want 3 from the fallback", got)
	}
	if n := r.fallbacks.Load(); n != 3 {
		t.Fatalf("fallback decisions counted: %d, want 3", n)
	}
	if warns := r.logs.at(slog.LevelWarn); len(warns) != 1 || !strings.Contains(warns[0], "unexpected reply") {
		t.Fatalf("warnings: %q, want one about the unexpected reply", warns)
	}
}

// fakeRedis serves the Redis protocol on loopback, answering each command
// (its words) with the raw RESP that reply returns. It returns the address.
func fakeRedis(t testing.TB, reply func(cmd []string) string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	serve := func(c net.Conn) {
		defer c.Close()
		rd := bufio.NewReader(c)
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				return
			}
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "*")))
			cmd := make([]string, 0, n)
			for range n {
				if _, err := rd.ReadString('\n'); err != nil { // $len
					return
				}
				word, err := rd.ReadString('\n')
				if err != nil {
					return
				}
				cmd = append(cmd, strings.TrimSuffix(word, "\r\n"))
			}
			if len(cmd) == 0 {
				return
			}
			if _, err := io.WriteString(c, reply(cmd)); err != nil {
				return
			}
		}
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return ln.Addr().String()
}

// clock is a settable NowFunc, safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Unix(1_800_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// logRecorder is a slog.Handler that keeps each record as one text line.
type logRecorder struct {
	mu    sync.Mutex
	lines map[slog.Level][]string
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lines == nil {
		h.lines = map[slog.Level][]string{}
	}
	h.lines[r.Level] = append(h.lines[r.Level], b.String())
	return nil
}

func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecorder) WithGroup(string) slog.Handler      { return h }

func (h *logRecorder) at(l slog.Level) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.lines[l]...)
}

// blackHole listens on loopback and accepts connections but never
// answers, like a Redis behind a dropped route. It returns the address.
func blackHole(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// proxy forwards TCP connections to a Redis server while up; setUp(false)
// cuts every connection and refuses new ones, as an outage would.
type proxy struct {
	addr  string
	mu    sync.Mutex
	up    bool
	conns []net.Conn
}

func newProxy(t testing.TB, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{addr: ln.Addr().String(), up: true}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if !p.up {
				p.mu.Unlock()
				c.Close()
				continue
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				p.mu.Unlock()
				c.Close()
				continue
			}
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { io.Copy(s, c); s.Close() }()
			go func() { io.Copy(c, s); c.Close() }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.setUp(false)
	})
	return p
}

func (p *proxy) setUp(up bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.up = up
	if !up {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

func TestOpenRedis(t *testing.T) {
	t.Parallel()
	c, err := OpenRedis("redis://:s3cret@redis.example:6380/2")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	o := c.Options()
	if o.Addr != "redis.example:6380" || o.DB != 2 || o.Password != "s3cret" || !o.ContextTimeoutEnabled || o.DialerRetries != 1 || o.MaxRetries != 1 {
		t.Fatalf("options: addr %s db %d context timeouts %v dialer retries %d max retries %d; want redis.example:6380, 2, true, 1, 1",
			o.Addr, o.DB, o.ContextTimeoutEnabled, o.DialerRetries, o.MaxRetries)
	}
	// Settings in the URL win.
	c2, err := OpenRedis("redis://127.0.0.1:6379/0?max_retries=4")
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if o := c2.Options(); o.MaxRetries != 4 {
		t.Fatalf("max_retries=4 in the URL: max retries %d", o.MaxRetries)
	}
	for _, bad := range []string{"http://redis:6379", "redis://:s3cret@[bad/0", ""} {
		_, err := OpenRedis(bad)
		if err == nil {
			t.Errorf("OpenRedis(%q): no error", bad)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("OpenRedis(%q): error %q shows the password", bad, err)
		}
	}
}
