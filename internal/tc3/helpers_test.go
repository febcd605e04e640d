package tc3

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// apiError returns err as an *Error, failing the test if it is something else.
func apiError(t testing.TB, err error) *Error {
	t.Helper()
	if err == nil {
		return nil
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *tc3.Error", err, err)
	}
	return e
}

// checkOutcome fails the test unless err has code wantCode ("" = success)
// and, when wantMsg is not empty, a message containing it.
func checkOutcome(t testing.TB, err error, wantCode, wantMsg string) {
	t.Helper()
	e := apiError(t, err)
	switch {
	case wantCode == "" && e != nil:
		t.Fatalf("Verify failed with %v, want success", e)
	case wantCode != "" && e == nil:
		t.Fatalf("Verify succeeded, want %s", wantCode)
	case e != nil && e.Code != wantCode:
		t.Fatalf("Verify error = %v, want code %s", e, wantCode)
	case e != nil && !strings.Contains(e.Message, wantMsg):
		t.Fatalf("Verify message = %q, want it to contain %q", e.Message, wantMsg)
	}
}

// keyring is a hand-written LookupFunc over a fixed set of keys.
func keyring(keys map[string]string) func(context.Context, string) (string, error) {
	return func(_ context.Context, id string) (string, error) {
		if k, ok := keys[id]; ok {
			return k, nil
		}
		return "", ErrUnknownKey
	}
}

// fixedClock returns a NowFunc stuck at Unix time sec.
func fixedClock(sec int64) func() time.Time {
	return func() time.Time { return time.Unix(sec, 0) }
}

// Test credentials for requests the tests sign themselves.
const (
	testID  = "AKIDTESTONLY0000000000000000000000001"
	testKey = "TestOnlySecretKey0123456789abcdefgh"
	testTS  = int64(1795688141) // 2026-11-26T07:35:41Z
)

// testVerifier is a Verifier that knows testID and whose clock is testTS.
func testVerifier() *Verifier {
	return &Verifier{LookupFunc: keyring(map[string]string{testID: testKey}), NowFunc: fixedClock(testTS)}
}

// newTC3Post returns a JSON POST to host signed with the test key.
func newTC3Post(t testing.TB, host, action, body string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, "http://"+host+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-TC-Action", action)
	r.Header.Set("X-TC-Version", Version)
	SignTC3(r, []byte(body), testID, testKey, time.Unix(testTS, 0), Service)
	return r
}
