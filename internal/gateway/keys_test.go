package gateway

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/partnerbill/partnerbill/internal/account"
	"github.com/partnerbill/partnerbill/internal/ratelimit"
	"github.com/partnerbill/partnerbill/internal/tc3"
)

// keyTestGateway serves accts with an "Echo" action that any role may
// call, on a clock the test sets.
func keyTestGateway(t *testing.T, accts Accounts, now *time.Time, logs *bytes.Buffer) string {
	t.Helper()
	g := New(Config{
		Accounts: accts,
		Limiter:  ratelimit.NewLocal(),
		Logger:   slog.New(slog.NewTextHandler(logs, nil)),
		NowFunc:  func() time.Time { return *now },
	})
	g.actions["Echo"] = action{roles: account.Roles, perSecond: 1000, handle: func(context.Context, *call) (any, error) { return struct{}{}, nil }}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return srv.URL
}

func signedAt(t *testing.T, url string, k account.Key, at time.Time) *http.Request {
	t.Helper()
	body := []byte(`{}`)
	req, _ := http.NewRequest(http.MethodPost, url+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-TC-Action", "Echo")
	req.Header.Set("X-TC-Version", tc3.Version)
	tc3.SignTC3(req, body, k.SecretID, k.SecretKey, at, tc3.Service)
	return req
}

// TestExpiryUsesTheGatewayClock moves the gateway's clock (Config.NowFunc)
// across a key's expiry: the key works before it and is refused from it
// on, exactly as an unknown SecretId is (same code, same message).
func TestExpiryUsesTheGatewayClock(t *testing.T) {
	t.Parallel()
	end := time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)
	k := account.NewKey("800000000002", end.Add(-48*time.Hour))
	k.ExpiresAt = end
	now := end.Add(-time.Second)
	var logs bytes.Buffer
	accts := &fakeAccounts{key: k}
	url := keyTestGateway(t, accts, &now, &logs)

	if code, msg := errorCode(t, signedAt(t, url, k, now)); code != "" {
		t.Fatalf("a second before expiry: %s %q, want success", code, msg)
	}
	unknown := account.NewKey("800000000002", now)
	for _, at := range []time.Time{end, end.Add(time.Hour)} {
		now = at
		code, msg := errorCode(t, signedAt(t, url, k, at))
		ucode, umsg := errorCode(t, signedAt(t, url, unknown, at))
		if code != tc3.CodeSecretIDNotFound {
			t.Errorf("at %v: %s %q, want %s", at, code, msg, tc3.CodeSecretIDNotFound)
		}
		if code != ucode || strings.ReplaceAll(msg, k.SecretID, "ID") != strings.ReplaceAll(umsg, unknown.SecretID, "ID") {
			t.Errorf("an expired key's answer (%s %q) differs from an unknown one's (%s %q)", code, msg, ucode, umsg)
		}
	}
	// Disabled within its grace period: refused all the same.
	accts.key.Disabled = true
	now = end.Add(-time.Hour)
	if code, _ := errorCode(t, signedAt(t, url, k, now)); code != tc3.CodeSecretIDNotFound {
		t.Errorf("disabled key before its expiry: %s", code)
	}
}

// TestUnsealFailureIsInternalError has the store fail to unseal a key, as
// on a replica with the wrong master key that got past the start-up check
// or on a row someone altered: the client gets InternalError and nothing
// more, the log says what to check, and no key material is logged.
func TestUnsealFailureIsInternalError(t *testing.T) {
	t.Parallel()
	k := account.NewKey("800000000002", time.Now())
	now := time.Now()
	var logs bytes.Buffer
	url := keyTestGateway(t, &fakeAccounts{GetKeyFunc: func(_ context.Context, id string) (account.Key, error) {
		return account.Key{}, fmt.Errorf("key %s: %w", id, account.ErrCannotUnseal)
	}}, &now, &logs)
	code, msg := errorCode(t, signedAt(t, url, k, now))
	if code != tc3.CodeInternalError || strings.Contains(msg, "master key") {
		t.Errorf("got %s %q, want InternalError with a generic message", code, msg)
	}
	if !strings.Contains(logs.String(), "PARTNERBILL_MASTER_KEY") || !strings.Contains(logs.String(), k.SecretID) {
		t.Errorf("the log does not name the cause and the key:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), k.SecretKey) {
		t.Error("the log shows the SecretKey")
	}
}
