package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/partnerbill/partnerbill/internal/tc3"
)

// signed is one pre-signed DescribeBillDownloadUrl request: the SDK signs
// exactly this, and the signature stays valid for five minutes, so the
// load generator replays it without signing in the loop.
type signed struct {
	url    *url.URL
	header http.Header
	body   []byte
}

const requestBody = `{"FileType":"L3","Month":"2024-12"}`

func presign(addr string, keys []key) []signed {
	out := make([]signed, len(keys))
	for i, k := range keys {
		out[i] = presignBody(addr, k, []byte(requestBody))
	}
	return out
}

// presignBody signs a DescribeBillDownloadUrl request with body the way
// the Go SDK does.
func presignBody(addr string, k key, body []byte) signed {
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-TC-Action", "DescribeBillDownloadUrl")
	req.Header.Set("X-TC-Version", tc3.Version)
	req.Header.Set("X-TC-Language", "zh-CN")
	tc3.SignTC3(req, body, k.SecretId, k.SecretKey, time.Now(), tc3.Service)
	return signed{url: req.URL, header: req.Header, body: body}
}

func newClient(conns int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			MaxConnsPerHost:     conns,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		},
		Timeout: 10 * time.Second,
	}
}

// send sends one request to the server it was signed for and returns the
// answer's body. It does as little as a client can (no URL to parse, the
// signed headers copied), because the load generator shares the machine
// with the server it measures.
func send(c *http.Client, s signed) ([]byte, error) {
	req := &http.Request{
		Method:        http.MethodPost,
		URL:           s.url,
		Host:          s.url.Host,
		Header:        s.header.Clone(),
		Body:          io.NopCloser(bytes.NewReader(s.body)),
		ContentLength: int64(len(s.body)),
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// loadResult is what one load phase measured.
type loadResult struct {
	requests int
	errors   int // answers other than a ready file
	rps      float64
	p50, p99 time.Duration
	// cpu is the server process's CPU time (user and system) per request
	// during the phase, 0 if unknown. The kernel's work for the loopback
	// connection counts where it runs, so it includes some of the load
	// generator's share of the network, the same for every server.
	cpu time.Duration
}

func (r loadResult) String() string {
	s := fmt.Sprintf("%.0f req/s, p50 %s, p99 %s", r.rps, fmtDur(r.p50), fmtDur(r.p99))
	if r.cpu > 0 {
		s += fmt.Sprintf(", cpu %s/req", fmtDur(r.cpu))
	}
	return s
}

// measured runs one load phase against p and adds p's CPU time per
// request to its result.
func measured(p *proc, phase func() loadResult) loadResult {
	before, err1 := p.cpuTime()
	r := phase()
	after, err2 := p.cpuTime()
	if err1 == nil && err2 == nil && r.requests > 0 {
		r.cpu = (after - before) / time.Duration(r.requests)
	}
	return r
}

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000)
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

func percentiles(lat []time.Duration) (p50, p99 time.Duration) {
	if len(lat) == 0 {
		return 0, 0
	}
	slices.Sort(lat)
	return lat[len(lat)*50/100], lat[min(len(lat)-1, len(lat)*99/100)]
}

// ok reports whether body is a ready file's answer.
func ok(body []byte) bool {
	return bytes.Contains(body, []byte(`"Ready":1`)) && !bytes.Contains(body, []byte(`"Error"`))
}

// closedLoop sends as fast as conns connections can, for d, cycling
// through reqs so each account gets an equal share.
func closedLoop(ctx context.Context, reqs []signed, conns int, d time.Duration) loadResult {
	c := newClient(conns)
	defer c.CloseIdleConnections()
	var next, errs atomic.Int64
	var mu sync.Mutex
	var all []time.Duration
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			lat := make([]time.Duration, 0, 4096)
			for time.Now().Before(deadline) && ctx.Err() == nil {
				s := reqs[int(next.Add(1))%len(reqs)]
				t0 := time.Now()
				body, err := send(c, s)
				lat = append(lat, time.Since(t0))
				if err != nil || !ok(body) {
					errs.Add(1)
				}
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	p50, p99 := percentiles(all)
	return loadResult{requests: len(all), errors: int(errs.Load()), rps: float64(len(all)) / elapsed.Seconds(), p50: p50, p99: p99}
}

// openLoop sends at a fixed rate for d. Latency counts from when a request
// was due, not when it was sent, so a stalled server is not flattered
// (no coordinated omission).
func openLoop(ctx context.Context, reqs []signed, conns int, rate float64, d time.Duration) loadResult {
	c := newClient(conns)
	defer c.CloseIdleConnections()
	n := int(rate * d.Seconds())
	due := make(chan time.Time, n)
	var errs atomic.Int64
	var mu sync.Mutex
	var all []time.Duration
	var wg sync.WaitGroup
	var next atomic.Int64
	for range conns {
		wg.Go(func() {
			var lat []time.Duration
			for t := range due {
				s := reqs[int(next.Add(1))%len(reqs)]
				body, err := send(c, s)
				lat = append(lat, time.Since(t))
				if err != nil || !ok(body) {
					errs.Add(1)
				}
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		})
	}
	start := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		t := start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(t))
		due <- t
	}
	close(due)
	wg.Wait()
	p50, p99 := percentiles(all)
	return loadResult{requests: len(all), errors: int(errs.Load()), rps: float64(len(all)) / time.Since(start).Seconds(), p50: p50, p99: p99}
}

// serveBaseline is the baseline server: a bare net/http handler that
// answers every request with the bytes partnerbill gave for a ready file
// (read from bodyFile), configured like partnerbill's server. With burn
// above zero, each request first does that much CPU work (see work): the
// control that costs what partnerbill costs per request and does nothing
// else.
func serveBaseline(addr, bodyFile string, burn time.Duration) {
	// partnerbill serve runs its collector at GOGC=200; so does the
	// baseline, unless GOGC says otherwise for both.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	body, err := os.ReadFile(bodyFile)
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		panic(err)
	}
	rounds := 0
	if burn > 0 {
		rounds = calibrate(burn)
	}
	fmt.Printf("baseline listening on %s\n", ln.Addr())
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			work(rounds)
			w.Header().Set("Content-Type", "application/json")
			w.Write(body)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	srv.Serve(ln)
}

// work hashes a small block rounds times: CPU work of a fixed size, which
// takes the same CPU time however often the thread doing it is interrupted
// (a spin until a deadline would not).
func work(rounds int) {
	var b [sha256.Size]byte
	for range rounds {
		b = sha256.Sum256(b[:])
	}
	sink += int(b[0])
}

var sink int

// calibrate returns the rounds of work that take d of CPU time: the fastest
// of several timings, so that an interruption while timing does not count.
func calibrate(d time.Duration) int {
	const n = 20_000
	best := time.Duration(math.MaxInt64)
	for range 15 {
		t := time.Now()
		work(n)
		best = min(best, time.Since(t))
	}
	return int(float64(n) * float64(d) / float64(best))
}
