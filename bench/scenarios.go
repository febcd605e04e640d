package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// month is the bill month every scenario uses.
const month = "2024-12"

func runAll(ctx context.Context, c config) ([]result, error) {
	dir := c.workDir
	if dir == "" {
		d, err := os.MkdirTemp("", "partnerbill-bench-")
		if err != nil {
			return nil, err
		}
		dir = d
		if !c.keep {
			defer os.RemoveAll(dir)
		}
	}
	if c.profileDir != "" {
		if err := os.MkdirAll(c.profileDir, 0o755); err != nil {
			return nil, err
		}
		abs, _ := filepath.Abs(c.profileDir)
		c.profileDir = abs
	}
	logf("working in %s", dir)
	if c.keep {
		keptLogs = filepath.Join(dir, "logs")
		if err := os.MkdirAll(keptLogs, 0o755); err != nil {
			return nil, err
		}
	}
	if os.Getenv("PARTNERBILL_MASTER_KEY") == "" {
		// Every partnerbill the run starts shares one master key for the
		// sealed SecretKeys (PostgreSQL needs it in the environment).
		var b [32]byte
		rand.Read(b[:])
		os.Setenv("PARTNERBILL_MASTER_KEY", hex.EncodeToString(b[:]))
	}
	pb, err := buildPartnerbill(ctx, dir)
	if err != nil {
		return nil, err
	}
	e := &env{cfg: c, dir: dir, pb: pb, database: c.database}
	if e.database != "" {
		logf("database: PostgreSQL (%s)", redactURL(e.database))
	} else {
		logf("database: embedded SQLite")
	}
	var results []result
	steps := []struct {
		name string
		fn   func(context.Context) ([]result, error)
	}{
		{"request", e.requestPath},
		{"import", e.importScenario},
		{"ready", e.timeToReady},
		{"memory", e.memoryFlat},
	}
	for _, s := range steps {
		if !c.scenarios[s.name] {
			continue
		}
		logf("scenario %s", s.name)
		rs, err := s.fn(ctx)
		results = append(results, rs...)
		if err != nil {
			return results, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return results, nil
}

func redactURL(u string) string {
	if i := strings.Index(u, "@"); i > 0 {
		if j := strings.Index(u, "://"); j > 0 && j < i {
			return u[:j+3] + "…" + u[i:]
		}
	}
	return u
}

// median returns the median of xs (the upper one of an even count).
func median[T cmp.Ordered](xs []T) T {
	return medianBy(xs, func(x T) T { return x })
}

// medianBy returns the element of xs whose key is the median.
func medianBy[T any, K cmp.Ordered](xs []T, key func(T) K) T {
	s := slices.Clone(xs)
	slices.SortFunc(s, func(a, b T) int { return cmp.Compare(key(a), key(b)) })
	return s[len(s)/2]
}

func (e *env) profileArgs(name string) []string {
	if e.cfg.profileDir == "" {
		return nil
	}
	args := []string{"--cpuprofile", filepath.Join(e.cfg.profileDir, name+".cpu.pprof"),
		"--memprofile", filepath.Join(e.cfg.profileDir, name+".allocs.pprof")}
	if e.cfg.trace {
		args = append(args, "--trace", filepath.Join(e.cfg.profileDir, name+".trace"))
	}
	return args
}

// requestPath: DescribeBillDownloadUrl for ready files over keep-alive
// connections, against a bare handler returning the same bytes.
func (e *env) requestPath(ctx context.Context) ([]result, error) {
	data := filepath.Join(e.dir, "request")
	e.resetDatabase(ctx, data)
	out, err := e.cli(ctx, data, "ledger", "synth", "--customers", fmt.Sprint(e.cfg.accounts), "--rows-per-customer", "0",
		"--month", month, "--out", os.DevNull, "--create-accounts")
	if err != nil {
		return nil, err
	}
	keys, err := parseKeys(out)
	if err != nil {
		return nil, err
	}
	warm, err := e.startServer(ctx, data)
	if err != nil {
		return nil, err
	}
	defer warm.stop()
	reqs := presign(warm.addr, keys)
	// Warm up: every account's (empty) file built and ready.
	c := newClient(e.cfg.concurrency)
	pending := slices.Clone(reqs)
	var sample []byte
	srv := warm
	warmStart := time.Now()
	for deadline := time.Now().Add(5 * time.Minute); len(pending) > 0; {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("%d files still not ready after warm-up", len(pending))
		}
		var still []signed
		for _, s := range pending {
			body, err := send(c, s)
			if err != nil {
				return nil, err
			}
			if !ok(body) {
				still = append(still, s)
			} else {
				sample = body
			}
		}
		pending = still
		if len(pending) > 0 {
			time.Sleep(200 * time.Millisecond)
		}
	}
	// Every account's first request queues a build of an empty month: how
	// fast they come ready is the build queue's pace with short builds.
	warmTook := time.Since(warmStart)
	logf("request path: %d accounts ready in %s (%.0f builds/s); answer is %d bytes", len(keys), warmTook.Round(10*time.Millisecond),
		float64(len(keys))/warmTook.Seconds(), len(sample))
	// Measure a server that has done nothing but start: the warm-up's
	// builds and queue work stay out of the figures and the profile.
	if err := warm.stop(); err != nil {
		return nil, fmt.Errorf("stop the warm-up server: %w", err)
	}
	srv, err = e.startServer(ctx, data, e.profileArgs("request")...)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	reqs = presign(srv.addr, keys)
	bodyFile := filepath.Join(e.dir, "baseline-body.json")
	if err := os.WriteFile(bodyFile, sample, 0o644); err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	base, err := startBaseline(ctx, self, bodyFile, 0)
	if err != nil {
		return nil, err
	}
	defer base.stop()
	// The baseline answers the same signed requests; it checks nothing.
	baseReqs := presign(base.addr, keys)

	d, conns := e.cfg.duration, e.cfg.concurrency
	var pbMax, baseMax []loadResult
	for i := range e.cfg.runs {
		pbMax = append(pbMax, measured(srv, func() loadResult { return closedLoop(ctx, reqs, conns, d) }))
		baseMax = append(baseMax, measured(base, func() loadResult { return closedLoop(ctx, baseReqs, conns, d) }))
		logf("request path run %d: partnerbill %v (%d not ready/limited); baseline %v", i+1, pbMax[i], pbMax[i].errors, baseMax[i])
	}
	pb, bl := medianLoad(pbMax), medianLoad(baseMax)
	half := pb.rps / 2
	// The floor: the bare handler at half of its own maximum. A server
	// that did nothing beyond it would reach the bare handler's maximum, so
	// this is the p99 at half load of the cheapest server partnerbill could
	// ever be; if it misses a target, so does any server on this machine.
	floorRate := bl.rps / 2
	var pbHalves, baseHalves, ctrlHalves, floorHalves []loadResult
	// The control, a third server started after the first half-load run:
	// the bare handler doing, per request, the CPU work partnerbill does
	// beyond it (as that run measured). Its p99 is what this machine gives
	// any server of partnerbill's cost at this rate, with the load
	// generator on the same two cores.
	var ctrl *proc
	var ctrlReqs []signed
	var extra time.Duration
	for i := range e.cfg.runs {
		pbHalves = append(pbHalves, measured(srv, func() loadResult { return openLoop(ctx, reqs, conns, half, d) }))
		baseHalves = append(baseHalves, measured(base, func() loadResult { return openLoop(ctx, baseReqs, conns, half, d) }))
		if i == 0 {
			ctrl, extra, err = e.startControl(ctx, self, bodyFile, keys, half, pbHalves[0].cpu, baseHalves[0].cpu)
			if err != nil {
				return nil, err
			}
			if ctrl != nil {
				defer ctrl.stop()
				ctrlReqs = presign(ctrl.addr, keys)
			}
		}
		line := fmt.Sprintf("request path at %.0f req/s, run %d: partnerbill %v; baseline %v", half, i+1, pbHalves[i], baseHalves[i])
		if ctrl != nil {
			ctrlHalves = append(ctrlHalves, measured(ctrl, func() loadResult { return openLoop(ctx, ctrlReqs, conns, half, d) }))
			line += fmt.Sprintf("; control (baseline + %s of work, as timed on an idle core) %v", fmtDur(extra), ctrlHalves[i])
		}
		floorHalves = append(floorHalves, measured(base, func() loadResult { return openLoop(ctx, baseReqs, conns, floorRate, d) }))
		line += fmt.Sprintf("; baseline at half its own maximum, %.0f req/s: %v", floorRate, floorHalves[i])
		logf("%s", line)
	}
	pbHalf, baseHalf := medianP99(pbHalves), medianP99(baseHalves)
	var errs error
	if pb.errors > 0 || pbHalf.errors > 0 {
		errs = fmt.Errorf("%d answers were not a ready file (rate limited? raise -accounts)", pb.errors+pbHalf.errors)
	}
	rs := []result{
		{scenario: "request path, max throughput", partnerbill: pb.String(), baseline: bl.String(),
			ratio: fmt.Sprintf("%.2f×", pb.rps/bl.rps), target: "≥ 0.50×"},
		{scenario: fmt.Sprintf("request path at half load (%.0f req/s)", half), partnerbill: pbHalf.String(), baseline: baseHalf.String(),
			ratio: fmt.Sprintf("p99 %s", fmtDur(pbHalf.p99)), target: "p99 < 5ms"},
	}
	if len(ctrlHalves) > 0 {
		c := medianP99(ctrlHalves)
		rs = append(rs, result{scenario: "  same, against the bare handler at partnerbill's CPU/req", partnerbill: pbHalf.String(), baseline: c.String(),
			ratio: fmt.Sprintf("p99 %.2f×", float64(pbHalf.p99)/float64(c.p99)), target: "(control)"})
	}
	floor := medianP99(floorHalves)
	rs = append(rs, result{scenario: fmt.Sprintf("  same, against the floor: the bare handler at half its own max (%.0f req/s)", floorRate), partnerbill: pbHalf.String(), baseline: floor.String(),
		ratio: fmt.Sprintf("p99 %.2f×", float64(pbHalf.p99)/float64(floor.p99)), target: "≤ 1.50× (proposed)"})
	return rs, errs
}

// startControl starts the bare handler doing, per request, the CPU work
// partnerbill does beyond it at rate (pbCPU and baseCPU per request, as
// measured), or returns nil if partnerbill does no more. The work is
// calibrated on an idle core and takes longer beside a busy one, so a
// first short phase measures what it costs under this load and the
// control is started again with its work scaled to match.
func (e *env) startControl(ctx context.Context, self, bodyFile string, keys []key, rate float64, pbCPU, baseCPU time.Duration) (*proc, time.Duration, error) {
	want := pbCPU - baseCPU
	if want <= 0 {
		return nil, 0, nil
	}
	c, err := startBaseline(ctx, self, bodyFile, want)
	if err != nil {
		return nil, 0, err
	}
	reqs := presign(c.addr, keys)
	r := measured(c, func() loadResult {
		return openLoop(ctx, reqs, e.cfg.concurrency, rate, min(e.cfg.duration, 5*time.Second))
	})
	c.stop() // the bare handler has no graceful stop: SIGTERM ends it
	extra := want
	if got := r.cpu - baseCPU; got > 0 {
		extra = time.Duration(float64(want) * float64(want) / float64(got))
	}
	c, err = startBaseline(ctx, self, bodyFile, extra)
	return c, extra, err
}

// startBaseline starts the bench binary self as the bare handler answering
// with bodyFile's bytes, doing burn of work per request (none at 0).
func startBaseline(ctx context.Context, self, bodyFile string, burn time.Duration) (*proc, error) {
	args := []string{"-baseline-serve", "127.0.0.1:0", bodyFile}
	if burn > 0 {
		args = append(args, burn.String())
	}
	return startProc(ctx, self, args, os.Environ(), "baseline listening on ")
}

// medianP99 returns the run with the median p99, its errors the sum of
// all runs'.
func medianP99(rs []loadResult) loadResult {
	m := medianBy(rs, func(r loadResult) time.Duration { return r.p99 })
	m.errors = 0
	for _, r := range rs {
		m.errors += r.errors
	}
	return m
}

func medianLoad(rs []loadResult) loadResult {
	return medianBy(rs, func(r loadResult) float64 { return r.rps })
}

var errNoBaseline = errors.New("baseline tool missing")
