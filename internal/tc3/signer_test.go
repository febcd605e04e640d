package tc3

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"strconv"
	"sync"
	"testing"
)

// TestSignerIsSafeForConcurrentUse signs from several goroutines at once
// with one cached signer, as concurrent requests of one caller do, and
// checks every signature against a freshly keyed HMAC. A signer that wrote
// into one shared HMAC instead of a clone of it would mix the messages up.
func TestSignerIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	key := signingKey(testKey, "2026-11-26", Service)
	s := newSigner(key)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			var got []byte
			for i := range 20_000 {
				msg := []byte("TC3-HMAC-SHA256\n" + strconv.Itoa(g) + "\n" + strconv.Itoa(i))
				got = s.sum(got[:0], msg)
				want := hmac.New(sha256.New, key)
				want.Write(msg)
				if !bytes.Equal(got, want.Sum(nil)) {
					t.Errorf("goroutine %d, message %d: signature differs from a fresh HMAC's", g, i)
					return
				}
			}
		})
	}
	wg.Wait()
}
