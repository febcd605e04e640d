package filestore_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/partnerbill/partnerbill/internal/filestore"
)

// Download links under attack. The conformance suite (filestoretest)
// checks that a few alterations are refused; these tests add every part
// of the link, the rule that a refusal looks the same whether or not the
// target exists, and that even a correctly signed link cannot leave the
// bucket. FuzzDownloadLink then tries everything else.

// linkKey is a fixed link signing key, so that tests can sign links the
// way fileblob does (see signLink) and reach code behind the signature check.
var linkKey = bytes.Repeat([]byte{0x5a}, 32)

// Two customers' files; the link tests hand out links to keyA only.
const (
	keyA     = "bills/800000000001/2024-12/L3-v1.csv"
	keyB     = "bills/800000000002/2024-12/L3-v1.csv"
	keyNone  = "bills/800000000001/2024-12/L3-v9.csv" // never written
	bodyA    = "secret of 800000000001\n"
	bodyB    = "secret of 800000000002\n"
	outside  = "secret outside the bucket\n"
	refusal  = "this download link is invalid or has expired; ask the API for a fresh one\n"
	fileMeta = "text/csv"
)

// hostileStore opens a file store with linkKey holding keyA and keyB, and
// a file beside the bucket (in the data folder) that no link may reach.
func hostileStore(tb testing.TB, dir string) *filestore.Store {
	tb.Helper()
	s, err := filestore.Open(context.Background(), "", filestore.Options{
		DataDir: dir, PublicURL: "http://127.0.0.1:1", LinkKey: hex.EncodeToString(linkKey),
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	for key, body := range map[string]string{keyA: bodyA, keyB: bodyB} {
		err := s.Put(context.Background(), key, filestore.Meta{ContentType: fileMeta}, func(w io.Writer) error {
			_, err := io.WriteString(w, body)
			return err
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "outside.txt"), []byte(outside), 0o600); err != nil {
		tb.Fatal(err)
	}
	return s
}

// signLink builds the query of a link to obj as fileblob's URLSignerHMAC
// signs it with linkKey. Tests use it to make correctly signed links that
// SignedURL would never mint (expired ones, keys outside the bucket).
func signLink(obj string, expiry int64) url.Values {
	q := url.Values{"obj": {obj}, "expiry": {strconv.FormatInt(expiry, 10)}, "method": {http.MethodGet}}
	m := hmac.New(sha256.New, linkKey)
	m.Write([]byte(q.Encode()))
	q.Set("signature", base64.RawURLEncoding.EncodeToString(m.Sum(nil)))
	return q
}

// download runs h on GET /download?query and returns the status and body.
func download(h http.Handler, method, query string) (int, string) {
	r := httptest.NewRequest(method, filestore.DownloadPath, nil)
	r.URL.RawQuery = query
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec.Code, rec.Body.String()
}

// mintedQuery returns the query of the link SignedURL mints for key.
func mintedQuery(t testing.TB, s *filestore.Store, key string) url.Values {
	t.Helper()
	link, err := s.SignedURL(context.Background(), key, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

func TestHostileLinksAreRefusedAlike(t *testing.T) {
	t.Parallel()
	s := hostileStore(t, t.TempDir())
	h := s.Handler()
	now := time.Now().Unix()

	// The test's signer agrees with fileblob's, or the cases below that
	// rely on it would pass for the wrong reason.
	if code, body := download(h, http.MethodGet, signLink(keyA, now+60).Encode()); code != http.StatusOK || body != bodyA {
		t.Fatalf("link signed by the test: %d %q, want 200 %q", code, body, bodyA)
	}
	if code, body := download(h, http.MethodGet, mintedQuery(t, s, keyA).Encode()); code != http.StatusOK || body != bodyA {
		t.Fatalf("minted link: %d %q, want 200", code, body)
	}

	set := func(name, value string) func(q url.Values) {
		return func(q url.Values) { q.Set(name, value) }
	}
	alterations := map[string]func(q url.Values){
		"altered signature": func(q url.Values) {
			sig := []byte(q.Get("signature"))
			sig[len(sig)/2] ^= 1
			q.Set("signature", string(sig))
		},
		"signature removed":             func(q url.Values) { q.Del("signature") },
		"signature in upper case":       func(q url.Values) { q.Set("signature", strings.ToUpper(q.Get("signature"))) },
		"signature of customer B":       func(q url.Values) { q.Set("signature", mintedQuery(t, s, keyB).Get("signature")) },
		"customer A's link, B's object": set("obj", keyB),
		"object of another month":       set("obj", "bills/800000000001/2024-11/L3-v1.csv"),
		"traversal to the signing key":  set("obj", "../link-signing.key"),
		"traversal through bills":       set("obj", "bills/../../outside.txt"),
		"traversal to B":                set("obj", "bills/800000000001/../800000000002/2024-12/L3-v1.csv"),
		"absolute path":                 set("obj", "/etc/passwd"),
		"encoded traversal":             set("obj", "..%2Foutside.txt"),
		"expiry one second later": func(q url.Values) {
			n, _ := strconv.ParseInt(q.Get("expiry"), 10, 64)
			q.Set("expiry", strconv.FormatInt(n+1, 10))
		},
		"expiry far in the future":   set("expiry", "99999999999"),
		"expiry with a leading zero": func(q url.Values) { q.Set("expiry", "0"+q.Get("expiry")) },
		"expiry not a number":        set("expiry", "tomorrow"),
		"expiry removed":             func(q url.Values) { q.Del("expiry") },
		"method PUT":                 set("method", http.MethodPut),
		"method in lower case":       set("method", "get"),
		"method removed":             func(q url.Values) { q.Del("method") },
		"content type added":         set("contentType", "text/html"),
	}
	targets := map[string]url.Values{
		"existing":     mintedQuery(t, s, keyA),
		"not existing": mintedQuery(t, s, keyNone),
	}
	for name, alter := range alterations {
		got := map[string]string{}
		for target, minted := range targets {
			q := url.Values{}
			for k, v := range minted {
				q[k] = append([]string(nil), v...)
			}
			alter(q)
			code, body := download(h, http.MethodGet, q.Encode())
			if code != http.StatusForbidden || body != refusal {
				t.Errorf("%s (%s target): %d %q, want 403 %q", name, target, code, body, refusal)
			}
			got[target] = strconv.Itoa(code) + " " + body
			if code, body := download(h, http.MethodHead, q.Encode()); code != http.StatusForbidden || strings.Contains(body, "secret") {
				t.Errorf("%s (%s target), HEAD: %d %q, want 403", name, target, code, body)
			}
		}
		if got["existing"] != got["not existing"] {
			t.Errorf("%s: the answer tells whether the file exists: %q vs %q", name, got["existing"], got["not existing"])
		}
	}

	// Expired links, correctly signed, for an existing and a missing file.
	for _, key := range []string{keyA, keyNone} {
		for _, expiry := range []int64{now - 1, now - 3600, 0, -1} {
			if code, body := download(h, http.MethodGet, signLink(key, expiry).Encode()); code != http.StatusForbidden || body != refusal {
				t.Errorf("expired link to %s (expiry %d): %d %q, want 403 %q", key, expiry, code, body, refusal)
			}
		}
	}

	// Even a correctly signed link, which only a leaked signing key could
	// make, cannot leave the bucket: fileblob escapes "../" in keys and
	// refuses a path outside its folder.
	for _, obj := range []string{
		"../link-signing.key", "../outside.txt", "bills/../../outside.txt", "..", "../", "./../outside.txt",
		"/../outside.txt", "..\\outside.txt", "bills/800000000001/../../../outside.txt", "%2e%2e/outside.txt",
	} {
		code, body := download(h, http.MethodGet, signLink(obj, now+60).Encode())
		if code == http.StatusOK || code == http.StatusPartialContent || strings.Contains(body, "secret") || strings.Contains(body, hex.EncodeToString(linkKey)) {
			t.Errorf("signed link to %q: %d %q, want a refusal without content", obj, code, body)
		}
	}
}

// FuzzDownloadLink fuzzes the query string of a download link. In the
// input, SIG and EXP stand for the signature and expiry of the one link
// minted (for customer A's file), so the fuzzer starts from a working
// link and mutates around it. Only a query whose signed parameters are
// exactly the minted ones (as the handler reads them: first values) gets
// 200 and A's bytes; everything else gets the same 403 and the same body,
// and no input ever returns customer B's bytes.
func FuzzDownloadLink(f *testing.F) {
	s := hostileStore(f, f.TempDir())
	h := s.Handler()
	minted := mintedQuery(f, s, keyA)
	sig, exp := minted.Get("signature"), minted.Get("expiry")
	f.Fuzz(func(t *testing.T, query string) {
		query = strings.ReplaceAll(strings.ReplaceAll(query, "SIG", sig), "EXP", exp)
		code, body := download(h, http.MethodGet, query)
		q, _ := url.ParseQuery(query) // as Request.URL.Query reads it
		exact := q.Get("obj") == keyA && q.Get("expiry") == exp && q.Get("method") == http.MethodGet &&
			q.Get("contentType") == "" && q.Get("signature") == sig
		switch {
		case exact && (code != http.StatusOK || body != bodyA):
			t.Fatalf("the minted link as %q: %d %q, want 200 %q", query, code, body, bodyA)
		case !exact && (code != http.StatusForbidden || body != refusal):
			t.Fatalf("altered link %q: %d %q, want 403 %q", query, code, body, refusal)
		}
	})
}
