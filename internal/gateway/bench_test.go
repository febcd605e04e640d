package gateway_test

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/partnerbill/partnerbill/internal/gateway"
	"github.com/partnerbill/partnerbill/internal/ledger"
	"github.com/partnerbill/partnerbill/internal/ratelimit"
	"github.com/partnerbill/partnerbill/internal/store/storetest"
)

// BenchmarkReadyLink serves what clients poll most: a TC3-signed
// DescribeBillDownloadUrl for a file that is ready, through the whole
// handler (signature, key and account from the embedded store, rate
// limit, file lookup, a fresh link, the envelope, the log line), in
// process. Its allocations per request are what the garbage collector
// pays for under load; the bench command (go run ./bench) measures the
// same path over the network against a bare net/http baseline.
func BenchmarkReadyLink(b *testing.B) {
	// Spread the one caller over many rate-limit buckets, as the bench
	// spreads its load over many accounts: the limiter does its usual
	// work and never refuses (4096 buckets of 20 a second hold 81,920
	// requests a second; 1024 did not, once the handler got faster).
	bd := setup(b, func(c *gateway.Config) { c.Limiter = &spread{inner: ratelimit.NewLocal()} })
	ctx := context.Background()
	row := storetest.Row("1", bd.customer.UIN, "2024-12-01 00:00:00")
	if _, err := bd.store.ImportRows(ctx, func(yield func(ledger.Row, error) bool) { yield(row, nil) }); err != nil {
		b.Fatal(err)
	}
	body := `{"Month":"2024-12","FileType":"L3"}`
	if env := bd.settled(b, body); code(env) != "ok" || *env.Response.Ready != 1 {
		b.Fatalf("build: %s", code(env))
	}
	// One signature serves every iteration, as the bench's load generator
	// does: it stays valid inside the timestamp window.
	signed := bd.tc3(b, reqOpts{body: body})
	ready := []byte(`"Ready":1`)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		r := signed.Clone(ctx)
		r.Body = io.NopCloser(strings.NewReader(body))
		w := httptest.NewRecorder()
		bd.handler.ServeHTTP(w, r)
		if w.Code != 200 || !bytes.Contains(w.Body.Bytes(), ready) {
			b.Fatalf("HTTP %d: %s", w.Code, w.Body)
		}
		if n++; n%4096 == 0 {
			bd.logs.reset()
		}
	}
}

type spread struct {
	inner ratelimit.Limiter
	n     atomic.Uint64
}

func (s *spread) Allow(ctx context.Context, key string, perSecond int) (bool, error) {
	return s.inner.Allow(ctx, key+"#"+strconv.FormatUint(s.n.Add(1)%4096, 10), perSecond)
}
