package filestore_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/partnerbill/partnerbill/internal/filestore"
	"github.com/partnerbill/partnerbill/internal/filestore/filestoretest"
	"github.com/partnerbill/partnerbill/internal/testenv"
)

// setup opens a file store in a temp data folder whose links point at a
// test server running its Handler.
func setup(t *testing.T) (*filestore.Store, *httptest.Server, string) {
	t.Helper()
	dir := t.TempDir()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s, err := filestore.Open(context.Background(), "", filestore.Options{DataDir: dir, PublicURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	mux.Handle(filestore.DownloadPath, s.Handler())
	return s, srv, dir
}

func TestFileConformance(t *testing.T) {
	t.Parallel()
	filestoretest.Run(t, func(t *testing.T) filestoretest.Bucket {
		s, _, dir := setup(t)
		return filestoretest.Bucket{Store: s, Leftovers: func(t testing.TB) []string {
			var left []string
			filepath.WalkDir(filepath.Join(dir, "files"), func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					left = append(left, p)
				}
				return nil
			})
			return left
		}}
	})
}

// TestS3Conformance runs the suite against the S3-compatible server at
// PARTNERBILL_TEST_S3_ENDPOINT (testdata/start-versitygw.sh starts one),
// on a fresh bucket per test.
func TestS3Conformance(t *testing.T) {
	t.Parallel()
	endpoint := testenv.S3Endpoint(t)
	filestoretest.Run(t, func(t *testing.T) filestoretest.Bucket {
		c, bucket := filestoretest.NewS3Bucket(t, endpoint)
		s, err := filestore.Open(context.Background(), filestoretest.S3URL(bucket, endpoint), filestore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return filestoretest.Bucket{Store: s, Leftovers: func(t testing.TB) []string { return s3Leftovers(t, c, bucket) }}
	})
}

// s3Leftovers lists the objects and the incomplete multipart uploads of
// bucket.
func s3Leftovers(t testing.TB, c *s3.Client, bucket string) []string {
	t.Helper()
	ctx := context.Background()
	var left []string
	objs, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &bucket})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs.Contents {
		left = append(left, "object "+*o.Key)
	}
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &bucket})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range ups.Uploads {
		left = append(left, "incomplete multipart upload "+*u.Key)
	}
	return left
}

func TestS3LinksAreServedByTheBucket(t *testing.T) {
	t.Parallel()
	endpoint := testenv.S3Endpoint(t)
	_, bucket := filestoretest.NewS3Bucket(t, endpoint)
	s, err := filestore.Open(context.Background(), filestoretest.S3URL(bucket, endpoint), filestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Handler() != nil {
		t.Error("an S3 store has a download Handler; its links are the bucket's")
	}
	u, err := s.SignedURL(context.Background(), "bills/a/2024-12/L3-v1.csv", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u, endpoint+"/"+bucket+"/") {
		t.Errorf("link %s does not point at the bucket %s/%s", u, endpoint, bucket)
	}
}

// TestS3Prefix shows that a query parameter reaches gocloud.dev: prefix
// keeps the files, and the links, under a folder of a shared bucket.
func TestS3Prefix(t *testing.T) {
	t.Parallel()
	endpoint := testenv.S3Endpoint(t)
	c, bucket := filestoretest.NewS3Bucket(t, endpoint)
	s, err := filestore.Open(context.Background(), filestoretest.S3URL(bucket, endpoint)+"&prefix=partnerbill/", filestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Put(context.Background(), "k.csv", filestore.Meta{ContentType: "text/csv"}, func(w io.Writer) error {
		_, err := io.WriteString(w, "x\n")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if left := s3Leftovers(t, c, bucket); !slices.Equal(left, []string{"object partnerbill/k.csv"}) {
		t.Errorf("bucket holds %q, want partnerbill/k.csv", left)
	}
	u, err := s.SignedURL(context.Background(), "k.csv", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "x\n" {
		t.Errorf("GET %s = %d %q, want 200", u, resp.StatusCode, body)
	}
}

func TestS3OpenChecksTheBucket(t *testing.T) {
	t.Parallel()
	endpoint := testenv.S3Endpoint(t)
	_, bucket := filestoretest.NewS3Bucket(t, endpoint)
	for name, u := range map[string]string{
		"missing bucket": filestoretest.S3URL("pbtest-missing-"+strings.ToLower(rand.Text()[:8]), endpoint),
		"no credentials": filestoretest.S3URL(bucket, endpoint) + "&anonymous=true",
	} {
		if s, err := filestore.Open(context.Background(), u, filestore.Options{}); err == nil {
			s.Close()
			t.Errorf("%s: Open(%s) accepted", name, u)
		} else if !strings.Contains(err.Error(), "listing the bucket failed") {
			t.Errorf("%s: Open(%s) = %v", name, u, err)
		}
	}
}

// TestFileLinkAlterations covers the file store's own link format; the
// suite covers what every store's links must withstand.
func TestFileLinkAlterations(t *testing.T) {
	t.Parallel()
	s, srv, _ := setup(t)
	const key = "bills/a/2024-12/L3-v1.csv"
	err := s.Put(context.Background(), key, filestore.Meta{ContentType: "text/csv"}, func(w io.Writer) error {
		_, err := io.WriteString(w, "secret of a\n")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	good, err := s.SignedURL(context.Background(), key, time.Hour)
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
		"path traversal":  alter(func(q url.Values) { q.Set("obj", "../link-signing.key") }),
		"PUT link as GET": alter(func(q url.Values) { q.Set("method", "PUT") }),
		"no query":        srv.URL + filestore.DownloadPath,
	}
	for name, u := range cases {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || strings.Contains(string(body), "secret") {
			t.Errorf("%s: %d %q, want 403 without content", name, resp.StatusCode, body)
		}
	}
}

func TestLinkKeySurvivesReopen(t *testing.T) {
	t.Parallel()
	s, srv, dir := setup(t)
	err := s.Put(context.Background(), "k.csv", filestore.Meta{ContentType: "text/csv"}, func(w io.Writer) error {
		_, err := io.WriteString(w, "x\n")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.SignedURL(context.Background(), "k.csv", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := filestore.Open(context.Background(), "", filestore.Options{DataDir: dir, PublicURL: srv.URL})
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
	// Every secret below is SECRETVALUE: no error may repeat it.
	for u, want := range map[string]string{
		"gs://b":                                 `scheme "gs" is not supported; use s3://`,
		"http://example.com/b":                   `scheme "http" is not supported`,
		"file://relative/path":                   "absolute folder",
		"file:///ok?x=1":                         "absolute folder",
		"::":                                     "not a valid URL",
		"s3://AKIDEXAMPLE:SECRETVALUE@bucket%zz": "not a valid URL",
		"s3://AKIDEXAMPLE:SECRETVALUE@bucket?region=us-east-1":                        "credentials do not belong",
		"s3://bucket?region=us-east-1&aws_secret_access_key=SECRETVALUE":              "credentials do not belong",
		"s3://bucket?region=us-east-1&access_key=SECRETVALUE":                         "credentials do not belong",
		"s3://bucket?region=us-east-1&SecretKey=SECRETVALUE":                          "credentials do not belong",
		"s3://bucket?region=us-east-1&X-Amz-Security-Token=SECRETVALUE":               "credentials do not belong",
		"s3://bucket?region=us-east-1&session_token=SECRETVALUE":                      "credentials do not belong",
		"s3://bucket?region=us-east-1&password=SECRETVALUE":                           "credentials do not belong",
		"s3://bucket?endpoint=http://AKIDEXAMPLE:SECRETVALUE@127.0.0.1:9000":          "credentials do not belong",
		"s3://bucket?region=us-east-1&sk=SECRETVALUE":                                 `unknown parameter "sk"`,
		"s3://bucket?region=us-east-1&key=bills.csv":                                  "every file in one object",
		"s3://bucket/bills?region=us-east-1":                                          "prefix=FOLDER/",
		"s3://?region=us-east-1":                                                      "name the bucket",
		"s3://bucket?region=us-east-1&endpoint=127.0.0.1:9000":                        "absolute http:// or https:// URL",
		"s3://bucket?region=us-east-1&use_path_style=maybe&endpoint=http://x.invalid": "use_path_style",
	} {
		s, err := filestore.Open(context.Background(), u, filestore.Options{DataDir: t.TempDir(), PublicURL: "http://127.0.0.1:1"})
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) accepted", u)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%q) = %v, want it to say %q", u, err, want)
		}
		if strings.Contains(err.Error(), "SECRETVALUE") {
			t.Errorf("Open(%q) repeats the secret: %v", u, err)
		}
	}
}

func TestFailedPutReturnsTheWritersError(t *testing.T) {
	t.Parallel()
	s, _, _ := setup(t)
	boom := errors.New("boom")
	err := s.Put(context.Background(), "k.csv", filestore.Meta{}, func(io.Writer) error { return boom })
	if !errors.Is(err, boom) {
		t.Errorf("Put = %v, want boom", err)
	}
}
