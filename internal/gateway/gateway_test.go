package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/partnerbill/partnerbill/internal/account"
	"github.com/partnerbill/partnerbill/internal/filestore"
	"github.com/partnerbill/partnerbill/internal/gateway"
	"github.com/partnerbill/partnerbill/internal/job"
	"github.com/partnerbill/partnerbill/internal/ledger"
	"github.com/partnerbill/partnerbill/internal/ratelimit"
	"github.com/partnerbill/partnerbill/internal/store/sqlitestore"
	"github.com/partnerbill/partnerbill/internal/store/storetest"
	"github.com/partnerbill/partnerbill/internal/tc3"
)

// bundle is a whole partnerbill stack on a loopback port.
type bundle struct {
	url      string
	host     string
	dir      string
	store    *sqlitestore.DB
	customer account.Key
	reseller account.Key
	logs     *syncBuffer
	handler  http.Handler
}

type fastRetry struct{}

func (fastRetry) NextRetry(*rivertype.JobRow) time.Time { return time.Now().Add(10 * time.Millisecond) }

type syncBuffer struct {
	mu sync.Mutex
	bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.Write(p)
}

// reset empties the buffer (for benchmarks, whose logs would pile up).
func (b *syncBuffer) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.Buffer.Reset()
}

// setup builds the stack; tweak, if given, adjusts the gateway's Config.
func setup(t testing.TB, tweak ...func(*gateway.Config)) *bundle {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "pb.db")
	st, err := sqlitestore.Open(ctx, path, &sqlitestore.Options{Sealer: storetest.NewSealer(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	riverDB, err := sqlitestore.OpenQueuePool(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { riverDB.Close() })

	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	files, err := filestore.Open(ctx, "", filestore.Options{DataDir: dir, PublicURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { files.Close() })
	q, err := job.NewSQLiteQueue(ctx, riverDB, st, files, job.Options{RetryPolicy: fastRetry{}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		q.Stop(ctx)
	})
	cfg := gateway.Config{
		Accounts: st,
		Files:    &job.Files{Store: st, Queue: q},
		Links:    files,
		Limiter:  ratelimit.NewLocal(),
		Logger:   logger,
	}
	for _, f := range tweak {
		f(&cfg)
	}
	gw := gateway.New(cfg)
	h = gateway.Routes(gw, filestore.DownloadPath, files.Handler(), st.Ping, nil)
	b := &bundle{url: srv.URL, host: strings.TrimPrefix(srv.URL, "http://"), dir: dir, store: st, logs: logs, handler: h}
	b.reseller = b.account(t, "800000400309", account.RoleReseller)
	b.customer = b.account(t, "800000000002", account.RoleEndCustomer)
	return b
}

func (b *bundle) account(t testing.TB, uin string, role account.Role) account.Key {
	t.Helper()
	ctx := context.Background()
	if err := b.store.CreateAccount(ctx, account.Account{UIN: uin, Role: role}); err != nil {
		t.Fatal(err)
	}
	k := account.NewKey(uin, time.Now())
	if err := b.store.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	return k
}

// envelope is the API 3.0 response envelope.
type envelope struct {
	Response struct {
		Error *struct {
			Code    string
			Message string
		}
		RequestId   string
		Ready       *int
		DownloadUrl *string
	}
}

// send sends req and decodes the envelope, checking what every answer
// must have: HTTP 200, JSON, a RequestId.
func send(t testing.TB, req *http.Request) envelope {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("HTTP %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatalf("response is not the envelope: %v: %s", err, raw)
	}
	if env.Response.RequestId == "" {
		t.Fatalf("no RequestId: %s", raw)
	}
	return env
}

// tc3Request builds a TC3-signed POST with the usual headers; mutate may
// change it after signing.
type reqOpts struct {
	key     account.Key
	action  string
	version string
	body    string
	ts      time.Time
	service string
}

func (b *bundle) tc3(t testing.TB, o reqOpts) *http.Request {
	t.Helper()
	if o.key.SecretID == "" {
		o.key = b.customer
	}
	if o.action == "" {
		o.action = "DescribeBillDownloadUrl"
	}
	if o.version == "" {
		o.version = tc3.Version
	}
	if o.ts.IsZero() {
		o.ts = time.Now()
	}
	if o.service == "" {
		o.service = tc3.Service
	}
	req, err := http.NewRequest(http.MethodPost, b.url+"/", strings.NewReader(o.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if o.action != "-" {
		req.Header.Set("X-TC-Action", o.action)
	}
	if o.version != "-" {
		req.Header.Set("X-TC-Version", o.version)
	}
	tc3.SignTC3(req, []byte(o.body), o.key.SecretID, o.key.SecretKey, o.ts, o.service)
	return req
}

// settled sends the customer's DescribeBillDownloadUrl with body until
// the answer is something other than Ready 0 (an error, or Ready 1), for
// at most 30 s.
func (b *bundle) settled(t testing.TB, body string) envelope {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		env := send(t, b.tc3(t, reqOpts{body: body}))
		if code(env) != "ok" || *env.Response.Ready == 1 {
			return env
		}
	}
	t.Fatal("no answer but Ready 0 for 30 s")
	return envelope{}
}

func lastMonth() string {
	now := time.Now().UTC()
	return ledger.MonthOf(now.AddDate(0, 0, -now.Day())).String()
}

func code(env envelope) string {
	if env.Response.Error == nil {
		return "ok"
	}
	return env.Response.Error.Code
}

// TestErrorCodes triggers every error the gateway answers and checks its
// code and that its message names what was wrong.
func TestErrorCodes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	disabled := b.account(t, "800000000003", account.RoleEndCustomer)
	if err := b.store.DisableKey(context.Background(), disabled.SecretID); err != nil {
		t.Fatal(err)
	}
	good := fmt.Sprintf(`{"Month":%q,"FileType":"L3"}`, lastMonth())
	now := time.Now()
	nextMonth := ledger.MonthOf(now.UTC().AddDate(0, 1, 0)).String()

	raw := func(method, ct, body string) *http.Request {
		req, _ := http.NewRequest(method, b.url+"/", strings.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		return req
	}
	cases := []struct {
		name    string
		req     *http.Request
		code    string
		message string // a fragment the message must contain
	}{
		{"PUT", raw(http.MethodPut, "application/json", good), "UnsupportedProtocol", "POST"},
		{"text/plain", raw(http.MethodPost, "text/plain", good), "UnsupportedProtocol", "application/json"},
		{"no content type", raw(http.MethodPost, "", good), "UnsupportedProtocol", "Content-Type"},
		{"JSON over 10 MB", raw(http.MethodPost, "application/json", `{"Month":"`+strings.Repeat("x", 10<<20)+`"}`), "RequestSizeLimitExceeded", "limit"},
		{"form over 1 MB", raw(http.MethodPost, "application/x-www-form-urlencoded", "Action=x&Month="+strings.Repeat("x", 1<<20)), "RequestSizeLimitExceeded", "limit"},
		{"query over 32 KB", raw(http.MethodGet, "", ""), "RequestSizeLimitExceeded", "32768"},
		{"no Authorization", raw(http.MethodPost, "application/json", good), "AuthFailure.InvalidAuthorization", "Authorization"},
		{"malformed Authorization", func() *http.Request {
			r := b.tc3(t, reqOpts{body: good})
			r.Header.Set("Authorization", "TC3-HMAC-SHA256 Credential=oops")
			return r
		}(), "AuthFailure.InvalidAuthorization", ""},
		{"unknown SecretId", b.tc3(t, reqOpts{body: good, key: account.Key{SecretID: "AKIDunknownunknownunknownunknown0001", SecretKey: "x"}}), "AuthFailure.SecretIdNotFound", ""},
		{"disabled key", b.tc3(t, reqOpts{body: good, key: disabled}), "AuthFailure.SecretIdNotFound", ""},
		{"wrong signature", func() *http.Request {
			r := b.tc3(t, reqOpts{body: good, key: account.Key{SecretID: b.customer.SecretID, SecretKey: "not the key"}})
			return r
		}(), "AuthFailure.SignatureFailure", "signature"},
		{"body changed after signing", func() *http.Request {
			r := b.tc3(t, reqOpts{body: good})
			changed := strings.Replace(good, "L3", "L2", 1)
			r.Body = io.NopCloser(strings.NewReader(changed))
			return r
		}(), "AuthFailure.SignatureFailure", ""},
		{"wrong service in scope", b.tc3(t, reqOpts{body: good, service: "127"}), "AuthFailure.SignatureFailure", "intlpartnersmgt"},
		{"wrong date in scope", func() *http.Request {
			r := b.tc3(t, reqOpts{body: good})
			a := r.Header.Get("Authorization")
			d := now.UTC().Format("2006-01-02")
			r.Header.Set("Authorization", strings.Replace(a, d, now.UTC().AddDate(0, 0, -1).Format("2006-01-02"), 1))
			return r
		}(), "AuthFailure.SignatureFailure", ""},
		// The exact 300/301 s boundary is tested in tc3 with an injected clock;
		// these requests are signed before the table runs, so they keep a margin.
		{"timestamp 330 s old", b.tc3(t, reqOpts{body: good, ts: now.Add(-330 * time.Second)}), "AuthFailure.SignatureExpire", ""},
		{"timestamp 330 s ahead", b.tc3(t, reqOpts{body: good, ts: now.Add(330 * time.Second)}), "AuthFailure.SignatureExpire", ""},
		{"no X-TC-Action", b.tc3(t, reqOpts{body: good, action: "-"}), "MissingParameter", "Action"},
		{"unknown action", b.tc3(t, reqOpts{body: good, action: "DescribeBillDownloadURL"}), "InvalidAction", "DescribeBillDownloadURL"},
		{"no version", b.tc3(t, reqOpts{body: good, version: "-"}), "MissingParameter", "Version"},
		{"wrong version", b.tc3(t, reqOpts{body: good, version: "2017-03-12"}), "NoSuchVersion", "2022-09-28"},
		{"reseller calls an end-customer action", b.tc3(t, reqOpts{body: good, key: b.reseller}), "UnauthorizedOperation", "reseller"},
		{"unknown parameter", b.tc3(t, reqOpts{body: `{"Month":"2024-12","FileType":"L3","Format":"zip"}`}), "UnknownParameter", "Format"},
		{"parameter name in other case", b.tc3(t, reqOpts{body: `{"month":"2024-12","FileType":"L3"}`}), "UnknownParameter", "month"},
		{"body not an object", b.tc3(t, reqOpts{body: `["2024-12","L3"]`}), "InvalidParameter", "object"},
		{"Month a number", b.tc3(t, reqOpts{body: `{"Month":202412,"FileType":"L3"}`}), "InvalidParameter", "Month"},
		{"Month missing", b.tc3(t, reqOpts{body: `{"FileType":"L3"}`}), "MissingParameter", "Month"},
		{"FileType missing", b.tc3(t, reqOpts{body: `{"Month":"2024-12"}`}), "MissingParameter", "FileType"},
		{"Month malformed", b.tc3(t, reqOpts{body: `{"Month":"2024-1","FileType":"L3"}`}), "InvalidParameter", "2022-06"},
		{"Month before 2022-06", b.tc3(t, reqOpts{body: `{"Month":"2022-05","FileType":"L3"}`}), "InvalidParameter", "2022-06"},
		{"Month in the future", b.tc3(t, reqOpts{body: fmt.Sprintf(`{"Month":%q,"FileType":"L3"}`, nextMonth)}), "InvalidParameter", "current month"},
		{"FileType L1", b.tc3(t, reqOpts{body: `{"Month":"2024-12","FileType":"L1"}`}), "InvalidParameter", "FileType"},
		{"temporary credential token", func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, b.url+"/", strings.NewReader(good))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("X-TC-Action", "DescribeBillDownloadUrl")
			r.Header.Set("X-TC-Version", tc3.Version)
			r.Header.Set("X-TC-Token", "TmpToken-abc")
			tc3.SignTC3(r, []byte(good), b.customer.SecretID, b.customer.SecretKey, now, tc3.Service)
			return r
		}(), "AuthFailure.TokenFailure", "token"},
		{"accepted", b.tc3(t, reqOpts{body: good}), "ok", ""},
	}
	// The GET case needs an oversized query.
	cases[5].req.URL.RawQuery = "Action=DescribeBillDownloadUrl&Month=" + strings.Repeat("x", 32<<10)
	for _, c := range cases {
		env := send(t, c.req)
		if got := code(env); got != c.code {
			t.Errorf("%s: code %s (%+v), want %s", c.name, got, env.Response.Error, c.code)
			continue
		}
		if env.Response.Error != nil && !strings.Contains(env.Response.Error.Message, c.message) {
			t.Errorf("%s: message %q does not mention %q", c.name, env.Response.Error.Message, c.message)
		}
		if env.Response.Error != nil && (env.Response.Ready != nil || env.Response.DownloadUrl != nil) {
			t.Errorf("%s: an error response carries business fields", c.name)
		}
	}
	if strings.Contains(b.logs.String(), b.customer.SecretKey) || strings.Contains(b.logs.String(), "Signature=") {
		t.Error("a SecretKey or an Authorization header reached the log")
	}
}

func TestV1FormAndGetAreServed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	params := url.Values{"Action": {"DescribeBillDownloadUrl"}, "Version": {tc3.Version}, "Month": {lastMonth()}, "FileType": {"L2"}, "Region": {"ap-singapore"}}
	for _, m := range []string{"HmacSHA256", "HmacSHA1"} {
		form := tc3.SignV1Form(http.MethodPost, b.host, params, b.customer.SecretID, b.customer.SecretKey, time.Now(), m)
		req, _ := http.NewRequest(http.MethodPost, b.url+"/", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if env := send(t, req); code(env) != "ok" || env.Response.Ready == nil {
			t.Errorf("v1 %s form: %+v", m, env.Response)
		}
		q := tc3.SignV1Form(http.MethodGet, b.host, params, b.customer.SecretID, b.customer.SecretKey, time.Now(), m)
		req, _ = http.NewRequest(http.MethodGet, b.url+"/?"+q.Encode(), nil)
		if env := send(t, req); code(env) != "ok" || env.Response.Ready == nil {
			t.Errorf("v1 %s GET: %+v", m, env.Response)
		}
	}
	// A wrong v1 signature is refused like a TC3 one.
	form := tc3.SignV1Form(http.MethodPost, b.host, params, b.customer.SecretID, "wrong key", time.Now(), "HmacSHA256")
	req, _ := http.NewRequest(http.MethodPost, b.url+"/", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if env := send(t, req); code(env) != "AuthFailure.SignatureFailure" {
		t.Errorf("v1 wrong key: %s", code(env))
	}
}

func TestRateLimitIsPerAccount(t *testing.T) {
	t.Parallel()
	b := setup(t)
	other := b.account(t, "800000000004", account.RoleEndCustomer)
	body := fmt.Sprintf(`{"Month":%q,"FileType":"L3"}`, lastMonth())
	limited := 0
	for range 40 {
		if code(send(t, b.tc3(t, reqOpts{body: body}))) == "RequestLimitExceeded" {
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("40 requests in a burst were all admitted; the limit is 20 per second")
	}
	if got := code(send(t, b.tc3(t, reqOpts{body: body, key: other}))); got != "ok" {
		t.Errorf("another account during the burst: %s, want ok", got)
	}
}

func TestFailedBuildIsFailedOperationThenRebuilt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	row := storetest.Row("1", b.customer.UIN, "2024-12-01 00:00:00")
	if _, err := b.store.ImportRows(context.Background(), func(yield func(ledger.Row, error) bool) { yield(row, nil) }); err != nil {
		t.Fatal(err)
	}
	blocker := filepath.Join(b.dir, "files", "bills", b.customer.UIN)
	os.MkdirAll(filepath.Dir(blocker), 0o755)
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	body := `{"Month":"2024-12","FileType":"L3"}`
	env := b.settled(t, body)
	if code(env) != "FailedOperation" || !strings.Contains(env.Response.Error.Message, "next request") {
		t.Fatalf("got %s %+v, want FailedOperation", code(env), env.Response.Error)
	}
	os.Remove(blocker)
	if env := b.settled(t, body); code(env) != "ok" || *env.Response.Ready != 1 {
		t.Fatalf("after the fault cleared: %s", code(env))
	}
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, err := http.Get(b.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("healthz = %d", resp.StatusCode)
	}
	b.store.Close()
	resp, err = http.Get(b.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("healthz with the store closed = %d, want 503", resp.StatusCode)
	}
}
