package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"

	"github.com/partnerbill/partnerbill/internal/store/sqlitestore"
)

// TestMain lets a test start this test binary as the real partnerbill
// process (PARTNERBILL_TEST_AS_MAIN=1), for tests that must kill it.
func TestMain(m *testing.M) {
	if os.Getenv("PARTNERBILL_TEST_AS_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// testMasterKey is the PARTNERBILL_MASTER_KEY every test command gets:
// on PostgreSQL, replicas and admin commands (each with a data folder of
// its own) must share one. TestMasterKeyFile covers the key file that the
// embedded database uses without it.
const testMasterKey = "4f1c6a0d2b9e8f7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b"

func testEnv(name string) string {
	if name == "PARTNERBILL_MASTER_KEY" {
		return testMasterKey
	}
	return ""
}

// noEnv is an empty environment: no master key, so the embedded database
// keeps one in its data folder.
func noEnv(string) string { return "" }

// cli runs one partnerbill command on dataDir the way main does and
// returns its stdout; it fails the test when the command fails.
func cli(t testing.TB, dataDir string, args ...string) string {
	t.Helper()
	out, errOut, err := cliResult(dataDir, args...)
	if err != nil {
		t.Fatalf("partnerbill %s: %v\nstderr: %s", strings.Join(args, " "), err, errOut)
	}
	return out
}

func cliResult(dataDir string, args ...string) (stdout, stderr string, err error) {
	return cliResultEnv(testEnv, dataDir, args...)
}

// cliResultEnv is cliResult in the environment getenv.
func cliResultEnv(getenv env, dataDir string, args ...string) (stdout, stderr string, err error) {
	var o, e bytes.Buffer
	err = run(context.Background(), append([]string{"--data-dir", dataDir}, args...), getenv, strings.NewReader(""), &o, &e)
	return o.String(), e.String(), err
}

// key is what account create prints.
type key struct{ Uin, Role, SecretId, SecretKey string }

func newAccount(t testing.TB, dataDir string, args ...string) key {
	t.Helper()
	var k key
	out := cli(t, dataDir, append([]string{"account", "create"}, args...)...)
	if err := json.Unmarshal([]byte(out), &k); err != nil {
		t.Fatalf("account create printed %q: %v", out, err)
	}
	return k
}

// server is a running `partnerbill serve`.
type server struct {
	URL  string
	Host string
	// Logs is what it has written to stderr so far.
	Logs *lineWriter
	stop func() error
}

// lineWriter collects output and reports the serve line once it appears.
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	found chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for _, line := range strings.Split(w.buf.String(), "\n") {
		if u, ok := strings.CutPrefix(line, "partnerbill listening on "); ok && w.found != nil {
			w.found <- strings.TrimSpace(u)
			w.found = nil
		}
	}
	return len(p), nil
}

// String returns what was written so far.
func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// startServer runs serve in this process on a loopback port; the test's
// cleanup stops it and checks that it stopped cleanly.
func startServer(t testing.TB, dataDir string, extra ...string) *server {
	t.Helper()
	return startServerEnv(t, testEnv, dataDir, extra...)
}

// startServerEnv is startServer in the environment getenv.
func startServerEnv(t testing.TB, getenv env, dataDir string, extra ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	found := make(chan string, 1)
	out := &lineWriter{found: found}
	errOut := &lineWriter{}
	done := make(chan error, 1)
	args := append([]string{"serve", "--data-dir", dataDir, "--addr", "127.0.0.1:0"}, extra...)
	go func() { done <- run(ctx, args, getenv, nil, out, errOut) }()
	var u string
	select {
	case u = <-found:
	case err := <-done:
		cancel()
		t.Fatalf("serve exited: %v\n%s", err, errOut.String())
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("serve did not print its address within 20s")
	}
	var once sync.Once
	var stopErr error
	s := &server{URL: u, Host: strings.TrimPrefix(u, "http://"), Logs: errOut}
	s.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(10 * time.Second):
				stopErr = fmt.Errorf("serve did not stop within 10 s")
			}
		})
		return stopErr
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
		if strings.Contains(errOut.String(), "SecretKey") {
			t.Error("the server log mentions a SecretKey")
		}
	})
	return s
}

// child is partnerbill running as a separate process, to be killed.
type child struct {
	cmd  *exec.Cmd
	URL  string
	Host string
	logs *lineWriter
}

func startChild(t testing.TB, dataDir string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve", "--data-dir", dataDir, "--addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "PARTNERBILL_TEST_AS_MAIN=1", "PARTNERBILL_MASTER_KEY="+testMasterKey)
	found := make(chan string, 1)
	out := &lineWriter{found: found}
	logs := &lineWriter{}
	cmd.Stdout, cmd.Stderr = out, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	select {
	case u := <-found:
		return &child{cmd: cmd, URL: u, Host: strings.TrimPrefix(u, "http://"), logs: logs}
	case <-time.After(20 * time.Second):
		t.Fatalf("child did not start:\n%s", logs.String())
	}
	return nil
}

// sdk returns an official Go SDK common client pointed at host, retrying
// on RequestLimitExceeded as a well-behaved client under the documented
// 20 requests per second does.
func sdk(host string, k key) *common.Client {
	cpf := profile.NewClientProfile()
	cpf.RateLimitExceededMaxRetries = 10
	cpf.RateLimitExceededRetryDuration = func(int) time.Duration { return 300 * time.Millisecond }
	return sdkWith(host, k, cpf)
}

func sdkWith(host string, k key, cpf *profile.ClientProfile) *common.Client {
	cpf.HttpProfile.Endpoint = host
	cpf.HttpProfile.Scheme = "HTTP"
	cpf.HttpProfile.ReqTimeout = 30
	return common.NewCommonClient(common.NewCredential(k.SecretId, k.SecretKey), "", cpf)
}

// downloadURLResponse is DescribeBillDownloadUrl's answer as the SDK
// models type it.
type downloadURLResponse struct {
	Response struct {
		DownloadUrl *string
		Ready       *int64
		RequestId   string
	}
}

func describe(t testing.TB, host string, k key, month, fileType string) (downloadURLResponse, error) {
	t.Helper()
	return describeWith(t, sdk(host, k), month, fileType)
}

func describeWith(t testing.TB, client *common.Client, month, fileType string) (downloadURLResponse, error) {
	t.Helper()
	req := tchttp.NewCommonRequest("intlpartnersmgt", "2022-09-28", "DescribeBillDownloadUrl")
	if err := req.SetActionParameters(map[string]any{"Month": month, "FileType": fileType}); err != nil {
		t.Fatal(err)
	}
	resp := tchttp.NewCommonResponse()
	var out downloadURLResponse
	if err := client.Send(req, resp); err != nil {
		return out, err
	}
	if err := json.Unmarshal(resp.GetBody(), &out); err != nil {
		t.Fatalf("response %s: %v", resp.GetBody(), err)
	}
	if out.Response.Ready == nil || out.Response.DownloadUrl == nil {
		t.Fatalf("response lacks Ready or DownloadUrl: %s", resp.GetBody())
	}
	return out, nil
}

// waitReady polls like a client until the file is ready and returns its
// link.
func waitReady(t testing.TB, host string, k key, month, fileType string) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		r, err := describe(t, host, k, month, fileType)
		if err != nil {
			t.Fatalf("DescribeBillDownloadUrl: %v", err)
		}
		if *r.Response.Ready == 1 {
			if *r.Response.DownloadUrl == "" {
				t.Fatal("Ready 1 with an empty DownloadUrl")
			}
			return *r.Response.DownloadUrl
		}
		if *r.Response.DownloadUrl != "" {
			t.Fatalf("Ready 0 with a DownloadUrl %q", *r.Response.DownloadUrl)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s %s not ready within 60 s", fileType, month)
	return ""
}

// download GETs a link with no credentials and parses the CSV.
func download(t testing.TB, link string) (*http.Response, [][]string) {
	t.Helper()
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", link, resp.StatusCode, body)
	}
	recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("downloaded file is not CSV: %v", err)
	}
	return resp, recs
}

// csvRows reads a CSV file into maps from column name to value.
func csvRows(t testing.TB, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(bufio.NewReader(f)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, rec := range recs[1:] {
		m := map[string]string{}
		for i, name := range recs[0] {
			m[name] = rec[i]
		}
		out = append(out, m)
	}
	return out
}

func sortRows(rows []map[string]string, keys ...string) {
	sort.SliceStable(rows, func(i, j int) bool {
		for _, k := range keys {
			if rows[i][k] != rows[j][k] {
				return rows[i][k] < rows[j][k]
			}
		}
		return false
	})
}

// openDB opens the data folder's database read-only style, for checks the
// API cannot make (how many jobs were queued).
func openDB(t testing.TB, dataDir string) *sql.DB {
	t.Helper()
	db, err := sqlitestore.OpenPool(filepath.Join(dataDir, "partnerbill.db"), 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func countRows(t testing.TB, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
