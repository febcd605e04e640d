package main

// Faults: a dependency that goes away while partnerbill serves (the
// PostgreSQL server, the S3 server) and a disk that fills up under a file
// being written.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/partnerbill/partnerbill/internal/filestore/filestoretest"
	"github.com/partnerbill/partnerbill/internal/job"
	"github.com/partnerbill/partnerbill/internal/tc3"
	"github.com/partnerbill/partnerbill/internal/testenv"
)

// proxy forwards TCP connections on a loopback port to target. cut
// resets every connection it carries and resets new ones at once, until
// restore: to a client the server has gone away. stall stops forwarding
// bytes, on open connections and new ones, until restore: to a client the
// server hangs, as behind a network partition that drops packets.
type proxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	down    bool
	stalled bool
	resumed *sync.Cond
	conns   map[net.Conn]bool
}

func newProxy(t testing.TB, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	p.resumed = sync.NewCond(&p.mu)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.carry(c)
		}
	}()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

// Addr is where clients connect.
func (p *proxy) Addr() string { return p.ln.Addr().String() }

// reset closes c with a TCP RST.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// track adds c to the open connections once the proxy is not stalled,
// unless it is down.
func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.stalled && !p.down {
		p.resumed.Wait()
	}
	if p.down {
		return false
	}
	p.conns[c] = true
	return true
}

func (p *proxy) carry(c net.Conn) {
	if !p.track(c) {
		reset(c)
		return
	}
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		reset(c)
		return
	}
	if !p.track(up) {
		reset(up)
		reset(c)
		return
	}
	// Each direction ends as its source does: a clean end is passed on
	// as one (half-close), so nothing in flight is lost.
	var wg sync.WaitGroup
	wg.Go(func() { p.copy(up, c); up.(*net.TCPConn).CloseWrite() })
	wg.Go(func() { p.copy(c, up); c.(*net.TCPConn).CloseWrite() })
	wg.Wait()
	c.Close()
	up.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// copy forwards from src to dst, holding what it read while stalled.
func (p *proxy) copy(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		p.mu.Lock()
		for p.stalled && !p.down {
			p.resumed.Wait()
		}
		p.mu.Unlock()
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// cut resets every open connection and every new one until restore.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		reset(c)
	}
	clear(p.conns)
	p.resumed.Broadcast()
}

// stall stops forwarding until restore.
func (p *proxy) stall() {
	p.mu.Lock()
	p.stalled = true
	p.mu.Unlock()
}

func (p *proxy) restore() {
	p.mu.Lock()
	p.down, p.stalled = false, false
	p.resumed.Broadcast()
	p.mu.Unlock()
}

// answer is one API call as a client sees it.
type answer struct {
	Status int    // HTTP status; 0 when no answer came (Err)
	Code   string // the error code, or "ok"
	Ready  int
	Link   string
	Took   time.Duration
	Err    error // transport error: no answer within the client's timeout
}

// callAPI sends DescribeBillDownloadUrl signed with TC3 by k over
// client, and returns what came back.
func callAPI(client *http.Client, host string, k key, month, fileType string) answer {
	body, _ := json.Marshal(map[string]string{"Month": month, "FileType": fileType})
	return callAPIBody(client, host, k, body)
}

func callAPIBody(client *http.Client, host string, k key, body []byte) answer {
	req, _ := http.NewRequest(http.MethodPost, "http://"+host+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-TC-Action", "DescribeBillDownloadUrl")
	req.Header.Set("X-TC-Version", tc3.Version)
	tc3.SignTC3(req, body, k.SecretId, k.SecretKey, time.Now(), tc3.Service)
	return send(client, req)
}

// send sends an API request and reads the envelope.
func send(client *http.Client, req *http.Request) answer {
	start := time.Now()
	resp, err := client.Do(req)
	a := answer{Err: err}
	if err == nil {
		var env struct {
			Response struct {
				Error       *struct{ Code, Message string }
				Ready       int
				DownloadUrl string
			}
		}
		b, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		a.Status = resp.StatusCode
		switch {
		case rerr != nil:
			a.Err = rerr
		case json.Unmarshal(b, &env) != nil:
			a.Code = "not JSON: " + string(b[:min(len(b), 200)])
		case env.Response.Error != nil:
			a.Code = env.Response.Error.Code
		default:
			a.Code, a.Ready, a.Link = "ok", env.Response.Ready, env.Response.DownloadUrl
		}
	}
	a.Took = time.Since(start)
	return a
}

// health GETs /healthz and returns the status, 0 on no answer.
func health(client *http.Client, baseURL string) int {
	resp, err := client.Get(baseURL + "/healthz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// outageFlag is how long a dependency stays away in the outage tests.
// The default is longer than River's completer retries a job's outcome
// (about 3 s) and shorter than the default client timeouts.
var outageFlag = flag.Duration("outage", 5*time.Second, "how long the outage tests keep a dependency away")

// metric scrapes one unlabelled sample (such as go_goroutines) from
// /metrics.
func metric(t testing.TB, baseURL, name string) float64 {
	t.Helper()
	resp, err := http.Get(baseURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return 0
}

// TestPostgresUnreachableWhileServing serves through a TCP proxy in
// front of PostgreSQL and takes the database away twice, each time in the
// middle of a build, with requests arriving meanwhile:
//
//   - cut (connections reset, new ones refused): every request gets HTTP
//     200 and InternalError at once, /healthz 503;
//   - stall (nothing forwarded, as in a partition that drops packets):
//     requests get no answer, and a client gives up at its own timeout
//     (2 s here); /healthz answers 503 within its 2 s bound; /metrics
//     answers; the goroutines of abandoned requests go away.
//
// Each time, once the proxy is back, everything recovers with no action:
// requests succeed, the interrupted build completes (exact), the build
// of a customer whose first request failed is queued and completes, the
// server neither crashed nor logged a panic. (The embedded SQLite
// database is a file in the server's own folder: it cannot become
// unreachable while the process runs, so there is no SQLite variant.)
func TestPostgresUnreachableWhileServing(t *testing.T) {
	t.Parallel()
	outage := *outageFlag
	dbURL := pgSchemaURL(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, u.Host)
	viaProxy := *u
	viaProxy.Host = p.Addr()
	global := []string{"--database", dbURL}

	dir := t.TempDir()
	synth := filepath.Join(dir, "synth.csv")
	cli(t, dir, "ledger", "synth", "--customers", "4", "--rows-per-customer", "15000", "--month", "2024-12", "--seed", "31", "--out", synth)
	rows := csvRows(t, synth)
	var uins []string
	for _, r := range rows {
		if !slices.Contains(uins, r["OwnerAccountId"]) {
			uins = append(uins, r["OwnerAccountId"])
		}
	}
	newAccount(t, dir, append(global, "--role", "reseller", "--uin", payer)...)
	var ks []key
	for _, uin := range uins {
		ks = append(ks, newAccount(t, dir, append(global, "--role", "end-customer", "--uin", uin, "--reseller", payer)...))
	}
	cli(t, dir, append(global, "ledger", "import", synth)...)
	rowsOf := func(uin string) []map[string]string {
		var out []map[string]string
		for _, r := range rows {
			if r["OwnerAccountId"] == uin {
				out = append(out, r)
			}
		}
		return out
	}
	ready, building, newcomer, stalled := ks[0], ks[1], ks[2], ks[3]

	c := startServeChild(t, t.TempDir(), "--database", viaProxy.String())
	t.Cleanup(func() {
		// On failure, what the job queue and the server saw.
		if t.Failed() {
			t.Logf("server log:\n%s", c.logs.String())
			t.Logf("build jobs (id state attempt errors):\n%s", pgQuery(t, dbURL,
				`SELECT coalesce(string_agg(id || ' ' || state::text || ' ' || attempt || ' ' || coalesce(errors::text, ''), E'\n' ORDER BY id), 'none') FROM river_job`))
		}
	})
	client := &http.Client{Timeout: 10 * time.Second}
	waitReady(t, c.Host, ready, "2024-12", "L3")

	// startBuild queues k's build and waits until it runs.
	startBuild := func(k key) {
		t.Helper()
		if a := callAPI(client, c.Host, k, "2024-12", "L3"); a.Code != "ok" || a.Ready != 0 {
			t.Fatalf("first request: %+v", a)
		}
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(2 * time.Millisecond) {
			if pgQuery(t, dbURL, `SELECT count(*)::text FROM river_job WHERE state = 'running'`) != "0" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("the build did not start within 20 s")
			}
		}
	}
	// recovered waits for requests to succeed again and for the builds of
	// ks to complete, exact.
	recovered := func(restoredAt time.Time, ks ...key) {
		t.Helper()
		after := tally{}
		for {
			a := callAPI(client, c.Host, ready, "2024-12", "L3")
			if a.Err != nil || a.Status != 200 {
				t.Fatalf("after the database came back: %+v", a)
			}
			after[a.Code]++
			if a.Code == "ok" {
				break
			}
			if time.Since(restoredAt) > 30*time.Second {
				t.Fatalf("requests still fail 30 s after the database came back: %s", after)
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("first successful request %v after the database came back (answers until then: %s)", time.Since(restoredAt).Round(time.Millisecond), after)
		for _, k := range ks {
			_, recs := download(t, waitReadyWithin(t, c.Host, k, "2024-12", "L3", 2*time.Minute))
			expectFile(t, "L3", recs, rowsOf(k.Uin))
		}
		t.Logf("builds done %v after the database came back", time.Since(restoredAt).Round(time.Millisecond))
		if s := health(client, c.URL); s != 200 {
			t.Errorf("/healthz after the database came back: %d", s)
		}
	}

	// Cut, in the middle of a build.
	startBuild(building)
	p.cut()
	cutAt := time.Now()
	codes := tally{}
	var slowest time.Duration
	for time.Since(cutAt) < outage {
		for _, k := range []key{ready, building, newcomer} {
			a := callAPI(client, c.Host, k, "2024-12", "L3")
			if a.Err != nil || a.Status != 200 || (a.Code != "InternalError" && a.Code != "FailedOperation") {
				t.Fatalf("while the database is away: %+v", a)
			}
			codes[a.Code]++
			slowest = max(slowest, a.Took)
		}
		if s := health(client, c.URL); s != http.StatusServiceUnavailable {
			t.Errorf("/healthz while the database is away: %d, want 503", s)
		}
		time.Sleep(200 * time.Millisecond)
	}
	p.restore()
	t.Logf("cut: database away for %v: %s; slowest answer %v", time.Since(cutAt).Round(time.Millisecond), codes, slowest.Round(time.Millisecond))
	recovered(time.Now(), building, newcomer)

	// Stall, in the middle of another build.
	goroutines := metric(t, c.URL, "go_goroutines")
	startBuild(stalled)
	p.stall()
	stallAt := time.Now()
	impatient := &http.Client{Timeout: 2 * time.Second}
	codes = tally{}
	for time.Since(stallAt) < outage {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, k := range []key{ready, stalled, ready, stalled} {
			wg.Go(func() {
				a := callAPI(impatient, c.Host, k, "2024-12", "L3")
				mu.Lock()
				defer mu.Unlock()
				switch {
				case a.Err != nil && a.Took < impatient.Timeout+time.Second:
					codes["no answer within the client's 2 s"]++
				case a.Err == nil && a.Status == 200 && a.Code == "InternalError":
					codes[a.Code]++
				default:
					t.Errorf("while the database stalls: %+v", a)
				}
			})
		}
		start := time.Now()
		if s := health(client, c.URL); s != http.StatusServiceUnavailable || time.Since(start) > 3*time.Second {
			t.Errorf("/healthz while the database stalls: %d after %v, want 503 within 2 s", s, time.Since(start))
		}
		metric(t, c.URL, "go_goroutines")
		wg.Wait()
	}
	p.restore()
	t.Logf("stall: database unresponsive for %v: %s", time.Since(stallAt).Round(time.Millisecond), codes)
	recovered(time.Now(), stalled)
	time.Sleep(time.Second)
	if after := metric(t, c.URL, "go_goroutines"); after > goroutines+10 {
		t.Errorf("goroutines: %v before the stall, %v after it", goroutines, after)
	} else {
		t.Logf("goroutines: %v before the stall, %v after it", goroutines, after)
	}

	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if pgQuery(t, dbURL, `SELECT count(*)::text FROM river_job WHERE state <> 'completed'`) == "0" {
			break
		}
	}
	if s := pgQuery(t, dbURL, `SELECT string_agg(state::text || ' ' || attempt, ', ' ORDER BY id) FROM river_job`); s != "" {
		t.Logf("build jobs (state attempt): %s", s)
	}
	if n := pgQuery(t, dbURL, `SELECT count(*)::text FROM river_job WHERE state <> 'completed'`); n != "0" {
		t.Errorf("%s build jobs not completed", n)
	}
	if c.cmd.ProcessState != nil || strings.Contains(c.logs.String(), "panic") {
		t.Fatalf("the server died or panicked:\n%s", c.logs.String())
	}
}

// TestObjectStoreUnreachableWhileServing serves with its bucket on an S3
// server behind a TCP proxy, and cuts the proxy as a build starts: the
// build fails, nothing is published, the API keeps answering (a customer
// whose file is being built gets Ready 0, one whose file is ready gets
// its link: links are signed locally), /healthz stays 200, and once the
// proxy is back River's retry builds the file with no action, exact. (An
// outage longer than the retry schedule, about 100 s, fails the build for
// good: the next request answers FailedOperation once and queues a new
// build, as documented; -outage=150s shows it.)
func TestObjectStoreUnreachableWhileServing(t *testing.T) {
	t.Parallel()
	endpoint := testenv.S3Endpoint(t)
	s3c, bucket := filestoretest.NewS3Bucket(t, endpoint)
	eu, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, eu.Host)
	storage := filestoretest.S3URL(bucket, "http://"+p.Addr())

	w := setupWorld(t, 20_000)
	c := startServeChild(t, w.dir, "--storage", storage)
	client := &http.Client{Timeout: 10 * time.Second}
	waitReady(t, c.Host, w.b, "2024-12", "L3")
	db := openDB(t, w.dir)

	if a := callAPI(client, c.Host, w.a, "2024-12", "L3"); a.Code != "ok" || a.Ready != 0 {
		t.Fatalf("first request: %+v", a)
	}
	p.cut()
	cutAt := time.Now()
	// Wait for the build to fail, answering requests meanwhile.
	codes := tally{}
	var slowest time.Duration
	for {
		for _, k := range []key{w.a, w.b} {
			a := callAPI(client, c.Host, k, "2024-12", "L3")
			if a.Err != nil || a.Status != 200 || a.Code != "ok" || (k == w.a) != (a.Ready == 0) {
				t.Fatalf("while the object store is away (%s): %+v", k.Uin, a)
			}
			codes[fmt.Sprintf("ok, Ready %d", a.Ready)]++
			slowest = max(slowest, a.Took)
		}
		if s := health(client, c.URL); s != 200 {
			t.Errorf("/healthz while the object store is away: %d", s)
		}
		if countRows(t, db, failedOnce) == 1 {
			break
		}
		if time.Since(cutAt) > 60*time.Second {
			t.Fatal("the build did not fail within 60 s of the object store going away")
		}
		time.Sleep(100 * time.Millisecond)
	}
	var errs string
	db.QueryRow(`SELECT json(errors) FROM river_job WHERE errors IS NOT NULL`).Scan(&errs)
	t.Logf("the build failed %v after the cut: %.400s", time.Since(cutAt).Round(time.Millisecond), errs)
	version := countRows(t, db, `SELECT version FROM ledger_versions WHERE owner_uin = ? AND bill_month = '2024-12'`, w.a.Uin)
	key := job.ObjectKey(job.BuildArgs{OwnerUIN: w.a.Uin, Month: "2024-12", FileType: "L3", Version: int64(version)})
	if n := countRows(t, db, `SELECT count(*) FROM bill_files WHERE owner_uin = ?`, w.a.Uin); n != 0 {
		t.Fatalf("a failed build left %d bill_files records", n)
	}
	time.Sleep(time.Until(cutAt.Add(*outageFlag)))
	p.restore()
	restoredAt := time.Now()
	t.Logf("object store away for %v; answers meanwhile: %s, slowest %v", restoredAt.Sub(cutAt).Round(time.Millisecond), codes, slowest.Round(time.Millisecond))
	if _, err := s3c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &bucket, Key: &key}); err == nil {
		t.Fatal("the failed build's object is in the bucket")
	}

	// Poll like a client. An outage longer than the retries (2, 10, 30
	// and 60 s apart) fails the build for good: one answer says
	// FailedOperation and the next request queues a new build.
	after := tally{}
	var link string
	for deadline := time.Now().Add(3 * time.Minute); link == ""; time.Sleep(200 * time.Millisecond) {
		a := callAPI(client, c.Host, w.a, "2024-12", "L3")
		switch {
		case a.Err == nil && a.Status == 200 && a.Code == "ok" && a.Ready == 1:
			link = a.Link
		case a.Err == nil && a.Status == 200 && (a.Code == "ok" || a.Code == "FailedOperation" && after["FailedOperation"] == 0):
			after[a.Code]++
		default:
			t.Fatalf("after the object store came back: %+v (before: %s)", a, after)
		}
		if time.Now().After(deadline) {
			t.Fatal("the file was not built within 3 minutes of the object store coming back")
		}
	}
	_, recs := download(t, link)
	expectFile(t, "L3", recs, w.rowsOf(w.a.Uin))
	t.Logf("file built %v after the object store came back (answers until then: %s)", time.Since(restoredAt).Round(time.Millisecond), after)
	allCompleted(t, db, after["FailedOperation"])
	ups, err := s3c.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: &bucket})
	if err == nil && len(ups.Uploads) > 0 {
		t.Logf("%d multipart uploads left incomplete (the abort could not reach the object store either)", len(ups.Uploads))
	}
	if c.cmd.ProcessState != nil || strings.Contains(c.logs.String(), "panic") {
		t.Fatalf("the server died or panicked:\n%s", c.logs.String())
	}
}

// allCompleted checks that every build job completed but the given
// number, which ran out of attempts, and logs how many attempts each took.
func allCompleted(t *testing.T, db *sql.DB, discarded int) {
	t.Helper()
	// A file is ready once its record is written; River records the job
	// as completed a moment later.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if countRows(t, db, `SELECT count(*) FROM river_job WHERE state NOT IN ('completed', 'discarded')`) == 0 {
			break
		}
	}
	var s string
	db.QueryRow(`SELECT group_concat(state || ' ' || attempt, ', ') FROM river_job`).Scan(&s)
	t.Logf("build jobs (state attempt): %s", s)
	if n := countRows(t, db, `SELECT count(*) FROM river_job WHERE state <> 'completed'`); n != discarded {
		t.Errorf("%d build jobs not completed, want %d", n, discarded)
	}
	if n := countRows(t, db, `SELECT count(*) FROM river_job WHERE state = 'discarded' AND attempt = ?`, job.MaxAttempts); n != discarded {
		t.Errorf("%d build jobs discarded after %d attempts, want %d", n, job.MaxAttempts, discarded)
	}
}

// failedOnce counts build jobs with a failed attempt that River will
// retry. (A retry due within River's scheduler interval, 5 s, is set
// available at once with its scheduled time, not retryable.)
const failedOnce = `SELECT count(*) FROM river_job WHERE errors IS NOT NULL AND state IN ('available', 'retryable')`

// TestDiskFullWhileWritingAFile keeps the bill files on a 1 MiB tmpfs
// (mounted by the test: it needs root, and is skipped where mounting is
// not permitted) and asks for a file of several MB: the build fails with
// ENOSPC, publishes nothing (no record, no file, and the space its
// temporary file took is given back), a small file still builds in the
// space left, and once the file system grows (remounted at 64 MiB) River's
// retry builds the big file with no action, exact.
func TestDiskFullWhileWritingAFile(t *testing.T) {
	t.Parallel()
	mnt := filepath.Join(t.TempDir(), "files")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs here (%v: %s); this test needs root and mount permission", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", mnt, err, out)
		}
	})
	used := func() int64 {
		out, err := exec.Command("df", "--output=used", "-B1", mnt).Output()
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Fields(string(out))
		n, _ := strconv.ParseInt(f[len(f)-1], 10, 64)
		return n
	}

	dir := t.TempDir()
	big := filepath.Join(dir, "big.csv")
	small := filepath.Join(dir, "small.csv")
	cli(t, dir, "ledger", "synth", "--customers", "1", "--rows-per-customer", "10000", "--month", "2024-12", "--seed", "41", "--out", big)
	cli(t, dir, "ledger", "synth", "--customers", "1", "--rows-per-customer", "100", "--month", "2024-12", "--seed", "42", "--out", small)
	bigRows, smallRows := csvRows(t, big), csvRows(t, small)
	newAccount(t, dir, "--role", "reseller", "--uin", payer)
	kb := newAccount(t, dir, "--role", "end-customer", "--uin", bigRows[0]["OwnerAccountId"], "--reseller", payer)
	ks := newAccount(t, dir, "--role", "end-customer", "--uin", smallRows[0]["OwnerAccountId"], "--reseller", payer)
	cli(t, dir, "ledger", "import", big, small)

	c := startServeChild(t, dir, "--storage", "file://"+mnt)
	db := openDB(t, dir)
	client := &http.Client{Timeout: 10 * time.Second}
	if a := callAPI(client, c.Host, kb, "2024-12", "L3"); a.Code != "ok" || a.Ready != 0 {
		t.Fatalf("first request: %+v", a)
	}
	start := time.Now()
	for countRows(t, db, failedOnce) == 0 {
		if a := callAPI(client, c.Host, kb, "2024-12", "L3"); a.Code != "ok" || a.Ready != 0 {
			t.Fatalf("while the disk is full: %+v", a)
		}
		if time.Since(start) > 30*time.Second {
			t.Fatal("the build did not fail within 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	var errs string
	db.QueryRow(`SELECT json(errors) FROM river_job WHERE errors IS NOT NULL`).Scan(&errs)
	if !strings.Contains(errs, "no space left on device") {
		t.Fatalf("the build failed with %s, want ENOSPC", errs)
	}
	t.Logf("the build failed after %v: %.200s", time.Since(start).Round(time.Millisecond), errs)
	if n := countRows(t, db, `SELECT count(*) FROM bill_files`); n != 0 {
		t.Fatalf("a failed build left %d bill_files records", n)
	}
	var left []string
	filepath.Walk(mnt, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			left = append(left, fmt.Sprintf("%s (%d bytes)", strings.TrimPrefix(p, mnt), fi.Size()))
		}
		return nil
	})
	if len(left) > 0 || used() > 64<<10 {
		t.Fatalf("a failed build left %v, %d bytes used", left, used())
	}

	// A file that fits still builds; then the disk grows.
	_, recs := download(t, waitReady(t, c.Host, ks, "2024-12", "L3"))
	expectFile(t, "L3", recs, smallRows)
	if out, err := exec.Command("mount", "-o", "remount,size=64m", mnt).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v %s", err, out)
	}
	grown := time.Now()
	_, recs = download(t, waitReady(t, c.Host, kb, "2024-12", "L3"))
	expectFile(t, "L3", recs, bigRows)
	t.Logf("built %v after the disk grew; %d bytes used", time.Since(grown).Round(time.Millisecond), used())
	allCompleted(t, db, 0)
}
