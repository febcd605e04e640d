package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/partnerbill/partnerbill/internal/account"
	"github.com/partnerbill/partnerbill/internal/ratelimit"
	"github.com/partnerbill/partnerbill/internal/store"
	"github.com/partnerbill/partnerbill/internal/tc3"
)

// fakeAccounts serves one key; GetKeyFunc may replace the lookup.
type fakeAccounts struct {
	key        account.Key
	GetKeyFunc func(ctx context.Context, id string) (account.Key, error)
}

func (f *fakeAccounts) GetKey(ctx context.Context, id string) (account.Key, error) {
	if f.GetKeyFunc != nil {
		return f.GetKeyFunc(ctx, id)
	}
	if id != f.key.SecretID {
		return account.Key{}, store.ErrNotFound
	}
	return f.key, nil
}

func (f *fakeAccounts) GetAccount(_ context.Context, uin string) (account.Account, error) {
	return account.Account{UIN: uin, Role: account.RoleEndCustomer}, nil
}

func signed(t *testing.T, url string, k account.Key, action string) *http.Request {
	t.Helper()
	body := []byte(`{}`)
	req, _ := http.NewRequest(http.MethodPost, url+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-TC-Action", action)
	req.Header.Set("X-TC-Version", tc3.Version)
	tc3.SignTC3(req, body, k.SecretID, k.SecretKey, time.Now(), tc3.Service)
	return req
}

func errorCode(t *testing.T, req *http.Request) (code, msg string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Response struct {
			Error     struct{ Code, Message string }
			RequestId string
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || resp.StatusCode != 200 {
		t.Fatalf("HTTP %d, %v", resp.StatusCode, err)
	}
	return env.Response.Error.Code, env.Response.Error.Message
}

// TestPanicAndStoreFailureAreInternalError checks that a handler's panic
// and a failing store reach the client as InternalError with a generic
// message, while the details (and the panic's stack) go to the log.
func TestPanicAndStoreFailureAreInternalError(t *testing.T) {
	t.Parallel()
	k := account.NewKey("800000000002", time.Now())
	accts := &fakeAccounts{key: k}
	var logs bytes.Buffer
	g := New(Config{Accounts: accts, Limiter: ratelimit.NewLocal(), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	g.actions["Explode"] = action{
		roles:     []account.Role{account.RoleEndCustomer},
		perSecond: 20,
		handle:    func(context.Context, *call) (any, error) { panic("boom in handler") },
	}
	srv := httptest.NewServer(g)
	defer srv.Close()

	code, msg := errorCode(t, signed(t, srv.URL, k, "Explode"))
	if code != tc3.CodeInternalError || strings.Contains(msg, "boom") {
		t.Errorf("panic: %s %q, want InternalError without details", code, msg)
	}
	if !strings.Contains(logs.String(), "boom in handler") || !strings.Contains(logs.String(), "goroutine") {
		t.Errorf("the panic and its stack are not in the log:\n%s", logs.String())
	}

	accts.GetKeyFunc = func(context.Context, string) (account.Key, error) {
		return account.Key{}, errors.New("database is locked: secret detail")
	}
	code, msg = errorCode(t, signed(t, srv.URL, k, "DescribeBillDownloadUrl"))
	if code != tc3.CodeInternalError || strings.Contains(msg, "secret detail") {
		t.Errorf("store failure: %s %q, want InternalError without details", code, msg)
	}
}
