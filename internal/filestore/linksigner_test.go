package filestore

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"gocloud.dev/blob/driver"
	"gocloud.dev/blob/fileblob"
)

// linkSigner must mint exactly the links fileblob's own signer mints, for
// any object key and options, so that fileblob's KeyFromURL (which checks
// them) accepts them and links minted before and after stay valid.
func TestLinkSignerMintsFileblobsLinks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	key := []byte("0123456789abcdef0123456789abcdef")
	keys := []string{
		"bills/800000000002/2024-12/L3-v1.csv",
		"a b+c&d=e?f#g%h/ü/漢字",
		"",
		"x/../y;z,~!*'()",
	}
	opts := []*driver.SignedURLOptions{
		{Expiry: time.Hour, Method: http.MethodGet},
		{Expiry: time.Minute, Method: http.MethodPut, ContentType: "text/csv; charset=utf-8"},
		{Expiry: 0, Method: ""},
	}
	for _, base := range []string{"http://127.0.0.1:8080/download", "https://bills.example.com/pb/download", "http://h/download?tenant=a&x=1"} {
		b, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		ours, theirs := newLinkSigner(b, key), fileblob.NewURLSignerHMAC(b, key)
		for _, k := range keys {
			for _, o := range opts {
				// Both read the clock: retry when a second boundary fell
				// between them.
				var got, want *url.URL
				for range 3 {
					start := time.Now().Unix()
					got, err = ours.URLFromKey(ctx, k, o)
					if err != nil {
						t.Fatal(err)
					}
					want, _ = theirs.URLFromKey(ctx, k, o)
					if time.Now().Unix() == start {
						break
					}
				}
				if got.String() != want.String() {
					t.Errorf("key %q, %+v, base %s:\n got %s\nwant %s", k, *o, base, got, want)
				}
				if back, err := theirs.KeyFromURL(ctx, got); o.Expiry > 0 && (err != nil || back != k) {
					t.Errorf("fileblob's KeyFromURL(%s) = %q, %v; want %q", got, back, err, k)
				}
			}
		}
	}
}
