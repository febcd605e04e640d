// Package metrics is what partnerbill tells Prometheus: API requests and
// their latency, rate-limit rejections and Redis fallbacks, and the bill
// file builds that the job queue runs. Callers record events through a
// few methods on one *Metrics built in main and passed down; they never
// see labels or collectors. Everything lives on a registry of its own,
// never on client_golang's global default, so tests and several servers
// in one process do not share series.
//
// Each replica exports its own numbers: sum them across replicas in
// queries (sum by (action) (rate(partnerbill_api_requests_total[5m]))).
// Counters start at zero when a replica starts, which rate() and
// increase() handle.
//
// The build queue is seen from partnerbill's side, whatever runs it:
//   - queued: partnerbill_bill_file_builds_queued_total, new builds added
//     by the enqueuer (BuildQueued);
//   - running: partnerbill_bill_file_builds_running, attempts in progress
//     on this replica (BuildStarted until its BuildDone);
//   - failed: partnerbill_bill_file_builds_total{outcome="failed"}, builds
//     whose last attempt failed; outcome="error" counts failed attempts
//     that are retried, outcome="ok" finished builds.
//
// The backlog grows while, summed over replicas, queued increases faster
// than ok and failed together.
package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics records partnerbill's events. A nil *Metrics records nothing,
// so code under test need not build one. Its methods are safe for
// concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	rateLimited *prometheus.CounterVec
	rlFallbacks prometheus.Counter

	builds        *prometheus.CounterVec
	buildDuration *prometheus.HistogramVec
	rows          *prometheus.CounterVec
	queued        *prometheus.CounterVec
	running       *prometheus.GaugeVec

	// Label values a caller passes are bounded, so that a bug (or a
	// client's made-up action name reaching a label) cannot grow the
	// series without limit.
	actions, codes, fileTypes *labelValues
}

// Label values recorded in place of what a caller passed.
const (
	// NoAction is the action label of a request that named no action the
	// server knows (it failed before, or named an unknown one): the caller
	// passes "".
	NoAction = "none"
	// Other replaces label values past the bound on distinct values.
	Other = "other"
)

// Outcomes of one build attempt, the outcome label of
// partnerbill_bill_file_builds_total.
const (
	// OutcomeOK: the file was written and recorded.
	OutcomeOK = "ok"
	// OutcomeError: the attempt failed and will be retried.
	OutcomeError = "error"
	// OutcomeFailed: the attempt failed and was the last one; the file
	// failed for good and the next request answers FailedOperation.
	OutcomeFailed = "failed"
)

// New returns metrics registered on a fresh registry together with the
// Go runtime and process collectors (go_*, process_*).
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "partnerbill_api_requests_total",
			Help: "API requests answered, by action and code (the error code sent, or ok). A request that named no known action has action=\"none\".",
		}, []string{"action", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "partnerbill_api_request_duration_seconds",
			Help: "Time from receiving an API request to writing its answer, by action.",
			// A request is a few milliseconds: an authenticated lookup and
			// an answer, or a queued build. Seconds mean trouble.
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
		}, []string{"action"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "partnerbill_rate_limit_rejections_total",
			Help: "Requests refused with RequestLimitExceeded, by action.",
		}, []string{"action"}),
		rlFallbacks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "partnerbill_rate_limit_redis_fallbacks_total",
			Help: "Rate-limit decisions this replica took on its own limiter because Redis could not answer; while it grows, replicas do not share buckets.",
		}),
		builds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "partnerbill_bill_file_builds_total",
			Help: "Bill file build attempts finished by this replica, by file type and outcome: ok, error (retried) or failed (the last attempt failed; the file failed for good).",
		}, []string{"file_type", "outcome"}),
		buildDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "partnerbill_bill_file_build_duration_seconds",
			Help: "Time to build a bill file that was built successfully, by file type.",
			// From a small customer's month (well under a second) to the
			// 30-minute build timeout.
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800},
		}, []string{"file_type"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "partnerbill_bill_file_rows_total",
			Help: "Data rows written to bill files built successfully, by file type.",
		}, []string{"file_type"}),
		queued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "partnerbill_bill_file_builds_queued_total",
			Help: "Builds this replica added to the job queue, by file type; a request that found an identical build already queued or done does not count.",
		}, []string{"file_type"}),
		running: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "partnerbill_bill_file_builds_running",
			Help: "Build attempts running on this replica now, by file type.",
		}, []string{"file_type"}),
		actions:   newLabelValues(64),
		codes:     newLabelValues(64),
		fileTypes: newLabelValues(8),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.latency, m.rateLimited, m.rlFallbacks,
		m.builds, m.buildDuration, m.rows, m.queued, m.running,
	)
	return m
}

// Handler serves the metrics in the Prometheus text format, for GET
// /metrics.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveRequest records one answered API request: action is the Action
// the request named if the server knows it, else ""; code is the error
// code sent (tc3's codes, such as "RequestLimitExceeded"), or "ok"; d is
// the time from receiving the request to writing the answer.
func (m *Metrics) ObserveRequest(action, code string, d time.Duration) {
	if m == nil {
		return
	}
	a := m.action(action)
	m.requests.WithLabelValues(a, m.codes.get(code)).Inc()
	m.latency.WithLabelValues(a).Observe(d.Seconds())
}

// RateLimited records one request refused by the rate limit of action (a
// name from the action table). The request is counted by ObserveRequest
// as well, with code RequestLimitExceeded; this counter lets an alert
// watch rejections alone.
func (m *Metrics) RateLimited(action string) {
	if m == nil {
		return
	}
	m.rateLimited.WithLabelValues(m.action(action)).Inc()
}

// RateLimitFallback records one rate-limit decision taken by this
// replica's own limiter because Redis could not answer. It fits
// ratelimit.RedisOptions.FallbackFunc.
func (m *Metrics) RateLimitFallback() {
	if m == nil {
		return
	}
	m.rlFallbacks.Inc()
}

// BuildQueued records that the enqueuer added a build of fileType ("L2",
// "L3") to the job queue. Call it only when the queue took a new job, not
// when its uniqueness found an identical one already queued, running or
// done, so that queued minus finished builds (ok or failed, summed over
// replicas) shows whether the backlog grows.
func (m *Metrics) BuildQueued(fileType string) {
	if m == nil {
		return
	}
	m.queued.WithLabelValues(m.fileTypes.get(fileType)).Inc()
}

// BuildDone ends one build attempt started with BuildStarted. rows is the
// number of data rows written; err is the attempt's error, nil on
// success; final reports that no attempt will follow a failed one (it
// was the last allowed, or the job was cancelled), which makes the
// outcome "failed" instead of "error". The duration and rows are recorded
// for successful builds only. Calls after the first do nothing.
type BuildDone func(rows int64, err error, final bool)

// BuildStarted records that this replica started an attempt at building
// a file of fileType ("L2", "L3"), counted as running until the returned
// BuildDone is called. Call it when the attempt ends; since only the first
// call counts, a deferred call can cover a panic without a flag:
//
//	done := m.BuildStarted(kind)
//	defer done(0, errPanicked, false) // does nothing after the call below
//	rows, err := build()
//	done(rows, err, final)
func (m *Metrics) BuildStarted(fileType string) BuildDone {
	if m == nil {
		return func(int64, error, bool) {}
	}
	ft := m.fileTypes.get(fileType)
	start := time.Now()
	running := m.running.WithLabelValues(ft)
	running.Inc()
	var once sync.Once
	return func(rows int64, err error, final bool) {
		once.Do(func() {
			running.Dec()
			switch {
			case err == nil:
				m.builds.WithLabelValues(ft, OutcomeOK).Inc()
				m.buildDuration.WithLabelValues(ft).Observe(time.Since(start).Seconds())
				m.rows.WithLabelValues(ft).Add(float64(rows))
			case final:
				m.builds.WithLabelValues(ft, OutcomeFailed).Inc()
			default:
				m.builds.WithLabelValues(ft, OutcomeError).Inc()
			}
		})
	}
}

func (m *Metrics) action(a string) string {
	if a == "" {
		return NoAction
	}
	return m.actions.get(a)
}

// labelValues passes the first max distinct values of a label through
// and replaces any later new value with Other.
type labelValues struct {
	mu   sync.Mutex
	seen map[string]bool
	max  int
}

func newLabelValues(limit int) *labelValues {
	return &labelValues{seen: map[string]bool{}, max: limit}
}

func (l *labelValues) get(v string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen[v] {
		return v
	}
	if len(l.seen) >= l.max {
		return Other
	}
	l.seen[v] = true
	return v
}
