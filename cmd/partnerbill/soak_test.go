package main

// Load: a bounded soak of the server (a child process, on loopback) under
// a mixed stream of valid, invalid and rate-limited requests while
// imports and builds run. A few seconds by default; -soak=3m for the run
// RELIABILITY.md records.

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/partnerbill/partnerbill/internal/tc3"
)

var soakFlag = flag.Duration("soak", 5*time.Second, "how long TestSoak keeps the load on")

// rss returns the resident memory of process pid in bytes.
func rss(t testing.TB, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/PID/status")
	return 0
}

// metricSum sums the samples of a metric family whose labels contain
// every one of labels (name="value" pairs).
func metricSum(t testing.TB, baseURL, name string, labels ...string) float64 {
	t.Helper()
	resp, err := http.Get(baseURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var sum float64
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, name+"{")
		if !ok {
			continue
		}
		ls, v, _ := strings.Cut(rest, "} ")
		if !all(labels, func(l string) bool { return strings.Contains(ls, l) }) {
			continue
		}
		f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
		sum += f
	}
	return sum
}

func all[T any](s []T, f func(T) bool) bool {
	for _, v := range s {
		if !f(v) {
			return false
		}
	}
	return true
}

// callAPIV1 is callAPI signed with signature v1 in a form, as the Node
// SDK sends it.
func callAPIV1(client *http.Client, host string, k key, month, fileType string) answer {
	params := url.Values{"Action": {"DescribeBillDownloadUrl"}, "Version": {tc3.Version}, "Month": {month}, "FileType": {fileType}}
	body := tc3.SignV1Form(http.MethodPost, host, params, k.SecretId, k.SecretKey, time.Now(), "HmacSHA256").Encode()
	req, _ := http.NewRequest(http.MethodPost, "http://"+host+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return send(client, req)
}

// soakStats counts answers by kind of request and code.
type soakStats struct {
	mu      sync.Mutex
	codes   map[string]tally // kind -> code -> count
	slowest map[string]time.Duration
	bad     []string // answers a kind of request must never get
}

func (s *soakStats) add(kind string, a answer, ok func(answer) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	code := a.Code
	switch {
	case a.Err != nil:
		code = "no answer"
	case a.Status != 200:
		code = fmt.Sprintf("HTTP %d", a.Status)
	case code == "ok" && kind != "download":
		code = fmt.Sprintf("ok, Ready %d", a.Ready)
	}
	if s.codes[kind] == nil {
		s.codes[kind] = tally{}
	}
	s.codes[kind][code]++
	s.slowest[kind] = max(s.slowest[kind], a.Took)
	if !ok(a) && len(s.bad) < 20 {
		s.bad = append(s.bad, fmt.Sprintf("%s: %+v", kind, a))
	}
}

// TestSoak runs a child server under a mixed load for -soak (5 s by
// default):
//
//   - valid requests from 40 end customers (TC3 JSON and v1 forms, L2 and
//     L3, a month with line items and two without), each customer under
//     its 20 per second, and one ready link in ten downloaded;
//   - invalid ones: a wrong signature, an unknown SecretId, a stale
//     timestamp, a bad Month, a bad FileType, a missing parameter;
//   - a burst of 40 requests at once from one customer every second;
//   - an import of a few more line items for a random customer every
//     half second, so files go stale and are built again.
//
// It checks that valid requests never get anything but ok (no HTTP
// error, no InternalError, no missing answer), that invalid ones get
// their code, that bursts get ok or RequestLimitExceeded and some of the
// latter; that once the load stops every queued build completes exactly
// once (all River jobs completed, one ready bill file record each, and
// as many successful build attempts as jobs, none failed); that files
// are exact after the last imports; and that the server's goroutines
// (/metrics) and resident memory (/proc) stay flat: goroutines at rest
// after the load at most 20 above those at rest before it, and resident
// memory at the end of the load less than 1.5 times what it was after
// the warm-up.
func TestSoak(t *testing.T) {
	t.Parallel()
	d := *soakFlag
	setupStart := time.Now()
	dir := t.TempDir()
	const customers = 40
	synth := filepath.Join(dir, "synth.csv")
	keysOut := cli(t, dir, "ledger", "synth", "--customers", fmt.Sprint(customers+2), "--rows-per-customer", "300",
		"--month", "2024-12", "--seed", "51", "--out", synth, "--create-accounts")
	var ks []key
	for _, line := range strings.Split(strings.TrimSpace(keysOut), "\n") {
		var k key
		if err := json.Unmarshal([]byte(line), &k); err != nil {
			t.Fatalf("synth printed %q: %v", line, err)
		}
		ks = append(ks, k)
	}
	if len(ks) != customers+2 {
		t.Fatalf("%d keys, want %d", len(ks), customers+2)
	}
	cli(t, dir, "ledger", "import", synth)
	valid, invalidK, burstK := ks[:customers], ks[customers], ks[customers+1]
	// ledger is every customer's line items, as imported.
	var ledgerMu sync.Mutex
	ledger := map[string][]map[string]string{}
	for _, r := range csvRows(t, synth) {
		ledger[r["OwnerAccountId"]] = append(ledger[r["OwnerAccountId"]], r)
	}

	// The server, its log in a file: one line per request.
	logPath := filepath.Join(dir, "serve.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(os.Args[0], "serve", "--data-dir", dir, "--addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "PARTNERBILL_TEST_AS_MAIN=1", "PARTNERBILL_MASTER_KEY="+testMasterKey)
	found := make(chan string, 1)
	cmd.Stdout, cmd.Stderr = &lineWriter{found: found}, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var base string
	select {
	case base = <-found:
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not start")
	}
	host := strings.TrimPrefix(base, "http://")
	pid := cmd.Process.Pid
	transport := &http.Transport{MaxIdleConnsPerHost: 64}
	client := &http.Client{Timeout: 10 * time.Second, Transport: transport}

	// At rest before the load: once the server has built a file (River
	// starts some of its goroutines with the first jobs, and others once
	// this process is elected the queue's leader) and its client
	// connections are closed.
	waitReady(t, host, burstK, "2024-12", "L2")
	time.Sleep(2 * time.Second)
	idleGoroutines, idleRSS := metric(t, base, "go_goroutines"), rss(t, pid)
	t.Logf("set up in %v", time.Since(setupStart).Round(time.Millisecond))
	stats := &soakStats{codes: map[string]tally{}, slowest: map[string]time.Duration{}}
	var requests, downloads, imports atomic.Int64
	stop := make(chan struct{})
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	var wg sync.WaitGroup
	months := []string{"2024-12", "2024-11"}
	isOK := func(a answer) bool { return a.Err == nil && a.Status == 200 && a.Code == "ok" }

	// Valid requests: 8 workers, 5 customers each, each customer at most
	// once every 60 ms (under its 20 per second).
	for w := range 8 {
		mine := valid[w*5 : w*5+5]
		wg.Go(func() {
			last := make([]time.Time, len(mine))
			for i := 0; !stopped(); i = (i + 1) % len(mine) {
				time.Sleep(time.Until(last[i].Add(60 * time.Millisecond)))
				last[i] = time.Now()
				k, m, ft := mine[i], months[rand.IntN(len(months))], []string{"L2", "L3"}[rand.IntN(2)]
				var a answer
				if rand.IntN(4) == 0 {
					a = callAPIV1(client, host, k, m, ft)
				} else {
					a = callAPI(client, host, k, m, ft)
				}
				requests.Add(1)
				stats.add("valid", a, isOK)
				if isOK(a) && a.Ready == 1 && rand.IntN(10) == 0 {
					downloads.Add(1)
					stats.add("download", fetch(client, a.Link), isOK)
				}
			}
		})
	}
	// Invalid requests, each with the code it must get.
	wrongKey := key{SecretId: invalidK.SecretId, SecretKey: strings.Repeat("x", 32)}
	unknown := key{SecretId: "AKID" + strings.Repeat("Q", 32), SecretKey: strings.Repeat("k", 32)}
	invalid := []struct {
		name, code string
		send       func() answer
	}{
		{"wrong signature", "AuthFailure.SignatureFailure", func() answer { return callAPI(client, host, wrongKey, "2024-12", "L3") }},
		{"unknown SecretId", "AuthFailure.SecretIdNotFound", func() answer { return callAPI(client, host, unknown, "2024-12", "L3") }},
		{"stale timestamp", "AuthFailure.SignatureExpire", func() answer {
			return callAPIAt(client, host, invalidK, []byte(`{"Month":"2024-12","FileType":"L3"}`), time.Now().Add(-10*time.Minute))
		}},
		{"bad Month", "InvalidParameter", func() answer { return callAPI(client, host, invalidK, "2024-13", "L3") }},
		{"bad FileType", "InvalidParameter", func() answer { return callAPI(client, host, invalidK, "2024-12", "L4") }},
		{"missing FileType", "MissingParameter", func() answer {
			return callAPIBody(client, host, invalidK, []byte(`{"Month":"2024-12"}`))
		}},
	}
	for range 2 {
		wg.Go(func() {
			for !stopped() {
				c := invalid[rand.IntN(len(invalid))]
				a := c.send()
				requests.Add(1)
				stats.add("invalid", a, func(a answer) bool { return a.Err == nil && a.Status == 200 && a.Code == c.code })
				// Half of these pass authentication and count against
				// invalidK's 20 per second: two workers stay under it.
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
	// Bursts: 40 at once from one customer, every second.
	wg.Go(func() {
		for !stopped() {
			var bw sync.WaitGroup
			for range 40 {
				bw.Go(func() {
					a := callAPI(client, host, burstK, "2024-12", "L3")
					requests.Add(1)
					stats.add("burst", a, func(a answer) bool {
						return a.Err == nil && a.Status == 200 && (a.Code == "ok" || a.Code == "RequestLimitExceeded")
					})
				})
			}
			bw.Wait()
			select {
			case <-stop:
			case <-time.After(time.Second):
			}
		}
	})
	// Imports: a few more line items for a random customer, twice a second.
	wg.Go(func() {
		for i := 0; !stopped(); i++ {
			k := valid[rand.IntN(len(valid))]
			ledgerMu.Lock()
			base := ledger[k.Uin][0]
			ledgerMu.Unlock()
			var add []map[string]string
			for j := range 1 + rand.IntN(3) {
				r := maps(base)
				r["Id"] = fmt.Sprintf("55%08d%02d", i, j)
				r["TransactionTime"] = fmt.Sprintf("2024-12-27 %02d:%02d:%02d", i/3600%24, i/60%60, i%60)
				add = append(add, r)
			}
			path := filepath.Join(dir, fmt.Sprintf("more-%d.csv", i))
			if err := writeRows(path, add); err != nil {
				t.Error(err)
				return
			}
			if _, errOut, err := cliResult(dir, "ledger", "import", path); err != nil {
				t.Errorf("import while serving: %v\n%s", err, errOut)
				return
			}
			imports.Add(1)
			ledgerMu.Lock()
			ledger[k.Uin] = append(ledger[k.Uin], add...)
			ledgerMu.Unlock()
			select {
			case <-stop:
			case <-time.After(500 * time.Millisecond):
			}
		}
	})

	start := time.Now()
	warmup := max(time.Second, d/10)
	time.Sleep(warmup)
	startGoroutines, startRSS := metric(t, base, "go_goroutines"), rss(t, pid)
	time.Sleep(d - warmup)
	endGoroutines, endRSS := metric(t, base, "go_goroutines"), rss(t, pid)
	close(stop)
	wg.Wait()
	elapsed := time.Since(start)
	transport.CloseIdleConnections()

	// Every queued build completes, exactly once.
	drainStart := time.Now()
	db := openDB(t, dir)
	for deadline := time.Now().Add(2 * time.Minute); countRows(t, db, `SELECT count(*) FROM river_job WHERE state <> 'completed'`) > 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			var s string
			db.QueryRow(`SELECT group_concat(state || ' ' || attempt, ', ') FROM river_job WHERE state <> 'completed'`).Scan(&s)
			t.Fatalf("builds not completed 2 minutes after the load: %s", s)
		}
	}
	t.Logf("the queue drained %v after the load stopped", time.Since(drainStart).Round(time.Millisecond))
	time.Sleep(time.Second)
	restGoroutines, restRSS := metric(t, base, "go_goroutines"), rss(t, pid)
	jobs := countRows(t, db, `SELECT count(*) FROM river_job WHERE kind = 'build_bill_file'`)
	distinct := countRows(t, db, `SELECT count(DISTINCT CAST(json(args) AS TEXT)) FROM river_job WHERE kind = 'build_bill_file'`)
	records := countRows(t, db, `SELECT count(*) FROM bill_files WHERE state = 'ready'`)
	okBuilds := metricSum(t, base, "partnerbill_bill_file_builds_total", `outcome="ok"`)
	failedBuilds := metricSum(t, base, "partnerbill_bill_file_builds_total") - okBuilds
	queued := metricSum(t, base, "partnerbill_bill_file_builds_queued_total")
	t.Logf("builds: %d jobs (%d distinct), all completed; %d ready records; %v successful attempts, %v failed; %v queued",
		jobs, distinct, records, okBuilds, failedBuilds, queued)
	if jobs != distinct || records != jobs || int(okBuilds) != jobs || failedBuilds != 0 || int(queued) != jobs {
		t.Errorf("builds are not one per queued job")
	}

	// Files are exact after the last imports.
	ledgerMu.Lock()
	defer ledgerMu.Unlock()
	checked := 0
	for _, k := range valid {
		if len(ledger[k.Uin]) == 300 || checked == 3 {
			continue
		}
		checked++
		for _, ft := range []string{"L3", "L2"} {
			_, recs := download(t, waitReady(t, host, k, "2024-12", ft))
			expectFile(t, ft, recs, ledger[k.Uin])
		}
	}

	stats.mu.Lock()
	defer stats.mu.Unlock()
	n := requests.Load()
	t.Logf("%v of load: %d API requests (%.0f per second), %d downloads, %d imports", elapsed.Round(time.Millisecond), n, float64(n)/elapsed.Seconds(), downloads.Load(), imports.Load())
	for _, kind := range []string{"valid", "download", "invalid", "burst"} {
		t.Logf("  %s: %s; slowest %v", kind, stats.codes[kind], stats.slowest[kind].Round(time.Millisecond))
	}
	for _, b := range stats.bad {
		t.Errorf("unexpected answer: %s", b)
	}
	if stats.codes["burst"]["RequestLimitExceeded"] == 0 {
		t.Error("no burst was rate limited")
	}
	t.Logf("goroutines: %v at rest before, %v after the warm-up, %v at the end of the load, %v at rest after", idleGoroutines, startGoroutines, endGoroutines, restGoroutines)
	t.Logf("resident memory: %d MiB at rest before, %d MiB after the warm-up, %d MiB at the end of the load, %d MiB at rest after",
		idleRSS>>20, startRSS>>20, endRSS>>20, restRSS>>20)
	if restGoroutines > idleGoroutines+20 {
		t.Errorf("goroutines grew from %v to %v", idleGoroutines, restGoroutines)
	}
	if float64(endRSS) > 1.5*float64(startRSS) {
		t.Errorf("resident memory grew from %d MiB to %d MiB under the load", startRSS>>20, endRSS>>20)
	}
	if cmd.ProcessState != nil {
		t.Fatal("the server exited")
	}
	logFile.Sync()
	if f, err := os.Open(logPath); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		lines, internal := 0, 0
		for sc.Scan() {
			lines++
			if bytes.Contains(sc.Bytes(), []byte("panic")) {
				t.Errorf("server log: %s", sc.Text())
			}
			if bytes.Contains(sc.Bytes(), []byte("level=ERROR")) && internal < 3 {
				t.Logf("server log: %s", sc.Text())
			}
			if bytes.Contains(sc.Bytes(), []byte("code=InternalError")) {
				internal++
			}
		}
		t.Logf("server log: %d lines, %d InternalError", lines, internal)
	}
}

// callAPIAt is callAPIBody signed at ts.
func callAPIAt(client *http.Client, host string, k key, body []byte, ts time.Time) answer {
	req, _ := http.NewRequest(http.MethodPost, "http://"+host+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-TC-Action", "DescribeBillDownloadUrl")
	req.Header.Set("X-TC-Version", tc3.Version)
	tc3.SignTC3(req, body, k.SecretId, k.SecretKey, ts, tc3.Service)
	return send(client, req)
}

// fetch downloads a link and checks that it is a bill file.
func fetch(client *http.Client, link string) answer {
	start := time.Now()
	resp, err := client.Get(link)
	a := answer{Err: err}
	if err == nil {
		b, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		a.Status, a.Err = resp.StatusCode, rerr
		a.Code = "ok"
		if _, err := csv.NewReader(bytes.NewReader(b)).ReadAll(); err != nil || !bytes.HasPrefix(b, []byte("PayerAccountId,OwnerAccountId,")) {
			a.Code = "not a bill file"
		}
	}
	a.Took = time.Since(start)
	return a
}

func maps(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// writeRows writes line items as an importable CSV file.
func writeRows(path string, rows []map[string]string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.Write(l3Header)
	for _, r := range rows {
		rec := make([]string, len(l3Header))
		for i, h := range l3Header {
			rec[i] = r[h]
		}
		w.Write(rec)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
