package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/partnerbill/partnerbill/internal/account"
	"github.com/partnerbill/partnerbill/internal/filestore"
	"github.com/partnerbill/partnerbill/internal/gateway"
	"github.com/partnerbill/partnerbill/internal/job"
	"github.com/partnerbill/partnerbill/internal/store/sqlitestore"
	"github.com/partnerbill/partnerbill/internal/tc3"
)

// Hostile input at the request path: every way a client can lie about a
// signature, smuggle a header, oversize a request or put something nasty
// in a parameter must get the right error code, and must leave no trace:
// no account, key, line item, bill file or queued build, and no file.

// likeServe returns an http.Server with the fields and values
// cmd/partnerbill's serve sets (serve.go), except the two read timeouts,
// which tests pass shorter (serve uses ReadHeaderTimeout 10 s and
// ReadTimeout 60 s) so that they finish quickly.
func likeServe(h http.Handler, readHeader, read time.Duration) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeader,
		ReadTimeout:       read,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

// served is a setup(t) stack whose API is also served by a server
// configured like serve's, through a gateway whose clock runs skew
// seconds ahead. Its bundle's url and host point at that server.
type served struct {
	*bundle
	skew atomic.Int64
}

// setupLikeServe builds setup(t)'s stack and puts a serve-like server in
// front of the same store and data folder. Its job queue only inserts
// builds (setup's queue works them), so river_job still shows every build
// a request queued.
func setupLikeServe(t *testing.T, readHeader, read time.Duration) *served {
	t.Helper()
	ctx := context.Background()
	b := setup(t)
	s := &served{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	logger := slog.New(slog.NewTextHandler(&syncBuffer{}, nil))
	files, err := filestore.Open(ctx, "", filestore.Options{DataDir: b.dir, PublicURL: base})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { files.Close() })
	riverDB, err := sqlitestore.OpenQueuePool(filepath.Join(b.dir, "pb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { riverDB.Close() })
	q, err := job.NewSQLiteQueue(ctx, riverDB, b.store, files, job.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	gw := gateway.New(gateway.Config{
		Accounts: b.store,
		Files:    &job.Files{Store: b.store, Queue: q},
		Links:    files,
		Limiter:  unlimited{},
		Logger:   logger,
		NowFunc:  func() time.Time { return time.Now().Add(time.Duration(s.skew.Load()) * time.Second) },
	})
	srv := likeServe(gateway.Routes(gw, filestore.DownloadPath, files.Handler(), b.store.Ping, nil), readHeader, read)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	front := *b
	front.url, front.host = base, ln.Addr().String()
	s.bundle = &front
	return s
}

// unlimited admits every request, so that a table of hundreds of
// requests from one account meets no rate limit.
type unlimited struct{}

func (unlimited) Allow(context.Context, string, int) (bool, error) { return true, nil }

// trace counts what a request may leave behind.
type trace struct {
	Accounts, Keys, LineItems, LedgerVersions, BillFiles, Jobs, Files int
}

// traces counts rows through the SQLite file and files under files/.
func traces(t *testing.T, b *bundle) trace {
	t.Helper()
	db, err := sqlitestore.OpenPool(filepath.Join(b.dir, "pb.db"), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tr trace
	for table, n := range map[string]*int{
		"accounts": &tr.Accounts, "api_keys": &tr.Keys, "line_items": &tr.LineItems,
		"ledger_versions": &tr.LedgerVersions, "bill_files": &tr.BillFiles, "river_job": &tr.Jobs,
	} {
		if err := db.QueryRow("SELECT count(*) FROM " + table).Scan(n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
	}
	filepath.WalkDir(filepath.Join(b.dir, "files"), func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			tr.Files++
		}
		return nil
	})
	return tr
}

// hostile is one bad request and what the server must answer.
type hostile struct {
	name string
	// req builds the request (sent with http.DefaultClient), or raw is
	// written as is on a fresh connection.
	req func() *http.Request
	raw string
	// code is the API error code; or status is the HTTP status that
	// net/http answers before the gateway sees the request.
	code   string
	status int
	msg    []string // fragments the message must contain
}

func TestHostileRequestsLeaveNoTrace(t *testing.T) {
	t.Parallel()
	s := setupLikeServe(t, 10*time.Second, 60*time.Second)
	b := s.bundle
	month := lastMonth()
	good := fmt.Sprintf(`{"Month":%q,"FileType":"L3"}`, month)
	before := traces(t, b)

	// post is a TC3 request for body, signed as o says, then changed by
	// mutate (after signing, as an attacker would).
	post := func(body string, o reqOpts, mutate ...func(r *http.Request)) func() *http.Request {
		return func() *http.Request {
			o.body = body
			r := b.tc3(t, o)
			for _, m := range mutate {
				m(r)
			}
			return r
		}
	}
	withBody := func(body string) func(r *http.Request) {
		return func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(body))
			r.ContentLength = int64(len(body))
		}
	}
	header := func(name string, values ...string) func(r *http.Request) {
		return func(r *http.Request) { r.Header[name] = values }
	}
	// postAt is a TC3 request for body signed offset from now.
	postAt := func(body string, offset time.Duration) func() *http.Request {
		return func() *http.Request { return b.tc3(t, reqOpts{body: body, ts: time.Now().Add(offset)}) }
	}
	// v1 is a signature v1 request (form POST or GET) with params, signed
	// offset from now for host, then changed by mutate.
	v1 := func(method string, params url.Values, offset time.Duration, host string, mutate func(url.Values)) func() *http.Request {
		return func() *http.Request {
			ts := time.Now().Add(offset)
			p := url.Values{"Action": {"DescribeBillDownloadUrl"}, "Version": {tc3.Version}}
			for k, v := range params {
				p[k] = v
			}
			if host == "" {
				host = b.host
			}
			signed := tc3.SignV1Form(method, host, p, b.customer.SecretID, b.customer.SecretKey, ts, "HmacSHA256")
			if mutate != nil {
				mutate(signed)
			}
			if method == http.MethodGet {
				r, _ := http.NewRequest(method, b.url+"/?"+signed.Encode(), nil)
				return r
			}
			r, _ := http.NewRequest(method, b.url+"/", strings.NewReader(signed.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}
	}
	unsigned := func(method, ct, body string) func() *http.Request {
		return func() *http.Request {
			r, _ := http.NewRequest(method, b.url+"/", strings.NewReader(body))
			if ct != "" {
				r.Header.Set("Content-Type", ct)
			}
			return r
		}
	}
	nested := func(depth int) string {
		return `{"Month":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `,"FileType":"L3"}`
	}
	rawPost := func(headers, body string) string {
		return "POST / HTTP/1.1\r\nHost: " + b.host + "\r\n" + headers + "\r\n" + body
	}
	bodyTC3 := b.tc3(t, reqOpts{body: good}) // headers of a correctly signed request, for raw cases
	signedHeaders := "Content-Type: application/json\r\nX-TC-Action: DescribeBillDownloadUrl\r\nX-TC-Version: " + tc3.Version +
		"\r\nX-TC-Timestamp: " + bodyTC3.Header.Get("X-TC-Timestamp") + "\r\nAuthorization: " + bodyTC3.Header.Get("Authorization") + "\r\n"

	cases := []hostile{
		// Signatures that do not cover what is sent.
		{name: "signature over a different body", req: post(good, reqOpts{}, withBody(strings.Replace(good, "L3", "L2", 1))), code: "AuthFailure.SignatureFailure"},
		{name: "body with a byte appended", req: post(good, reqOpts{}, withBody(good+" ")), code: "AuthFailure.SignatureFailure"},
		{name: "body cut short", req: post(good, reqOpts{}, withBody(good[:len(good)-1])), code: "AuthFailure.SignatureFailure"},
		{name: "signed for another host", req: post(good, reqOpts{}, func(r *http.Request) {
			r.Host = "intlpartnersmgt.intl.tencentcloudapi.com"
			tc3.SignTC3(r, []byte(good), b.customer.SecretID, b.customer.SecretKey, time.Now(), tc3.Service)
			r.Host = ""
		}), code: "AuthFailure.SignatureFailure"},
		{name: "signed for another port", req: post(good, reqOpts{}, func(r *http.Request) {
			r.Host = "127.0.0.1:1"
			tc3.SignTC3(r, []byte(good), b.customer.SecretID, b.customer.SecretKey, time.Now(), tc3.Service)
			r.Host = ""
		}), code: "AuthFailure.SignatureFailure"},
		{name: "sent with another Host header", req: post(good, reqOpts{}, func(r *http.Request) { r.Host = "evil.example" }), code: "AuthFailure.SignatureFailure"},
		{name: "signed with another key", req: post(good, reqOpts{key: account.Key{SecretID: b.customer.SecretID, SecretKey: "not the key"}}), code: "AuthFailure.SignatureFailure"},
		{name: "service cvm in the scope", req: post(good, reqOpts{service: "cvm"}), code: "AuthFailure.SignatureFailure", msg: []string{`"cvm"`, "intlpartnersmgt"}},
		{name: "empty service in the scope", req: post(good, reqOpts{service: "-"}, func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/-/", "//", 1))
		}), code: "AuthFailure.InvalidAuthorization", msg: []string{"empty service"}},
		{name: "date in the scope a day early", req: post(good, reqOpts{}, scopeDate(-1)), code: "AuthFailure.SignatureFailure", msg: []string{"credential scope date"}},
		{name: "date in the scope a day late", req: post(good, reqOpts{}, scopeDate(1)), code: "AuthFailure.SignatureFailure", msg: []string{"credential scope date"}},
		{name: "timestamp 301 s old (replay after the window)", req: postAt(good, -301*time.Second), code: "AuthFailure.SignatureExpire", msg: []string{"X-TC-Timestamp"}},
		// 302, not 301: the timestamp is whole seconds, so now+301 s may be
		// only 300.x s ahead by the time the server reads it.
		{name: "timestamp 302 s ahead", req: postAt(good, 302*time.Second), code: "AuthFailure.SignatureExpire"},
		{name: "timestamp 1970", req: post(good, reqOpts{ts: time.Unix(0, 0)}), code: "AuthFailure.SignatureExpire"},
		{name: "timestamp not a number", req: post(good, reqOpts{}, header("X-Tc-Timestamp", "now")), code: "InvalidParameter", msg: []string{"X-TC-Timestamp"}},
		{name: "timestamp with a fraction", req: post(good, reqOpts{}, func(r *http.Request) { r.Header.Set("X-TC-Timestamp", r.Header.Get("X-TC-Timestamp")+".0") }), code: "InvalidParameter", msg: []string{"X-TC-Timestamp"}},
		{name: "v1 timestamp 301 s old", req: v1(http.MethodPost, url.Values{"Month": {month}, "FileType": {"L3"}}, -301*time.Second, "", nil), code: "AuthFailure.SignatureExpire", msg: []string{"Timestamp"}},
		{name: "v1 timestamp 302 s ahead", req: v1(http.MethodGet, url.Values{"Month": {month}, "FileType": {"L3"}}, 302*time.Second, "", nil), code: "AuthFailure.SignatureExpire"},
		{name: "v1 parameter changed after signing", req: v1(http.MethodPost, url.Values{"Month": {month}, "FileType": {"L3"}}, 0, "", func(p url.Values) { p.Set("FileType", "L2") }), code: "AuthFailure.SignatureFailure"},
		{name: "v1 parameter added after signing", req: v1(http.MethodPost, url.Values{"Month": {month}, "FileType": {"L3"}}, 0, "", func(p url.Values) { p.Set("Region", "ap-singapore") }), code: "AuthFailure.SignatureFailure"},
		{name: "v1 signed for another host", req: v1(http.MethodGet, url.Values{"Month": {month}, "FileType": {"L3"}}, 0, "evil.example", nil), code: "AuthFailure.SignatureFailure"},
		{name: "v1 SignatureMethod changed to SHA1", req: v1(http.MethodPost, url.Values{"Month": {month}, "FileType": {"L3"}}, 0, "", func(p url.Values) { p.Set("SignatureMethod", "HmacSHA1") }), code: "AuthFailure.SignatureFailure"},
		{name: "v1 Nonce not a number", req: v1(http.MethodPost, url.Values{"Month": {month}, "FileType": {"L3"}}, 0, "", func(p url.Values) { p.Set("Nonce", "1; DROP TABLE api_keys") }), code: "InvalidParameter", msg: []string{"Nonce"}},

		// Header smuggling.
		{name: "Authorization twice", req: post(good, reqOpts{}, func(r *http.Request) { r.Header.Add("Authorization", r.Header.Get("Authorization")) }), code: "AuthFailure.InvalidAuthorization", msg: []string{"2 times"}},
		{name: "Authorization twice, names in other case", req: post(good, reqOpts{}, func(r *http.Request) {
			r.Header["authorization"] = []string{"TC3-HMAC-SHA256 Credential=x"}
		}), code: "AuthFailure.InvalidAuthorization", msg: []string{"2 times"}},
		{name: "X-TC-Action twice", req: post(good, reqOpts{}, func(r *http.Request) { r.Header.Add("X-TC-Action", "DescribeBillDownloadUrl") }), code: "InvalidParameter", msg: []string{"X-TC-Action", "2 times"}},
		{name: "X-TC-Action twice, names in other case", req: post(good, reqOpts{}, func(r *http.Request) {
			r.Header.Del("X-TC-Action")
			r.Header["x-tc-action"] = []string{"DescribeBillDownloadUrl"}
			r.Header["X-TC-ACTION"] = []string{"DescribeBillDetail"}
		}), code: "InvalidParameter", msg: []string{"X-TC-Action", "2 times"}},
		{name: "X-TC-Timestamp twice", req: post(good, reqOpts{}, func(r *http.Request) { r.Header["x-tc-timestamp"] = r.Header.Values("X-TC-Timestamp") }), code: "InvalidParameter", msg: []string{"X-TC-Timestamp", "2 times"}},
		{name: "X-TC-Version twice", req: post(good, reqOpts{}, func(r *http.Request) { r.Header.Add("X-TC-Version", "2017-03-12") }), code: "InvalidParameter", msg: []string{"X-TC-Version"}},
		{name: "X-TC-Token twice", req: post(good, reqOpts{}, header("X-Tc-Token", "a", "b")), code: "InvalidParameter", msg: []string{"X-TC-Token"}},
		{name: "Content-Type twice", req: post(good, reqOpts{}, func(r *http.Request) { r.Header.Add("Content-Type", "application/json") }), code: "InvalidParameter", msg: []string{"Content-Type"}},
		{name: "X-TC-Content-SHA256 twice", req: post(good, reqOpts{}, header("X-Tc-Content-Sha256", "UNSIGNED-PAYLOAD", "UNSIGNED-PAYLOAD")), code: "InvalidParameter", msg: []string{"X-TC-Content-SHA256"}},
		{name: "unsigned payload claimed after signing", req: post(good, reqOpts{}, header("X-Tc-Content-Sha256", "UNSIGNED-PAYLOAD")), code: "AuthFailure.SignatureFailure"},
		{name: "form POST with an Authorization header", req: post(good, reqOpts{}, header("Content-Type", "application/x-www-form-urlencoded")), code: "AuthFailure.InvalidAuthorization", msg: []string{"signature v1"}},
		{name: "v1 parameter twice", req: v1(http.MethodPost, url.Values{"Month": {month}, "FileType": {"L3"}}, 0, "", func(p url.Values) { p.Add("FileType", "L2") }), code: "InvalidParameter", msg: []string{"FileType", "2 times"}},
		{name: "v1 SecretId twice", req: v1(http.MethodPost, url.Values{"Month": {month}, "FileType": {"L3"}}, 0, "", func(p url.Values) { p.Add("SecretId", b.reseller.SecretID) }), code: "InvalidParameter", msg: []string{"SecretId"}},
		{name: "v1 GET parameter twice", req: v1(http.MethodGet, url.Values{"Month": {month}, "FileType": {"L3"}}, 0, "", func(p url.Values) { p.Add("Month", month) }), code: "InvalidParameter", msg: []string{"Month", "2 times"}},
		{name: "two Content-Length values", raw: rawPost(signedHeaders+"Content-Length: 35\r\nContent-Length: 36\r\n", good), status: http.StatusBadRequest},
		// net/http drops Content-Length when the body is chunked (RFC 9112
		// 6.3), so the gateway reads, and checks, the chunked body.
		{name: "Content-Length and chunked", raw: rawPost(signedHeaders+"Content-Length: "+strconv.Itoa(len(good))+"\r\nTransfer-Encoding: chunked\r\n", chunked(strings.Replace(good, "L3", "L2", 1))), code: "AuthFailure.SignatureFailure"},
		{name: "two Host headers", raw: "POST / HTTP/1.1\r\nHost: " + b.host + "\r\nHost: evil.example\r\n" + signedHeaders + "Content-Length: " + strconv.Itoa(len(good)) + "\r\n\r\n" + good, status: http.StatusBadRequest},
		{name: "space before a header colon", raw: rawPost(signedHeaders+"X-TC-Action : DescribeBillDetail\r\nContent-Length: "+strconv.Itoa(len(good))+"\r\n", good), status: http.StatusBadRequest},
		// net/http joins a folded (obs-fold) line to its header: no header
		// is smuggled in.
		{name: "folded header line", raw: rawPost(strings.Replace(signedHeaders, "X-TC-Action: DescribeBillDownloadUrl\r\n", "X-TC-Action: DescribeBill\r\n DownloadUrl\r\n", 1)+"Content-Length: "+strconv.Itoa(len(good))+"\r\n", good), code: "InvalidAction", msg: []string{`"DescribeBill DownloadUrl"`}},
		{name: "NUL in a header value", raw: rawPost(signedHeaders+"X-Tc-Region: ap\x00singapore\r\nContent-Length: "+strconv.Itoa(len(good))+"\r\n", good), status: http.StatusBadRequest},
		{name: "bad chunk size", raw: rawPost(signedHeaders+"Transfer-Encoding: chunked\r\n", "zz\r\n"+good+"\r\n0\r\n\r\n"), code: "InvalidRequest"},
		{name: "chunked body over 10 MB", raw: rawPost(signedHeaders+"Transfer-Encoding: chunked\r\n", chunked(strings.Repeat(" ", 10<<20+1))), code: "RequestSizeLimitExceeded"},
		{name: "Transfer-Encoding gzip", raw: rawPost(signedHeaders+"Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n"), status: http.StatusNotImplemented},

		// Oversized requests.
		// net/http reads up to MaxHeaderBytes plus 4 KB of buffer slop (8
		// KB on a reused connection) before it answers 431.
		{name: "one header over 64 KB", req: post(good, reqOpts{}, header("X-Pad", strings.Repeat("a", 80<<10))), status: http.StatusRequestHeaderFieldsTooLarge},
		{name: "many headers over 64 KB", req: post(good, reqOpts{}, func(r *http.Request) {
			for i := range 1000 {
				r.Header.Set("X-Pad-"+strconv.Itoa(i), strings.Repeat("b", 64))
			}
		}), status: http.StatusRequestHeaderFieldsTooLarge},
		{name: "Authorization over 64 KB", req: post(good, reqOpts{}, func(r *http.Request) {
			r.Header.Set("Authorization", r.Header.Get("Authorization")+strings.Repeat(";x", 40<<10))
		}), status: http.StatusRequestHeaderFieldsTooLarge},
		{name: "60 KB header reaches the gateway", req: post(good, reqOpts{}, header("X-Pad", strings.Repeat("a", 60<<10)), func(r *http.Request) { r.Header.Del("Authorization") }), code: "AuthFailure.InvalidAuthorization"},
		{name: "JSON body over 10 MB", req: post(good, reqOpts{}, withBody(`{"Month":"`+strings.Repeat("x", 10<<20)+`"}`)), code: "RequestSizeLimitExceeded", msg: []string{"10485760"}},
		{name: "JSON body over 10 MB, chunked", req: post(good, reqOpts{}, func(r *http.Request) {
			r.Body = io.NopCloser(io.MultiReader(strings.NewReader(`{"Month":"`), strings.NewReader(strings.Repeat("x", 10<<20))))
			r.ContentLength = -1
		}), code: "RequestSizeLimitExceeded"},
		{name: "Content-Length claims 20 MB", raw: rawPost(signedHeaders+"Content-Length: 20000000\r\n", good), code: "RequestSizeLimitExceeded"},
		{name: "form body over 1 MB", req: unsigned(http.MethodPost, "application/x-www-form-urlencoded", "Action=DescribeBillDownloadUrl&Month="+strings.Repeat("x", 1<<20)), code: "RequestSizeLimitExceeded", msg: []string{"1048576"}},
		{name: "query over 32 KB", req: func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, b.url+"/?Month="+strings.Repeat("x", 32<<10), nil)
			return r
		}, code: "RequestSizeLimitExceeded", msg: []string{"32768"}},
		{name: "GET with a body over 32 KB", req: unsigned(http.MethodGet, "", strings.Repeat("x", 33<<10)), code: "RequestSizeLimitExceeded"},

		// Bodies that are not what they claim.
		{name: "invalid UTF-8 in a JSON Month", req: post(`{"Month":"`+month+"\xff"+`","FileType":"L3"}`, reqOpts{}), code: "InvalidParameter", msg: []string{"Month is not valid UTF-8"}},
		{name: "invalid UTF-8 in a JSON FileType", req: post(`{"Month":"`+month+`","FileType":"L3`+"\xc3\x28"+`"}`, reqOpts{}), code: "InvalidParameter", msg: []string{"FileType is not valid UTF-8"}},
		{name: "invalid UTF-8 in a JSON key", req: post(`{"Month":"`+month+`","FileType":"L3","`+"\xff"+`":"x"}`, reqOpts{}), code: "UnknownParameter"},
		{name: "invalid UTF-8 in a form value", req: v1(http.MethodPost, url.Values{"Month": {month + "\xff"}, "FileType": {"L3"}}, 0, "", nil), code: "InvalidParameter", msg: []string{"Month is not valid UTF-8"}},
		{name: "invalid UTF-8 in a query value", req: v1(http.MethodGet, url.Values{"Month": {month}, "FileType": {"\xfeL3"}}, 0, "", nil), code: "InvalidParameter", msg: []string{"FileType is not valid UTF-8"}},
		{name: "lone surrogate escape", req: post(`{"Month":"\ud800","FileType":"L3"}`, reqOpts{}), code: "InvalidParameter", msg: []string{"Month"}},
		{name: "invalid percent-encoding in a form", req: v1(http.MethodPost, nil, 0, "", nil), code: "InvalidParameter", msg: []string{"URL encoding"}},
		{name: "JSON nested 100000 deep", req: post(nested(100000), reqOpts{}), code: "InvalidParameter", msg: []string{"nests deeper than 32"}},
		{name: "JSON nested 33 deep in objects", req: post(`{"Month":`+strings.Repeat(`{"a":`, 33)+"1"+strings.Repeat("}", 33)+`}`, reqOpts{}), code: "InvalidParameter", msg: []string{"nests deeper than 32"}},
		{name: "JSON of 5 MB of brackets", req: post(strings.Repeat("[", 5<<20), reqOpts{}), code: "InvalidParameter", msg: []string{"nests deeper"}},
		{name: "JSON nested 20 deep", req: post(nested(20), reqOpts{}), code: "InvalidParameter", msg: []string{"Month must be a string"}},
		{name: "JSON body an array", req: post(`["`+month+`","L3"]`, reqOpts{}), code: "InvalidParameter", msg: []string{"JSON object"}},
		{name: "JSON body a string", req: post(`"Month"`, reqOpts{}), code: "InvalidParameter", msg: []string{"JSON object"}},
		{name: "JSON body cut short", req: post(good[:len(good)-1], reqOpts{}), code: "InvalidParameter", msg: []string{"JSON object"}},
		{name: "JSON then more", req: post(good+good, reqOpts{}), code: "InvalidParameter", msg: []string{"data follows"}},
		{name: "JSON after a no-break space", req: post("\u00a0"+good, reqOpts{}), code: "InvalidParameter", msg: []string{"JSON object"}},
		{name: "duplicate JSON key", req: post(`{"Month":"`+month+`","Month":"2024-01","FileType":"L3"}`, reqOpts{}), code: "InvalidParameter", msg: []string{`"Month" more than once`}},
		{name: "Month a number", req: post(`{"Month":202412,"FileType":"L3"}`, reqOpts{}), code: "InvalidParameter", msg: []string{"Month must be a string"}},
		{name: "FileType a number", req: post(`{"Month":"`+month+`","FileType":3}`, reqOpts{}), code: "InvalidParameter", msg: []string{"FileType must be a string"}},
		{name: "Month a huge number", req: post(`{"Month":1e400,"FileType":"L3"}`, reqOpts{}), code: "InvalidParameter", msg: []string{"Month must be a string"}},
		{name: "Month true", req: post(`{"Month":true,"FileType":"L3"}`, reqOpts{}), code: "InvalidParameter", msg: []string{"Month must be a string"}},
		{name: "Month an object", req: post(`{"Month":{"$gt":""},"FileType":"L3"}`, reqOpts{}), code: "InvalidParameter", msg: []string{"Month must be a string"}},
		{name: "FileType a list", req: post(`{"Month":"`+month+`","FileType":["L3","L2"]}`, reqOpts{}), code: "InvalidParameter", msg: []string{"FileType must be a string"}},
		{name: "Month null", req: post(`{"Month":null,"FileType":"L3"}`, reqOpts{}), code: "MissingParameter", msg: []string{"Month"}},
		{name: "form list for a string", req: v1(http.MethodPost, url.Values{"Month.0": {month}, "FileType": {"L3"}}, 0, "", nil), code: "UnknownParameter", msg: []string{"Month.0"}},
		{name: "parameter name in other case", req: post(`{"month":"`+month+`","FileType":"L3"}`, reqOpts{}), code: "UnknownParameter", msg: []string{`did you mean "Month"`}},
		{name: "parameter the action lacks", req: post(`{"Month":"`+month+`","FileType":"L3","OwnerUin":"800000000003"}`, reqOpts{}), code: "UnknownParameter", msg: []string{"OwnerUin"}},

		// Huge values must not come back whole in the message.
		{name: "JSON Month of 1 MB", req: post(`{"Month":"`+strings.Repeat("\\u0001", 1<<20/6)+`","FileType":"L3"}`, reqOpts{}), code: "InvalidParameter", msg: []string{"Month"}},
		{name: "form FileType of 1 MB", req: v1(http.MethodPost, url.Values{"Month": {month}, "FileType": {strings.Repeat("\x01", 300<<10)}}, 0, "", nil), code: "InvalidParameter", msg: []string{"FileType"}},
		{name: "v1 SecretId of 1 MB", req: v1(http.MethodPost, url.Values{"Month": {month}}, 0, "", func(p url.Values) { p.Set("SecretId", strings.Repeat("\x01", 300<<10)) }), code: "AuthFailure.SecretIdNotFound"},
		{name: "v1 Timestamp of 1 MB", req: v1(http.MethodPost, url.Values{"Month": {month}}, 0, "", func(p url.Values) { p.Set("Timestamp", strings.Repeat("\x01", 300<<10)) }), code: "InvalidParameter", msg: []string{"Timestamp"}},
		{name: "JSON parameter name of 1 MB", req: post(`{"`+strings.Repeat("\\u0001", 1<<20/6)+`":"x"}`, reqOpts{}), code: "UnknownParameter"},
		{name: "action of 60 KB", req: post(good, reqOpts{action: strings.Repeat("A", 60<<10)}), code: "InvalidAction"},

		// Methods and content types outside the protocol.
		{name: "method PUT", req: unsigned(http.MethodPut, "application/json", good), code: "UnsupportedProtocol", msg: []string{`"PUT"`}},
		{name: "method DELETE", req: unsigned(http.MethodDelete, "application/json", good), code: "UnsupportedProtocol"},
		{name: "method PATCH", req: unsigned(http.MethodPatch, "application/json", good), code: "UnsupportedProtocol"},
		{name: "method OPTIONS", req: unsigned(http.MethodOptions, "", ""), code: "UnsupportedProtocol"},
		{name: "method TRACE", req: unsigned(http.MethodTrace, "", ""), code: "UnsupportedProtocol"},
		{name: "multipart", req: unsigned(http.MethodPost, "multipart/form-data; boundary=x", "--x--"), code: "UnsupportedProtocol", msg: []string{"multipart"}},
		{name: "charset gbk", req: post(good, reqOpts{}, header("Content-Type", "application/json; charset=gbk")), code: "UnsupportedProtocol", msg: []string{"gbk"}},
		{name: "charset utf-7", req: unsigned(http.MethodPost, "application/json; charset=utf-7", good), code: "UnsupportedProtocol", msg: []string{"utf-7"}},
		{name: "two media types", req: unsigned(http.MethodPost, "application/json, text/plain", good), code: "UnsupportedProtocol"},

		// Unknown keys, versions and actions.
		{name: "SQL in the TC3 SecretId", req: post(good, reqOpts{key: account.Key{SecretID: "AKID' OR '1'='1", SecretKey: "x"}}), code: "AuthFailure.SecretIdNotFound"},
		{name: "path in the TC3 SecretId", req: post(good, reqOpts{key: account.Key{SecretID: "../../pb.db", SecretKey: "x"}}), code: "AuthFailure.InvalidAuthorization", msg: []string{"four parts"}},
		{name: "path in the v1 SecretId", req: v1(http.MethodPost, url.Values{"Month": {month}}, 0, "", func(p url.Values) { p.Set("SecretId", "../../pb.db") }), code: "AuthFailure.SecretIdNotFound"},
		{name: "SQL in the v1 SecretId", req: v1(http.MethodPost, url.Values{"Month": {month}}, 0, "", func(p url.Values) { p.Set("SecretId", "x' UNION SELECT secret_key FROM api_keys--") }), code: "AuthFailure.SecretIdNotFound"},
		{name: "SQL in the action", req: post(good, reqOpts{action: "DescribeBillDownloadUrl'; DROP TABLE river_job;--"}), code: "InvalidAction"},
		{name: "action in other case", req: post(good, reqOpts{action: "describebilldownloadurl"}), code: "InvalidAction"},
		{name: "SQL in the version", req: post(good, reqOpts{version: "2022-09-28' OR 1=1--"}), code: "NoSuchVersion"},
		{name: "temporary-credential token", req: post(good, reqOpts{}, func(r *http.Request) { r.Header.Set("X-TC-Token", "' OR 1=1") }), code: "AuthFailure.TokenFailure"},
		{name: "reseller key", req: post(good, reqOpts{key: b.reseller}), code: "UnauthorizedOperation"},
	}

	// SQL metacharacters and path traversal in every string parameter, in
	// JSON, in a form and in a query.
	nasty := []string{
		month + "' OR '1'='1", month + "'; DROP TABLE line_items; --", "' UNION SELECT secret_key FROM api_keys --",
		month + `" OR ""="`, "1 OR 1=1", month + "%' --", `\'; --`,
		"../../../../etc/passwd", `..\..\..\windows\win.ini`, month + "/../../link-signing.key", "%2e%2e%2f%2e%2e%2fpb.db",
		"../files/bills", "/etc/passwd", month + "\x00.csv", "L3\x00", "$(touch /tmp/pwned)", "{{.}}", "<script>alert(1)</script>",
		"", " ", strings.Repeat("9", 1000),
	}
	for _, field := range []string{"Month", "FileType"} {
		for _, v := range nasty {
			params := map[string]string{"Month": month, "FileType": "L3"}
			params[field] = v
			body, _ := json.Marshal(params)
			form := url.Values{"Month": {params["Month"]}, "FileType": {params["FileType"]}}
			cases = append(cases,
				hostile{name: fmt.Sprintf("JSON %s %q", field, v), req: post(string(body), reqOpts{}), code: "InvalidParameter", msg: []string{field + " must be"}},
				hostile{name: fmt.Sprintf("form %s %q", field, v), req: v1(http.MethodPost, form, 0, "", nil), code: "InvalidParameter", msg: []string{field + " must be"}},
				hostile{name: fmt.Sprintf("query %s %q", field, v), req: v1(http.MethodGet, form, 0, "", nil), code: "InvalidParameter", msg: []string{field + " must be"}},
			)
		}
	}
	// The percent-encoding case needs a raw form body.
	for i := range cases {
		if cases[i].name == "invalid percent-encoding in a form" {
			signed := cases[i].req
			cases[i].req = func() *http.Request {
				r := signed()
				r.Body = io.NopCloser(strings.NewReader("Month=%zz&Action=DescribeBillDownloadUrl"))
				r.ContentLength = -1
				return r
			}
		}
	}

	for _, c := range cases {
		status, env, raw := sendHostile(t, b, c)
		if c.status != 0 {
			if status != c.status {
				t.Errorf("%s: HTTP %d %.200q, want %d", c.name, status, raw, c.status)
			}
			continue
		}
		if status != http.StatusOK || env == nil {
			t.Errorf("%s: HTTP %d %.200q, want 200 and the envelope", c.name, status, raw)
			continue
		}
		if got := code(*env); got != c.code {
			t.Errorf("%s: code %s (%+v), want %s", c.name, got, env.Response.Error, c.code)
			continue
		}
		if e := env.Response.Error; strings.HasPrefix(e.Message, "Month Month") || strings.HasPrefix(e.Message, "FileType FileType") {
			t.Errorf("%s: message %q names its field twice", c.name, e.Message)
		}
		for _, m := range c.msg {
			if !strings.Contains(env.Response.Error.Message, m) {
				t.Errorf("%s: message %q does not say %q", c.name, env.Response.Error.Message, m)
			}
		}
		if env.Response.Ready != nil || env.Response.DownloadUrl != nil {
			t.Errorf("%s: an error response carries business fields", c.name)
		}
		if len(raw) > 8<<10 {
			t.Errorf("%s: a %d-byte error response; messages must not echo what was sent", c.name, len(raw))
		}
	}
	t.Logf("%d hostile requests", len(cases))

	after := traces(t, b)
	if after != before || after.Jobs != 0 || after.Files != 0 || after.BillFiles != 0 {
		t.Errorf("hostile requests left a trace: before %+v, after %+v", before, after)
	}
	if strings.Contains(b.logs.String(), b.customer.SecretKey) {
		t.Error("a SecretKey reached the log")
	}

	// The trace counter sees what a request does leave: one good request
	// queues one build.
	if env := send(t, b.tc3(t, reqOpts{body: good})); code(env) != "ok" {
		t.Fatalf("good request: %+v", env.Response.Error)
	}
	if got := traces(t, b); got.Jobs != before.Jobs+1 {
		t.Errorf("after one good request: %+v, want one job more than %+v", got, before)
	}
}

// sendHostile sends c and returns the HTTP status, the envelope when the
// body is one, and the raw body.
func sendHostile(t *testing.T, b *bundle, c hostile) (int, *envelope, []byte) {
	t.Helper()
	var resp *http.Response
	if c.raw != "" {
		conn, err := net.Dial("tcp", b.host)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		go io.WriteString(conn, c.raw) // the server may answer before reading it all
		resp, err = http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
	} else {
		var err error
		resp, err = http.DefaultClient.Do(c.req())
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var env envelope
	if json.Unmarshal(raw, &env) != nil || env.Response.RequestId == "" {
		return resp.StatusCode, nil, raw
	}
	return resp.StatusCode, &env, raw
}

// chunked encodes body as one chunk and the last chunk.
func chunked(body string) string {
	return fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body)
}

// scopeDate moves the date in a signed request's credential scope by days.
func scopeDate(days int) func(r *http.Request) {
	return func(r *http.Request) {
		sec, _ := strconv.ParseInt(r.Header.Get("X-TC-Timestamp"), 10, 64)
		ts := time.Unix(sec, 0).UTC()
		d := ts.Format("2006-01-02")
		r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/"+d+"/", "/"+ts.AddDate(0, 0, days).Format("2006-01-02")+"/", 1))
	}
}

// TestReplayAfterTheWindow replays the exact bytes of accepted requests.
// Within the five-minute window a replay is accepted (the protocol has no
// nonce store, and DescribeBillDownloadUrl is idempotent); once the
// server's clock has moved 301 seconds on, it is refused.
func TestReplayAfterTheWindow(t *testing.T) {
	t.Parallel()
	s := setupLikeServe(t, 10*time.Second, 60*time.Second)
	b := s.bundle
	good := fmt.Sprintf(`{"Month":%q,"FileType":"L3"}`, lastMonth())
	signed := b.tc3(t, reqOpts{body: good})
	form := tc3.SignV1Form(http.MethodPost, b.host, url.Values{
		"Action": {"DescribeBillDownloadUrl"}, "Version": {tc3.Version}, "Month": {lastMonth()}, "FileType": {"L2"},
	}, b.customer.SecretID, b.customer.SecretKey, time.Now(), "HmacSHA256").Encode()
	replays := map[string]func() *http.Request{
		"TC3": func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, b.url+"/", strings.NewReader(good))
			r.Header = signed.Header.Clone()
			return r
		},
		"v1": func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, b.url+"/", strings.NewReader(form))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		},
	}
	for name, replay := range replays {
		for range 2 {
			if env := send(t, replay()); code(env) != "ok" {
				t.Fatalf("%s within the window: %+v", name, env.Response.Error)
			}
		}
	}
	for _, skew := range []int64{301, -301, 3600} {
		s.skew.Store(skew)
		for name, replay := range replays {
			if env := send(t, replay()); code(env) != "AuthFailure.SignatureExpire" {
				t.Errorf("%s replayed with the server clock %+d s on: %s, want AuthFailure.SignatureExpire", name, skew, code(env))
			}
		}
	}
}

// TestPathsOutsideTheRoutes asks for the data folder's files by URL path
// tricks, on the raw connection so that nothing cleans the path first.
// The router serves only its routes; nothing of the database or the link
// signing key comes back.
func TestPathsOutsideTheRoutes(t *testing.T) {
	t.Parallel()
	s := setupLikeServe(t, 10*time.Second, 60*time.Second)
	b := s.bundle
	key, err := os.ReadFile(filepath.Join(b.dir, "link-signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{
		"/pb.db", "/../pb.db", "/download/../pb.db", "/download/..%2fpb.db", "/download%2f..%2fpb.db",
		"/download/../../link-signing.key", "/link-signing.key", "/files/", "/files/bills", "//download?obj=../pb.db",
		"/download?obj=../pb.db&expiry=99999999999&method=GET&signature=x", "/./download?obj=..%2Flink-signing.key",
		"/%2e%2e/pb.db", "/healthz/../pb.db", "/metrics/../../pb.db", "/?Action=../../pb.db",
	} {
		conn, err := net.Dial("tcp", b.host)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, b.host)
		raw, _ := io.ReadAll(conn)
		conn.Close()
		if strings.Contains(string(raw), "SQLite format 3") || strings.Contains(string(raw), strings.TrimSpace(string(key))) {
			t.Errorf("GET %s returned the data folder's contents", path)
		}
		if status := strings.SplitN(string(raw), " ", 3); len(status) < 2 || status[1] == "200" && !strings.HasPrefix(path, "/?") {
			t.Errorf("GET %s: %.80q, want a refusal", path, raw)
		}
	}
}

// A declared body length is not trusted with memory before the bytes
// arrive: an unauthenticated client that declares 10 MB and sends one
// byte, on many connections at once, must not make the server allocate
// 10 MB for each. Not parallel: it measures the process's allocations.
func TestDeclaredBodyLengthIsNotAllocatedUpFront(t *testing.T) {
	b := setup(t)
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{"))
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = 10_000_000
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rec := httptest.NewRecorder()
	b.handler.ServeHTTP(rec, req)
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Fatalf("a request declaring 10 MB and sending 1 byte allocated %d bytes; want well under 1 MiB", got)
	}
}
