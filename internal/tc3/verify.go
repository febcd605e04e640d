package tc3

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// MaxClockSkew is how far the signed timestamp may be from the server clock,
// in either direction. Tencent documents five minutes; a difference of exactly
// MaxClockSkew is still accepted (the docs leave the boundary open).
const MaxClockSkew = 300 * time.Second

// SignMethod names the signature algorithm a request used. The gateway logs
// it, and it tells an operator which SDK profile a user runs.
type SignMethod string

// The three signature methods of API 3.0.
const (
	// TC3HMACSHA256 is signature v3, the Go SDK's default.
	TC3HMACSHA256 SignMethod = "TC3-HMAC-SHA256"
	// HmacSHA256 is signature v1 with SHA-256, the Node SDK's default.
	HmacSHA256 SignMethod = "HmacSHA256"
	// HmacSHA1 is signature v1 with SHA-1, used when SignatureMethod is
	// absent or anything but exactly "HmacSHA256".
	HmacSHA1 SignMethod = "HmacSHA1"
)

// ErrUnknownKey is what a LookupFunc wraps for a SecretId that does not exist
// or is disabled. Verify turns it into AuthFailure.SecretIdNotFound; any
// other lookup error is a server fault.
var ErrUnknownKey = errors.New("tc3: unknown or disabled SecretId")

// Request is a request whose signature has been checked. Everything the
// gateway needs to dispatch it is here; the business parameters are reached
// through Decode and Has. A Request is not safe for concurrent use.
type Request struct {
	// SecretID is the key that signed the request.
	SecretID string
	// Action is X-TC-Action (TC3) or the Action parameter (v1); "" if absent.
	Action string
	// Version is X-TC-Version or Version; "" if absent.
	Version string
	// Region is X-TC-Region or Region; "" if absent. The Node SDK sends the
	// literal string "null" when the user gave no region, which also counts
	// as absent.
	Region string
	// Language is X-TC-Language or Language, e.g. zh-CN or en-US.
	Language string
	// Token is X-TC-Token or Token, sent with temporary credentials. Verify
	// does not check it; that is the gateway's business.
	Token string
	// Timestamp is the signed request time.
	Timestamp time.Time
	// Method is the signature method used.
	Method SignMethod
	// Kind says where the parameters were carried.
	Kind Kind
	// UnsignedPayload reports a TC3 request that sent
	// X-TC-Content-SHA256: UNSIGNED-PAYLOAD: its body is not covered by the
	// signature. It is accepted because the Go SDK can send it.
	UnsignedPayload bool

	body   []byte     // KindJSON: the raw JSON body
	params url.Values // KindForm, KindQuery: parameters minus common ones

	parsed  bool                       // whether object has run
	keys    []string                   // top-level JSON keys in body order
	fields  map[string]json.RawMessage // top-level JSON values by key
	bodyErr *Error                     // why the body is not a usable object
}

// Verifier authenticates API 3.0 requests. Its zero value is not usable:
// LookupFunc is required.
type Verifier struct {
	// LookupFunc returns the SecretKey of an enabled key. For an unknown or
	// disabled SecretId it returns an error wrapping ErrUnknownKey; any other
	// error is passed back from Verify as a server fault.
	LookupFunc func(ctx context.Context, secretID string) (secretKey string, err error)
	// NowFunc is the clock for the MaxClockSkew check; nil means time.Now.
	NowFunc func() time.Time
	// AnyService accepts any service name in the TC3 credential scope. It
	// exists for local use with the Node SDK, which derives the service from
	// the first label of the endpoint host (127 for 127.0.0.1).
	AnyService bool
	// SigningKeys, when set, keeps derived TC3 signing keys between
	// requests (three of the five HMACs a verification computes).
	SigningKeys *SigningKeys
}

// Verify authenticates r, whose body the caller has already read completely
// into body (the gateway enforces the size limits and has usually called
// ContentKind). POST application/json must be signed with TC3, POST forms with
// signature v1, and GET with either: TC3 when an Authorization header is
// present, v1 otherwise.
//
// The returned Request keeps body (not a copy) for Decode, so the caller must
// not reuse the buffer while the Request is in use.
//
// Every client-visible failure is an *Error carrying the right code; a lookup
// error other than ErrUnknownKey comes back wrapped and is not an *Error.
//
// The checks run in the order Tencent documents: parse the credentials, look
// up the key, check the clock, check the credential scope, then the
// signature. Once the signature holds, the common parameters are read; a
// common header or parameter sent twice is refused rather than one of its
// values being picked.
func (v *Verifier) Verify(ctx context.Context, r *http.Request, body []byte) (*Request, error) {
	contentType, e := singleHeader(r.Header, "Content-Type")
	if e != nil {
		return nil, e
	}
	kind, err := ContentKind(r.Method, contentType)
	if err != nil {
		return nil, err
	}
	_, hasAuth := r.Header["Authorization"]
	switch {
	case kind == KindJSON, kind == KindQuery && hasAuth:
		return v.verifyTC3(ctx, r, body, kind)
	case hasAuth:
		// Tencent defines form POST for signature v1 only. A client that also
		// sends Authorization is confused about which method it uses; saying
		// so beats ignoring the header.
		return nil, Errorf(CodeInvalidAuthorization,
			"a form-encoded POST is signed with signature v1 (SecretId, Timestamp, Nonce and Signature in the body), "+
				"not an Authorization header; send TC3-HMAC-SHA256 requests as POST application/json or GET.")
	default:
		return v.verifyV1(ctx, r, body, kind)
	}
}

// verifyTC3 checks a TC3-HMAC-SHA256 request.
func (v *Verifier) verifyTC3(ctx context.Context, r *http.Request, body []byte, kind Kind) (*Request, error) {
	authz, e := singleHeader(r.Header, "Authorization")
	if e != nil {
		return nil, Errorf(CodeInvalidAuthorization, "the Authorization header was sent %d times; send it once.", len(r.Header.Values("Authorization")))
	}
	if authz == "" {
		return nil, Errorf(CodeInvalidAuthorization, "the Authorization header is missing or empty; TC3 requests carry %s.", authorizationFormat)
	}
	a, e := parseAuthorization(authz)
	if e != nil {
		return nil, e
	}
	secretKey, err := v.lookup(ctx, a.SecretID)
	if err != nil {
		return nil, err
	}

	const tsName = "X-TC-Timestamp"
	tsText, e := singleHeader(r.Header, tsName)
	if e != nil {
		return nil, e
	}
	ts, e := v.checkTimestamp(tsName, tsText)
	if e != nil {
		return nil, e
	}
	if want := ts.UTC().Format(dateLayout); a.Date != want {
		return nil, Errorf(CodeSignatureFailure,
			"credential scope date %s is not the UTC date of %s %s (%s); derive the date from the timestamp in UTC, not in local time.",
			a.Date, tsName, tsText, want)
	}
	if a.Service != Service && !v.AnyService {
		return nil, wrongService(a.Service, r.Host)
	}

	contentSHA, e := singleHeader(r.Header, "X-TC-Content-SHA256")
	if e != nil {
		return nil, e
	}
	// Any value other than UNSIGNED-PAYLOAD is ignored and the body hashed:
	// the protocol defines no other use of this header.
	unsigned := contentSHA == unsignedPayload
	query := canonicalQuery(r.Method, r.URL.RawQuery)
	var hashBuf [2 * sha256.Size]byte
	hashed := appendPayloadHash(hashBuf[:0], body, unsigned)
	scope := credentialScope(a.Date, a.Service)
	signer := v.SigningKeys.get(secretKey, a.Date, a.Service)
	verified := false
	// The canonical request and the string to sign are built in buffers
	// here (they grow past them only for unusual requests): every request
	// builds them, and garbage per request is what a busy server's
	// collector pays for.
	var canonicalBuf [512]byte
	var stsBuf [256]byte
	for _, host := range hostCandidates(r.Host) {
		values, e := signedHeaderValues(a.SignedHeaders, r.Header, host)
		if e != nil {
			return nil, e
		}
		canonical := appendCanonicalRequest(canonicalBuf[:0], r.Method, query, a.SignedHeaders, values, hashed)
		sts := appendStringToSign(stsBuf[:0], tsText, scope, canonical)
		if signatureMatches(signer, sts, a.Signature) {
			verified = true
			break
		}
	}
	if !verified {
		return nil, signatureMismatch()
	}

	req := &Request{
		SecretID:        a.SecretID,
		Timestamp:       ts,
		Method:          TC3HMACSHA256,
		Kind:            kind,
		UnsignedPayload: unsigned,
	}
	for _, f := range []struct {
		header string
		dst    *string
	}{
		{"X-TC-Action", &req.Action},
		{"X-TC-Version", &req.Version},
		{"X-TC-Region", &req.Region},
		{"X-TC-Language", &req.Language},
		{"X-TC-Token", &req.Token},
	} {
		if *f.dst, e = singleHeader(r.Header, f.header); e != nil {
			return nil, e
		}
	}
	req.Region = normaliseRegion(req.Region)
	if kind == KindJSON {
		req.body = body
		return req, nil
	}
	// A TC3 GET carries its business parameters in the query. Common
	// parameter names there are dropped as in v1, so that a client moving
	// between the two methods sees the same behaviour.
	params, e := parseParams(r.URL.RawQuery)
	if e != nil {
		return nil, e
	}
	req.params = stripCommon(params)
	return req, nil
}

// wrongService explains a credential scope naming another service. The usual
// cause is the Node SDK pointed at an IP address or at localhost, so the
// message says how to fix exactly that, using the port the request came on.
func wrongService(got, host string) *Error {
	example := Service + ".localhost:8080"
	if h, ok := stripPort(host); ok {
		example = Service + ".localhost" + host[len(h):]
	}
	return Errorf(CodeSignatureFailure,
		"credential scope names service %q, not %q: the Node SDK takes the service from the first label of the endpoint; "+
			"point it at a host name whose first label is %s (for example %s) or start the server with --accept-any-service",
		got, Service, Service, example)
}

// signatureMismatch is the message Tencent itself returns; it deliberately
// says nothing about which part differed.
func signatureMismatch() *Error {
	return Errorf(CodeSignatureFailure, "The provided credentials could not be validated. Please check your signature is correct.")
}

// lookup fetches the SecretKey and sorts its errors into "not found" and
// server faults.
func (v *Verifier) lookup(ctx context.Context, secretID string) (string, error) {
	if v.LookupFunc == nil {
		return "", errors.New("tc3: Verifier.LookupFunc is nil")
	}
	key, err := v.LookupFunc(ctx, secretID)
	switch {
	case errors.Is(err, ErrUnknownKey):
		return "", Errorf(CodeSecretIDNotFound,
			"SecretId %q is unknown or disabled; check that the key is right and has no whitespace around it.", secretID)
	case err != nil:
		return "", fmt.Errorf("tc3: look up SecretId %q: %w", secretID, err)
	}
	return key, nil
}

// checkTimestamp parses a signed Unix timestamp (name is the header or
// parameter it came from, for messages) and checks it against the clock.
func (v *Verifier) checkTimestamp(name, text string) (time.Time, *Error) {
	if text == "" {
		return time.Time{}, Missing(name)
	}
	secs, ok := parseUint(text)
	if !ok || secs > 1<<62 {
		return time.Time{}, Invalid(name, "must be a Unix time in whole seconds, found %q", text)
	}
	ts := time.Unix(int64(secs), 0)
	now := time.Now()
	if v.NowFunc != nil {
		now = v.NowFunc()
	}
	if d := now.Sub(ts); d > MaxClockSkew || d < -MaxClockSkew {
		return time.Time{}, Errorf(CodeSignatureExpire,
			"%s %s is %d seconds away from the server clock (%d); a signature is valid for %d seconds either way, so check the client's clock.",
			name, text, int64(d.Abs()/time.Second), now.Unix(), int64(MaxClockSkew/time.Second))
	}
	return ts, nil
}

// parseUint parses a non-empty run of ASCII digits. strconv alone would also
// accept a leading '+'.
func parseUint(s string) (uint64, bool) {
	if !allDigits(s) {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// allDigits reports whether s is a non-empty run of ASCII digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// singleHeader returns the value of header name ("" if absent) and refuses a
// header sent more than once, so that no code path silently picks one.
func singleHeader(h http.Header, name string) (string, *Error) {
	vs := h.Values(name)
	if len(vs) > 1 {
		return "", repeatedHeader(name, len(vs))
	}
	if len(vs) == 0 {
		return "", nil
	}
	return vs[0], nil
}

// repeatedHeader reports a header that appeared n times.
func repeatedHeader(name string, n int) *Error {
	return Errorf(CodeInvalidParameter, "the header %s was sent %d times; send it once.", name, n)
}

// normaliseRegion maps the Node SDK's "null" to absent.
func normaliseRegion(region string) string {
	if region == "null" {
		return ""
	}
	return region
}
