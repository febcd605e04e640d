package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/partnerbill/partnerbill/internal/ratelimit"
)

// scrape GETs the handler and returns the exposition text.
func scrape(t testing.TB, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	b, err := io.ReadAll(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mustHave fails unless every line is in the scrape, exactly.
func mustHave(t testing.TB, text string, lines ...string) {
	t.Helper()
	have := map[string]bool{}
	for l := range strings.SplitSeq(text, "\n") {
		have[l] = true
	}
	for _, l := range lines {
		if !have[l] {
			t.Errorf("scrape lacks %q", l)
		}
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", text)
	}
}

func TestScrapeShowsWhatWasRecorded(t *testing.T) {
	t.Parallel()
	m := New()
	const act = "DescribeBillDownloadUrl"
	m.ObserveRequest(act, "ok", 3*time.Millisecond)
	m.ObserveRequest(act, "ok", 40*time.Millisecond)
	m.ObserveRequest(act, "RequestLimitExceeded", 200*time.Microsecond)
	m.RateLimited(act)
	m.ObserveRequest("", "AuthFailure.SignatureFailure", time.Millisecond)
	m.RateLimitFallback()
	m.RateLimitFallback()

	m.BuildQueued("L3")
	m.BuildQueued("L2")
	done := m.BuildStarted("L3")
	mustHave(t, scrape(t, m), `partnerbill_bill_file_builds_running{file_type="L3"} 1`)
	done(1234, nil, false)
	done(1234, nil, false) // a second call changes nothing
	m.BuildStarted("L2")(0, errors.New("disk full"), false)
	m.BuildStarted("L2")(0, errors.New("disk full"), true)

	mustHave(t, scrape(t, m),
		`partnerbill_api_requests_total{action="DescribeBillDownloadUrl",code="ok"} 2`,
		`partnerbill_api_requests_total{action="DescribeBillDownloadUrl",code="RequestLimitExceeded"} 1`,
		`partnerbill_api_requests_total{action="none",code="AuthFailure.SignatureFailure"} 1`,
		`partnerbill_api_request_duration_seconds_bucket{action="DescribeBillDownloadUrl",le="0.0005"} 1`,
		`partnerbill_api_request_duration_seconds_bucket{action="DescribeBillDownloadUrl",le="0.005"} 2`,
		`partnerbill_api_request_duration_seconds_bucket{action="DescribeBillDownloadUrl",le="0.05"} 3`,
		`partnerbill_api_request_duration_seconds_bucket{action="DescribeBillDownloadUrl",le="+Inf"} 3`,
		`partnerbill_api_request_duration_seconds_count{action="DescribeBillDownloadUrl"} 3`,
		`partnerbill_rate_limit_rejections_total{action="DescribeBillDownloadUrl"} 1`,
		`partnerbill_rate_limit_redis_fallbacks_total 2`,
		`partnerbill_bill_file_builds_queued_total{file_type="L2"} 1`,
		`partnerbill_bill_file_builds_queued_total{file_type="L3"} 1`,
		`partnerbill_bill_file_builds_running{file_type="L2"} 0`,
		`partnerbill_bill_file_builds_running{file_type="L3"} 0`,
		`partnerbill_bill_file_builds_total{file_type="L3",outcome="ok"} 1`,
		`partnerbill_bill_file_builds_total{file_type="L2",outcome="error"} 1`,
		`partnerbill_bill_file_builds_total{file_type="L2",outcome="failed"} 1`,
		`partnerbill_bill_file_build_duration_seconds_count{file_type="L3"} 1`,
		`partnerbill_bill_file_build_duration_seconds_bucket{file_type="L3",le="1800"} 1`,
		`partnerbill_bill_file_rows_total{file_type="L3"} 1234`,
		`# TYPE partnerbill_api_requests_total counter`,
		`# TYPE partnerbill_api_request_duration_seconds histogram`,
		`# TYPE partnerbill_bill_file_builds_running gauge`,
	)
	text := scrape(t, m)
	// Failed attempts record neither a duration nor rows.
	for _, l := range []string{`partnerbill_bill_file_build_duration_seconds_count{file_type="L2"}`, `partnerbill_bill_file_rows_total{file_type="L2"}`} {
		if strings.Contains(text, l) {
			t.Errorf("scrape has %s after failed builds only", l)
		}
	}
	// The Go and process collectors are registered.
	for _, name := range []string{"go_goroutines ", "process_cpu_seconds_total "} {
		if !strings.Contains(text, "\n"+name) {
			t.Errorf("scrape lacks %s", name)
		}
	}
}

func TestRegistriesAreSeparate(t *testing.T) {
	t.Parallel()
	a, b := New(), New()
	a.RateLimitFallback()
	mustHave(t, scrape(t, a), `partnerbill_rate_limit_redis_fallbacks_total 1`)
	mustHave(t, scrape(t, b), `partnerbill_rate_limit_redis_fallbacks_total 0`)
}

func TestLabelValuesAreBounded(t *testing.T) {
	t.Parallel()
	m := New()
	for i := range 200 {
		m.ObserveRequest(fmt.Sprintf("MadeUpAction%d", i), "InvalidAction", time.Millisecond)
	}
	text := scrape(t, m)
	if n := strings.Count(text, "partnerbill_api_requests_total{"); n > 65 {
		t.Fatalf("200 distinct actions made %d request series, want at most 65", n)
	}
	mustHave(t, text, `partnerbill_api_requests_total{action="other",code="InvalidAction"} 136`)
}

func TestNilRecordsNothing(t *testing.T) {
	t.Parallel()
	var m *Metrics
	m.ObserveRequest("DescribeBillDownloadUrl", "ok", time.Millisecond)
	m.RateLimited("DescribeBillDownloadUrl")
	m.RateLimitFallback()
	m.BuildQueued("L3")
	m.BuildStarted("L3")(1, nil, false)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("nil Metrics' handler: %d, want 404", rec.Code)
	}
}

// The server hands RateLimitFallback to the Redis limiter; with Redis
// unreachable, every decision shows in the counter.
func TestRedisFallbacksReachTheCounter(t *testing.T) {
	t.Parallel()
	m := New()
	client, err := ratelimit.OpenRedis("redis://127.0.0.1:1/0") // nothing listens on port 1
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	lim := ratelimit.NewRedis(client, ratelimit.NewLocal(), &ratelimit.RedisOptions{FallbackFunc: m.RateLimitFallback})
	for range 3 {
		if ok, err := lim.Allow(context.Background(), "uin/action", 20); !ok || err != nil {
			t.Fatalf("Allow = %v, %v; want true from the fallback", ok, err)
		}
	}
	mustHave(t, scrape(t, m), `partnerbill_rate_limit_redis_fallbacks_total 3`)
}
