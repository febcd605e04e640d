// Package filestoretest checks a filestore.Store against what partnerbill
// relies on, whatever bucket is behind it (fileblob, S3): a streamed write
// reads back exactly, a failed or cancelled write publishes nothing, and a
// download link works for anyone without credentials, only as minted and
// only until it expires.
package filestoretest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/partnerbill/partnerbill/internal/filestore"
)

// Bucket is one store under test.
type Bucket struct {
	// Store is fresh and empty; the Open that made it closes it at test
	// cleanup.
	Store *filestore.Store
	// Leftovers lists everything the bucket holds, including what the
	// store never shows (temporary files, incomplete multipart uploads),
	// so a test can tell that a failed write left nothing behind.
	Leftovers func(t testing.TB) []string
}

// Open returns a fresh, empty bucket for one test. The links its store
// mints must work with a plain http.Client.
type Open func(t *testing.T) Bucket

// Run runs the suite; its tests run in parallel, each on a bucket of its
// own.
func Run(t *testing.T, open Open) {
	t.Run("StreamedWriteReadsBack", func(t *testing.T) { testStreamedWrite(t, open) })
	t.Run("FailedWritePublishesNothing", func(t *testing.T) { testFailedWrite(t, open) })
	t.Run("CancelledWritePublishesNothing", func(t *testing.T) { testCancelledWrite(t, open) })
	t.Run("ExistsOnMissingKey", func(t *testing.T) { testExistsMissing(t, open) })
	t.Run("SignedLinkDownloads", func(t *testing.T) { testSignedLink(t, open) })
	t.Run("AlteredLinksAreRefused", func(t *testing.T) { testAlteredLinks(t, open) })
	t.Run("ExpiredLinkIsRefused", func(t *testing.T) { testExpiredLink(t, open) })
}

// bigSize is larger than an S3 upload's single-PUT threshold (16 MiB), so
// it takes a multipart upload of several parts.
const bigSize = 20_000_000

const (
	csvType  = "text/csv; charset=utf-8"
	fileName = "L3-bill_details-2024-12.csv"
)

var meta = filestore.Meta{ContentType: csvType, FileName: fileName}

// client is a plain HTTP client: no credentials, no cookies.
var client = &http.Client{Timeout: 30 * time.Second}

// stream writes n pseudo-random bytes (seeded by n) to w in small writes of
// varying size, as a CSV writer would, and returns their SHA-256.
func stream(w io.Writer, n int) ([32]byte, error) {
	rng := rand.New(rand.NewChaCha8([32]byte{byte(n), byte(n >> 8), byte(n >> 16)}))
	h := sha256.New()
	buf := make([]byte, 4096)
	for n > 0 {
		c := min(1+rng.IntN(len(buf)), n)
		for i := range buf[:c] {
			buf[i] = byte(rng.Uint32())
		}
		if _, err := w.Write(buf[:c]); err != nil {
			return [32]byte{}, err
		}
		h.Write(buf[:c])
		n -= c
	}
	return [32]byte(h.Sum(nil)), nil
}

func put(t testing.TB, s *filestore.Store, key, body string) {
	t.Helper()
	err := s.Put(context.Background(), key, meta, func(w io.Writer) error {
		_, err := io.WriteString(w, body)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func sign(t testing.TB, s *filestore.Store, key string, expiry time.Duration) string {
	t.Helper()
	u, err := s.SignedURL(context.Background(), key, expiry)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// get fetches u with a plain client, with header pairs hdr, and returns the
// response and its whole body.
func get(t testing.TB, u string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", u, err)
	}
	return resp, b
}

func mustNotExist(t testing.TB, b Bucket, key string) {
	t.Helper()
	if ok, err := b.Store.Exists(context.Background(), key); ok || err != nil {
		t.Errorf("Exists(%s) = %v, %v; want false, nil", key, ok, err)
	}
	if left := b.Leftovers(t); len(left) != 0 {
		t.Errorf("the bucket holds %q; want nothing", left)
	}
}

func testStreamedWrite(t *testing.T, open Open) {
	t.Parallel()
	b := open(t)
	const key = "bills/800000000002/2024-12/L3-v1.csv"
	var sum [32]byte
	err := b.Store.Put(context.Background(), key, meta, func(w io.Writer) error {
		var err error
		sum, err = stream(w, bigSize)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := b.Store.Exists(context.Background(), key); !ok || err != nil {
		t.Fatalf("Exists after Put = %v, %v; want true", ok, err)
	}
	resp, got := get(t, sign(t, b.Store, key, time.Hour))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET = %d %.200q", resp.StatusCode, got)
	}
	if len(got) != bigSize || sha256.Sum256(got) != sum {
		t.Fatalf("read back %d bytes (sha256 %x), want %d (sha256 %x)", len(got), sha256.Sum256(got), bigSize, sum)
	}
}

func testFailedWrite(t *testing.T, open Open) {
	t.Parallel()
	// Nothing written, less than one S3 part (a single PUT), and enough
	// for a multipart upload.
	for _, n := range []int{0, 1000, bigSize} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			t.Parallel()
			b := open(t)
			const key = "bills/800000000002/2024-12/L3-v1.csv"
			boom := errors.New("ledger went away")
			err := b.Store.Put(context.Background(), key, meta, func(w io.Writer) error {
				if _, err := stream(w, n); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("Put = %v, want the writer's error", err)
			}
			mustNotExist(t, b, key)
		})
	}
}

func testCancelledWrite(t *testing.T, open Open) {
	t.Parallel()
	b := open(t)
	const key = "bills/800000000002/2024-12/L3-v1.csv"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := b.Store.Put(ctx, key, meta, func(w io.Writer) error {
		if _, err := stream(w, bigSize); err != nil {
			return err
		}
		// A build's context ends (shutdown, timeout) mid-file; its
		// writes must start failing soon after.
		cancel()
		for range 1000 {
			if _, err := stream(w, 100_000); err != nil {
				return err
			}
		}
		return errors.New("writes still succeed 100 MB after the context was cancelled")
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put = %v, want context.Canceled", err)
	}
	mustNotExist(t, b, key)
}

func testExistsMissing(t *testing.T, open Open) {
	t.Parallel()
	b := open(t)
	put(t, b.Store, "bills/800000000002/2024-12/L3-v1.csv", "x\n")
	for _, key := range []string{"bills/800000000002/2024-12/L3-v2.csv", "bills/800000000002", "nothing.csv"} {
		if ok, err := b.Store.Exists(context.Background(), key); ok || err != nil {
			t.Errorf("Exists(%s) = %v, %v; want false, nil", key, ok, err)
		}
	}
}

func testSignedLink(t *testing.T, open Open) {
	t.Parallel()
	b := open(t)
	const key = "bills/800000000002/2024-12/L3-v1.csv"
	const body = "PayerAccountId,OwnerAccountId\n1,2\n"
	put(t, b.Store, key, body)
	u := sign(t, b.Store, key, time.Hour)
	resp, got := get(t, u)
	if resp.StatusCode != http.StatusOK || string(got) != body {
		t.Fatalf("GET = %d %q, want 200 %q", resp.StatusCode, got, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("Content-Type = %q, want text/csv", ct)
	}
	if cd, want := resp.Header.Get("Content-Disposition"), `attachment; filename="`+fileName+`"`; cd != want {
		t.Errorf("Content-Disposition = %q, want %q", cd, want)
	}
	resp, got = get(t, u, "Range", "bytes=15-27")
	if resp.StatusCode != http.StatusPartialContent || string(got) != body[15:28] {
		t.Errorf("Range GET = %d %q, want 206 %q", resp.StatusCode, got, body[15:28])
	}
}

// alterQuery changes the one query parameter of link whose lower-case name
// contains part (fileblob's "signature" and "expiry", S3's X-Amz-Signature
// and X-Amz-Expires), or fails: a suite that cannot find what it alters
// would pass without testing anything.
func alterQuery(t testing.TB, link, part string, f func(q url.Values, name string)) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	var names []string
	for name := range q {
		if strings.Contains(strings.ToLower(name), part) {
			names = append(names, name)
		}
	}
	if len(names) != 1 {
		t.Fatalf("link %s: want one query parameter naming %q, found %q", link, part, names)
	}
	f(q, names[0])
	u.RawQuery = q.Encode()
	return u.String()
}

func testAlteredLinks(t *testing.T, open Open) {
	t.Parallel()
	b := open(t)
	// The keys differ only in the owner's UIN, which is digits, so it
	// appears as is in the link whatever the encoding.
	put(t, b.Store, "bills/800000000001/2024-12/L3-v1.csv", "secret of 800000000001\n")
	put(t, b.Store, "bills/800000000002/2024-12/L3-v1.csv", "secret of 800000000002\n")
	good := sign(t, b.Store, "bills/800000000001/2024-12/L3-v1.csv", time.Hour)
	swap := func(old, new string) string {
		t.Helper()
		if !strings.Contains(good, old) {
			t.Fatalf("link %s does not show %q", good, old)
		}
		return strings.ReplaceAll(good, old, new)
	}
	// Re-encoding the query must not break a link by itself; otherwise
	// the cases below would prove nothing.
	if resp, got := get(t, alterQuery(t, good, "signature", func(url.Values, string) {})); resp.StatusCode != http.StatusOK || string(got) != "secret of 800000000001\n" {
		t.Fatalf("re-encoded link: %d %q, want 200", resp.StatusCode, got)
	}
	cases := map[string]string{
		"other customer's object": swap("800000000001", "800000000002"),
		"missing object":          swap("L3-v1", "L2-v9"),
		"extended expiry": alterQuery(t, good, "expir", func(q url.Values, name string) {
			n, err := strconv.ParseInt(q.Get(name), 10, 64)
			if err != nil {
				t.Fatalf("%s=%q: %v", name, q.Get(name), err)
			}
			q.Set(name, strconv.FormatInt(n*10, 10))
		}),
		"altered signature": alterQuery(t, good, "signature", func(q url.Values, name string) {
			s := q.Get(name)
			c := "A"
			if s[0] == 'A' {
				c = "B"
			}
			q.Set(name, c+s[1:])
		}),
		"no signature": alterQuery(t, good, "signature", func(q url.Values, name string) { q.Del(name) }),
	}
	for name, u := range cases {
		resp, got := get(t, u)
		if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusPartialContent || bytes.Contains(got, []byte("secret of")) {
			t.Errorf("%s: %d %q, want a refusal without content", name, resp.StatusCode, got)
		}
	}
}

func testExpiredLink(t *testing.T, open Open) {
	t.Parallel()
	b := open(t)
	const key = "bills/800000000002/2024-12/L3-v1.csv"
	put(t, b.Store, key, "secret\n")
	u := sign(t, b.Store, key, time.Second)
	// Links carry whole seconds: wait until this one is certainly past.
	time.Sleep(2100 * time.Millisecond)
	if resp, got := get(t, u); resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusPartialContent || bytes.Contains(got, []byte("secret")) {
		t.Errorf("expired link: %d %q, want a refusal without content", resp.StatusCode, got)
	}
}
