package filestore

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// setup opens a store in a temp data folder whose links point at a test
// server running its Handler.
func setup(t *testing.T) (*Store, *httptest.Server, string) {
	t.Helper()
	dir := t.TempDir()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s, err := Open(context.Background(), "", Options{DataDir: dir, PublicURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	mux.Handle(DownloadPath, s.Handler())
	return s, srv, dir
}

func put(t *testing.T, s *Store, key, body string) {
	t.Helper()
	err := s.Put(context.Background(), key, Meta{ContentType: "text/csv; charset=utf-8", FileName: "L3-bill_details-2024-12.csv"}, func(w io.Writer) error {
		_, err := io.WriteString(w, body)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, u string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestSignedLinkDownloads(t *testing.T) {
	t.Parallel()
	s, _, _ := setup(t)
	const body = "PayerAccountId,OwnerAccountId\n1,2\n"
	put(t, s, "bills/800000000002/2024-12/L3-v1.csv", body)
	u, err := s.SignedURL(context.Background(), "bills/800000000002/2024-12/L3-v1.csv", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	resp, got := get(t, u)
	if resp.StatusCode != 200 || got != body {
		t.Fatalf("GET = %d %q, want 200 %q", resp.StatusCode, got, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("Content-Type = %q", ct)
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="L3-bill_details-2024-12.csv"` {
		t.Errorf("Content-Disposition = %q", cd)
	}
	resp, got = get(t, u, "Range", "bytes=15-27")
	if resp.StatusCode != http.StatusPartialContent || got != body[15:28] {
		t.Errorf("Range GET = %d %q, want 206 %q", resp.StatusCode, got, body[15:28])
	}
}

func TestAlteredOrExpiredLinksAreRefused(t *testing.T) {
	t.Parallel()
	s, srv, _ := setup(t)
	put(t, s, "bills/a/2024-12/L3-v1.csv", "secret of a\n")
	put(t, s, "bills/b/2024-12/L3-v1.csv", "secret of b\n")
	good, err := s.SignedURL(context.Background(), "bills/a/2024-12/L3-v1.csv", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	alter := func(f func(q url.Values)) string {
		u, _ := url.Parse(good)
		q := u.Query()
		f(q)
		u.RawQuery = q.Encode()
		return u.String()
	}
	cases := map[string]string{
		"other customer's object": alter(func(q url.Values) { q.Set("obj", "bills/b/2024-12/L3-v1.csv") }),
		"missing object":          alter(func(q url.Values) { q.Set("obj", "bills/a/2024-12/L2-v9.csv") }),
		"path traversal":          alter(func(q url.Values) { q.Set("obj", "../link-signing.key") }),
		"extended expiry":         alter(func(q url.Values) { q.Set("expiry", "99999999999") }),
		"altered signature":       alter(func(q url.Values) { s := q.Get("signature"); q.Set("signature", "A"+s[1:]) }),
		"no signature":            alter(func(q url.Values) { q.Del("signature") }),
		"PUT link as GET":         alter(func(q url.Values) { q.Set("method", "PUT") }),
		"no query":                srv.URL + DownloadPath,
	}
	for name, u := range cases {
		resp, body := get(t, u)
		if resp.StatusCode != http.StatusForbidden || strings.Contains(body, "secret") {
			t.Errorf("%s: %d %q, want 403 without content", name, resp.StatusCode, body)
		}
	}
	short, err := s.SignedURL(context.Background(), "bills/a/2024-12/L3-v1.csv", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// Links carry whole seconds: wait until this one is certainly past.
	time.Sleep(2100 * time.Millisecond)
	if resp, _ := get(t, short); resp.StatusCode != http.StatusForbidden {
		t.Errorf("expired link: %d, want 403", resp.StatusCode)
	}
}

func TestFailedWritePublishesNothing(t *testing.T) {
	t.Parallel()
	s, _, dir := setup(t)
	boom := errors.New("ledger went away")
	err := s.Put(context.Background(), "bills/a/2024-12/L3-v1.csv", Meta{ContentType: "text/csv"}, func(w io.Writer) error {
		if _, err := io.WriteString(w, strings.Repeat("half a file\n", 200_000)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the writer's error", err)
	}
	if ok, err := s.Exists(context.Background(), "bills/a/2024-12/L3-v1.csv"); ok || err != nil {
		t.Fatalf("after a failed write Exists = %v, %v", ok, err)
	}
	var left []string
	filepath.WalkDir(filepath.Join(dir, "files"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left = append(left, p)
		}
		return nil
	})
	if len(left) != 0 {
		t.Errorf("a failed write left files behind: %v", left)
	}
}

func TestLinkKeySurvivesReopen(t *testing.T) {
	t.Parallel()
	s, srv, dir := setup(t)
	put(t, s, "k.csv", "x\n")
	u, err := s.SignedURL(context.Background(), "k.csv", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := Open(context.Background(), "", Options{DataDir: dir, PublicURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	// The reopened store (a restarted server) honours the old link.
	rec := httptest.NewRecorder()
	s2.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, u, nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "x\n" {
		t.Errorf("old link after reopen: %d %q, want 200", rec.Code, rec.Body.String())
	}
	fi, err := os.Stat(filepath.Join(dir, "link-signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("link-signing.key mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestUnsupportedStorageIsRefused(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"s3://bucket?region=x", "gs://b", "file://relative/path", "::"} {
		if _, err := Open(context.Background(), u, Options{DataDir: t.TempDir(), PublicURL: "http://127.0.0.1:1"}); err == nil {
			t.Errorf("Open(%q) accepted", u)
		}
	}
}
