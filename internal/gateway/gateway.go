// Package gateway is partnerbill's API 3.0 endpoint: it authenticates a
// signed request, applies the per-account rate limit, dispatches the
// action from one table and wraps the answer in the Response envelope.
// Handlers know nothing about HTTP.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/partnerbill/partnerbill/internal/account"
	"github.com/partnerbill/partnerbill/internal/job"
	"github.com/partnerbill/partnerbill/internal/metrics"
	"github.com/partnerbill/partnerbill/internal/ratelimit"
	"github.com/partnerbill/partnerbill/internal/store"
	"github.com/partnerbill/partnerbill/internal/tc3"
)

// Accounts is what the gateway needs to know about callers.
type Accounts interface {
	// GetKey returns a key with its SecretKey in plaintext, disabled and
	// expired ones included.
	GetKey(ctx context.Context, secretID string) (account.Key, error)
	GetAccount(ctx context.Context, uin string) (account.Account, error)
}

// Links mints download links to stored bill files.
type Links interface {
	SignedURL(ctx context.Context, key string, expiry time.Duration) (string, error)
}

// Config is everything a Gateway is built from.
type Config struct {
	Accounts Accounts
	Files    *job.Files
	Links    Links
	Limiter  ratelimit.Limiter
	Logger   *slog.Logger
	// Metrics counts requests and rejections; nil records nothing.
	Metrics *metrics.Metrics
	// AnyService accepts TC3 signatures whatever service their credential
	// scope names (an opt-in for clients pointed at a bare IP address).
	AnyService bool
	// NowFunc replaces time.Now for signature windows and month bounds.
	NowFunc func() time.Time
	// KeyCacheTTL lets the gateway reuse a key and its account for this
	// long instead of reading them on every request (clients poll); a key
	// disabled meanwhile keeps working for at most this long. Zero reads
	// them every time. Expiry is judged on every request either way.
	KeyCacheTTL time.Duration
}

// Gateway serves POST / and GET / in the API 3.0 protocol.
type Gateway struct {
	cfg     Config
	actions map[string]action

	mu      sync.RWMutex
	callers map[string]cachedCaller

	signingKeys tc3.SigningKeys
}

// cachedCaller is a key and its account as read at fetched.
type cachedCaller struct {
	key     account.Key
	account account.Account
	fetched time.Time
}

// caller returns the key secretID and its account, from the cache when
// KeyCacheTTL allows. Unknown keys are never cached.
func (g *Gateway) caller(ctx context.Context, secretID string) (account.Key, account.Account, error) {
	now := time.Now()
	if g.cfg.KeyCacheTTL > 0 {
		g.mu.RLock()
		c, ok := g.callers[secretID]
		g.mu.RUnlock()
		if ok && now.Sub(c.fetched) < g.cfg.KeyCacheTTL {
			return c.key, c.account, nil
		}
	}
	k, err := g.cfg.Accounts.GetKey(ctx, secretID)
	if err != nil {
		return k, account.Account{}, err
	}
	a, err := g.cfg.Accounts.GetAccount(ctx, k.UIN)
	if err != nil {
		return k, a, fmt.Errorf("account of key %s: %w", k.SecretID, err)
	}
	if g.cfg.KeyCacheTTL > 0 {
		g.mu.Lock()
		if g.callers == nil || len(g.callers) > 100_000 {
			g.callers = map[string]cachedCaller{}
		}
		g.callers[secretID] = cachedCaller{key: k, account: a, fetched: now}
		g.mu.Unlock()
	}
	return k, a, nil
}

// New returns a gateway with every action partnerbill serves.
func New(cfg Config) *Gateway {
	if cfg.NowFunc == nil {
		cfg.NowFunc = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{cfg: cfg}
	g.actions = g.table()
	return g
}

// call is one authenticated request on its way to a handler.
type call struct {
	*tc3.Request
	Account account.Account
}

// action is one row of the action table.
type action struct {
	// Roles that may call it.
	roles []account.Role
	// perSecond is the documented rate limit per account.
	perSecond int
	handle    func(ctx context.Context, c *call) (any, error)
}

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := uuid.NewString()
	// Every line about a request carries its RequestId. The summary line
	// adds it as an attribute; a logger that adds it is made only for the
	// rare other lines, because making one per request is garbage that a
	// busy server's collector pays for.
	log := func() *slog.Logger { return g.cfg.Logger.With("request_id", reqID) }
	var c *call
	var apiErr *tc3.Error
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			log().Error("panic serving request", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			apiErr = tc3.Errorf(tc3.CodeInternalError, "An internal error occurred; quote RequestId %s when reporting it.", reqID)
			tc3.WriteError(w, reqID, apiErr)
		}
		attrs := make([]slog.Attr, 0, 6)
		attrs = append(attrs, slog.String("request_id", reqID), slog.String("method", r.Method),
			slog.Float64("latency_ms", float64(time.Since(start).Microseconds())/1000))
		if c != nil {
			attrs = append(attrs, slog.String("action", c.Action), slog.String("uin", c.Account.UIN))
		} else if a := r.Header.Get("X-TC-Action"); a != "" {
			attrs = append(attrs, slog.String("action", a))
		}
		code := "ok"
		if apiErr != nil {
			code = apiErr.Code
		}
		attrs = append(attrs, slog.String("code", code))
		g.cfg.Logger.LogAttrs(context.Background(), slog.LevelInfo, "request", attrs...)
		action := ""
		if c != nil {
			if _, known := g.actions[c.Action]; known {
				action = c.Action
			}
		}
		g.cfg.Metrics.ObserveRequest(action, code, time.Since(start))
	}()

	resp, err := g.serve(r, &c)
	if err != nil {
		apiErr = g.apiError(log, reqID, err)
		tc3.WriteError(w, reqID, apiErr)
		return
	}
	if err := tc3.WriteSuccess(w, reqID, resp); err != nil {
		log().Warn("write response", "err", err)
	}
}

// serve runs the request through authentication, version and action
// checks, the rate limit and the handler.
func (g *Gateway) serve(r *http.Request, out **call) (any, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	var acct account.Account
	v := tc3.Verifier{
		NowFunc:     g.cfg.NowFunc,
		AnyService:  g.cfg.AnyService,
		SigningKeys: &g.signingKeys,
		LookupFunc: func(ctx context.Context, secretID string) (string, error) {
			k, a, err := g.caller(ctx, secretID)
			// Unknown, disabled and expired keys get one answer, so that
			// it never tells a caller which SecretIds exist. Expiry is
			// judged by the gateway's clock, like the signature window.
			if errors.Is(err, store.ErrNotFound) || (err == nil && !k.Active(g.cfg.NowFunc())) {
				return "", tc3.ErrUnknownKey
			}
			if err != nil {
				return "", err
			}
			acct = a
			return k.SecretKey, nil
		},
	}
	req, err := v.Verify(r.Context(), r, body)
	if err != nil {
		return nil, err
	}
	c := &call{Request: req, Account: acct}
	*out = c
	if req.Token != "" {
		return nil, tc3.Errorf(tc3.CodeTokenFailure, "partnerbill issues no temporary credentials, so the token in X-TC-Token (or Token) cannot be valid; sign with a long-term key and send no token.")
	}
	switch {
	case req.Version == "":
		return nil, tc3.Missing("Version")
	case req.Version != tc3.Version:
		return nil, tc3.Errorf(tc3.CodeNoSuchVersion, "Version %q does not exist; intlpartnersmgt is served at version %s.", req.Version, tc3.Version)
	case req.Action == "":
		return nil, tc3.Missing("Action")
	}
	a, ok := g.actions[req.Action]
	if !ok {
		return nil, tc3.Errorf(tc3.CodeInvalidAction, "Action %q does not exist (names are case-sensitive).", req.Action)
	}
	if !allowed(a.roles, acct.Role) {
		return nil, tc3.Errorf(tc3.CodeUnauthorizedOperation, "%s is not available to the %s role of account %s; it may be called by: %s.",
			req.Action, acct.Role, acct.UIN, roleList(a.roles))
	}
	ok, err = g.cfg.Limiter.Allow(r.Context(), acct.UIN+"/"+req.Action, a.perSecond)
	if err != nil {
		return nil, fmt.Errorf("rate limit: %w", err)
	}
	if !ok {
		g.cfg.Metrics.RateLimited(req.Action)
		return nil, tc3.Errorf(tc3.CodeRequestLimitExceeded, "%s allows %d requests per second per account; slow down and retry.", req.Action, a.perSecond)
	}
	return a.handle(r.Context(), c)
}

// readBody checks the method and content type and reads the body within
// the protocol's size limit for its kind.
func readBody(r *http.Request) ([]byte, error) {
	kind, err := tc3.ContentKind(r.Method, r.Header.Get("Content-Type"))
	if err != nil {
		return nil, err
	}
	limit := kind.MaxSize()
	if kind == tc3.KindQuery {
		limit -= int64(len(r.URL.RawQuery))
		if limit < 0 {
			return nil, tc3.Errorf(tc3.CodeRequestSizeLimitExceeded, "The query string is %d bytes; a GET request may carry at most %d.", len(r.URL.RawQuery), tc3.MaxQuery)
		}
	}
	if r.ContentLength > limit {
		return nil, sizeError(kind.MaxSize())
	}
	var body []byte
	if r.ContentLength >= 0 && r.ContentLength <= maxPreallocBody {
		// The usual case: a small body of declared length (net/http's
		// body reader holds the client to it), read into a buffer of that
		// size instead of a growing one. Larger declared lengths are not
		// trusted with memory before the bytes arrive: a client could
		// declare 10 MB on many connections and send nothing.
		body = make([]byte, r.ContentLength)
		_, err = io.ReadFull(r.Body, body)
	} else {
		body, err = io.ReadAll(io.LimitReader(r.Body, limit+1))
	}
	if err != nil {
		return nil, tc3.Errorf(tc3.CodeInvalidRequest, "The request body could not be read: %v.", err)
	}
	if int64(len(body)) > limit {
		return nil, sizeError(kind.MaxSize())
	}
	return body, nil
}

// maxPreallocBody is the largest declared body length readBody allocates
// for before reading: every real request's parameters fit many times over.
const maxPreallocBody = 64 << 10

func sizeError(limit int64) *tc3.Error {
	return tc3.Errorf(tc3.CodeRequestSizeLimitExceeded, "The request exceeds the %d-byte limit for its kind (10 MB TC3 JSON, 1 MB v1 form, 32 KB GET).", limit)
}

func allowed(roles []account.Role, r account.Role) bool {
	for _, x := range roles {
		if x == r {
			return true
		}
	}
	return false
}

func roleList(roles []account.Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// apiError maps any error to the code the client sees. Errors that are not
// already API errors are internal: the client gets a generic message and
// the details go to the log under the RequestId.
func (g *Gateway) apiError(log func() *slog.Logger, reqID string, err error) *tc3.Error {
	var e *tc3.Error
	switch {
	case errors.As(err, &e):
		return e
	default:
		log().Error("internal error", "err", err)
		return tc3.Errorf(tc3.CodeInternalError, "An internal error occurred; quote RequestId %s when reporting it.", reqID)
	}
}

// Healthz answers 200 while the store answers, 503 otherwise.
func Healthz(ping func(context.Context) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := ping(ctx); err != nil {
			http.Error(w, "store unreachable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
}

// Routes is partnerbill's whole HTTP surface: the API at /, health at
// /healthz, Prometheus metrics at /metrics, and the download links a file store serves itself (nil when
// its links point elsewhere).
func Routes(api http.Handler, downloadPath string, downloads http.Handler, ping func(context.Context) error, m *metrics.Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/{$}", api)
	mux.Handle("GET /healthz", Healthz(ping))
	mux.Handle("GET /metrics", m.Handler())
	if downloads != nil {
		mux.Handle(downloadPath, downloads)
	}
	return mux
}
