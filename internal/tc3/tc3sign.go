package tc3

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"net/http"
	"strings"
	"sync"
	"time"
)

// This file is the one implementation of TC3-HMAC-SHA256: Verify and SignTC3
// both build their canonical request, string to sign and signing key here, so
// the signer used by tests cannot drift from the verifier it tests.

const (
	tc3Algorithm    = "TC3-HMAC-SHA256"
	tc3Terminator   = "tc3_request"
	unsignedPayload = "UNSIGNED-PAYLOAD"
	dateLayout      = "2006-01-02"
)

// authorization is a parsed TC3 Authorization header.
type authorization struct {
	SecretID      string
	Date          string   // YYYY-MM-DD from the credential scope
	Service       string   // service from the credential scope
	SignedHeaders []string // lowercase, strictly ascending
	Signature     string   // 64 lowercase hex digits
}

// signedHeaderList is the SignedHeaders value as it appears in the header and
// in the canonical request.
func (a authorization) signedHeaderList() string { return strings.Join(a.SignedHeaders, ";") }

// authorizationFormat is quoted in every parse error so a user writing their
// own client sees the expected shape.
const authorizationFormat = `"TC3-HMAC-SHA256 Credential=<SecretId>/<YYYY-MM-DD>/<service>/tc3_request, SignedHeaders=content-type;host, Signature=<64 hex digits>"`

// parseAuthorization parses the header strictly, in the byte-exact shape both
// official SDKs emit: algorithm, one space, then Credential, SignedHeaders and
// Signature in that order separated by ", ". Being strict costs real clients
// nothing and turns a hand-rolled client's mistake into a precise message
// instead of a signature mismatch.
func parseAuthorization(v string) (authorization, *Error) {
	var a authorization
	bad := func(format string, args ...any) (authorization, *Error) {
		return authorization{}, Errorf(CodeInvalidAuthorization, "Authorization header: "+format+"; the expected form is "+authorizationFormat+".", args...)
	}
	rest, ok := strings.CutPrefix(v, tc3Algorithm+" ")
	if !ok {
		alg, _, _ := strings.Cut(v, " ")
		return bad("algorithm %q is not supported, only %s", alg, tc3Algorithm)
	}
	// Split without allocating: every request is parsed here.
	var fields [3]string
	if n := strings.Count(rest, ", ") + 1; n != 3 {
		return bad(`want exactly three fields, Credential, SignedHeaders and Signature, separated by ", "; found %d`, n)
	}
	fields[0], rest, _ = strings.Cut(rest, ", ")
	fields[1], fields[2], _ = strings.Cut(rest, ", ")
	var values [3]string
	for i, name := range [3]string{"Credential=", "SignedHeaders=", "Signature="} {
		val, ok := strings.CutPrefix(fields[i], name)
		if !ok {
			return bad("field %d must start with %q, found %q", i+1, name, fields[i])
		}
		values[i] = val
	}

	var scope [4]string
	if n := strings.Count(values[0], "/") + 1; n != 4 {
		return bad("Credential must have four parts SecretId/Date/Service/tc3_request, found %d", n)
	}
	rest = values[0]
	for i := range 3 {
		scope[i], rest, _ = strings.Cut(rest, "/")
	}
	scope[3] = rest
	a.SecretID, a.Date, a.Service = scope[0], scope[1], scope[2]
	if a.SecretID == "" {
		return bad("Credential has an empty SecretId")
	}
	if !validDate(a.Date) {
		return bad("Credential date %q is not a YYYY-MM-DD date", a.Date)
	}
	if a.Service == "" {
		return bad("Credential has an empty service")
	}
	if scope[3] != tc3Terminator {
		return bad("Credential must end with %q, found %q", tc3Terminator, scope[3])
	}

	if values[1] == "" {
		return bad("SignedHeaders is empty")
	}
	a.SignedHeaders = strings.Split(values[1], ";")
	var hasHost, hasContentType bool
	for i, h := range a.SignedHeaders {
		if !isLowerToken(h) {
			return bad("SignedHeaders entry %q is not a lowercase header name", h)
		}
		if i > 0 && a.SignedHeaders[i-1] >= h {
			return bad("SignedHeaders must list each name once in ascending order, found %q after %q", h, a.SignedHeaders[i-1])
		}
		hasHost = hasHost || h == "host"
		hasContentType = hasContentType || h == "content-type"
	}
	if !hasContentType || !hasHost {
		return bad("SignedHeaders %q must include both content-type and host", values[1])
	}

	a.Signature = values[2]
	if len(a.Signature) != sha256.Size*2 || !isLowerHex(a.Signature) {
		return bad("Signature must be 64 lowercase hex digits")
	}
	return a, nil
}

// validDate reports whether s is a calendar date written YYYY-MM-DD, as
// time.Parse with dateLayout accepts it and Format writes it back.
func validDate(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	y, okY := parseUint(s[:4])
	m, okM := parseUint(s[5:7])
	d, okD := parseUint(s[8:])
	if !okY || !okM || !okD || m < 1 || m > 12 || d < 1 {
		return false
	}
	return time.Date(int(y), time.Month(m), int(d), 0, 0, 0, 0, time.UTC).Day() == int(d)
}

// isLowerToken reports whether s is a non-empty HTTP header name (RFC 9110
// token) without upper-case letters.
func isLowerToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// isLowerHex reports whether s has only the digits 0-9a-f.
func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// formatAuthorization is the inverse of parseAuthorization.
func formatAuthorization(a authorization) string {
	return tc3Algorithm + " Credential=" + a.SecretID + "/" + credentialScope(a.Date, a.Service) +
		", SignedHeaders=" + a.signedHeaderList() + ", Signature=" + a.Signature
}

// signedHeaderValues returns the canonical value of each signed header of a
// request, in the order of names. host is passed separately because Go's
// HTTP server moves the Host header out of Header into Request.Host. A
// header that is absent, or sent more than once, yields an *Error (absent:
// SignatureFailure, repeated: InvalidParameter) together with "" in its slot,
// which the client-side signer simply signs.
func signedHeaderValues(names []string, h http.Header, host string) ([]string, *Error) {
	values := make([]string, len(names))
	var first *Error
	for i, name := range names {
		if name == "host" {
			if host == "" && first == nil {
				first = Errorf(CodeSignatureFailure, "the signed header host is missing from the request.")
			}
			values[i] = canonicalHeaderValue(host)
			continue
		}
		vs := h.Values(name) // Values canonicalises the key, so case does not matter
		switch {
		case len(vs) == 0:
			if first == nil {
				first = Errorf(CodeSignatureFailure, "the signed header %s is missing from the request.", name)
			}
		case len(vs) > 1:
			if first == nil {
				first = repeatedHeader(http.CanonicalHeaderKey(name), len(vs))
			}
		default:
			values[i] = canonicalHeaderValue(vs[0])
		}
	}
	return values, first
}

// canonicalHeaderValue applies the documented rule lowercase(trim(value)).
//
// The official SDKs sign values verbatim, without lower-casing. Their values
// are lower case in practice (fixed content types, host names as configured),
// so the documented rule and the SDKs agree; a client that configures an
// endpoint with capital letters would fail verification here.
func canonicalHeaderValue(v string) string { return strings.ToLower(strings.TrimSpace(v)) }

// canonicalQuery is the CanonicalQueryString: the raw query exactly as it
// was sent for GET, and "" for POST, whose query string is not part of the
// request's parameters.
func canonicalQuery(method, rawQuery string) string {
	if method == http.MethodGet {
		return rawQuery
	}
	return ""
}

// payloadHash is HashedRequestPayload: the hex SHA-256 of the body bytes as
// received, or of the literal "UNSIGNED-PAYLOAD" when the client opted out of
// signing the body (the Go SDK's UnsignedPayload option).
func payloadHash(body []byte, unsigned bool) string {
	return string(appendPayloadHash(nil, body, unsigned))
}

func appendPayloadHash(dst, body []byte, unsigned bool) []byte {
	if unsigned {
		return appendHashHex(dst, []byte(unsignedPayload))
	}
	return appendHashHex(dst, body)
}

// hashHex is lowercase hex SHA-256.
func hashHex(b []byte) string { return string(appendHashHex(nil, b)) }

func appendHashHex(dst, b []byte) []byte {
	sum := sha256.Sum256(b)
	return hex.AppendEncode(dst, sum[:])
}

// canonicalRequest assembles the CanonicalRequest. values holds the already
// canonical header values in the order of names.
func canonicalRequest(method, query string, names, values []string, payloadHash string) string {
	return string(appendCanonicalRequest(nil, method, query, names, values, []byte(payloadHash)))
}

// appendCanonicalRequest is canonicalRequest appended to dst: the verifier
// builds it in a buffer on its stack, since every request needs one.
func appendCanonicalRequest(dst []byte, method, query string, names, values []string, payloadHash []byte) []byte {
	dst = append(dst, method...)
	dst = append(dst, "\n/\n"...)
	dst = append(dst, query...)
	dst = append(dst, '\n')
	for i, name := range names {
		dst = append(dst, name...)
		dst = append(dst, ':')
		dst = append(dst, values[i]...)
		dst = append(dst, '\n')
	}
	dst = append(dst, '\n')
	for i, name := range names {
		if i > 0 {
			dst = append(dst, ';')
		}
		dst = append(dst, name...)
	}
	dst = append(dst, '\n')
	return append(dst, payloadHash...)
}

// credentialScope is Date/Service/tc3_request.
func credentialScope(date, service string) string {
	return date + "/" + service + "/" + tc3Terminator
}

// stringToSign assembles the StringToSign; timestamp is X-TC-Timestamp
// exactly as sent.
func stringToSign(timestamp, scope, canonical string) string {
	return string(appendStringToSign(nil, timestamp, scope, []byte(canonical)))
}

func appendStringToSign(dst []byte, timestamp, scope string, canonical []byte) []byte {
	dst = append(dst, tc3Algorithm+"\n"...)
	dst = append(dst, timestamp...)
	dst = append(dst, '\n')
	dst = append(dst, scope...)
	dst = append(dst, '\n')
	return appendHashHex(dst, canonical)
}

// SigningKeys caches TC3 signing keys. A signing key depends only on the
// SecretKey, the UTC date and the service, so one client's requests share
// it for a day. Safe for concurrent use; the zero value is empty and a nil
// *SigningKeys derives every key afresh.
type SigningKeys struct {
	mu sync.RWMutex
	m  map[signingKeyOf]*signer
}

type signingKeyOf struct{ secretKey, date, service string }

// signer signs with one signing key. Keying an HMAC costs two hash
// compressions and their pads, and a client polls with the same key all
// day, so each signer keeps one keyed HMAC, reset once so that it holds
// its two hash states, and every signature starts from a clone of it.
//
// (A sync.Pool of keyed HMACs per key looked cheaper but was not: the
// collector empties every pool each cycle or two, several times a second
// on a busy server, while one key signs a request every few seconds; so
// nearly every request keyed a fresh HMAC, and the thousands of pools
// were garbage and mark work of their own.)
type signer struct {
	proto hash.Cloner // hmac.New(sha256.New, key) after Reset; never written
}

func newSigner(key []byte) *signer {
	m := hmac.New(sha256.New, key)
	m.Reset() // keeps the keyed states, which clones share
	return &signer{proto: m.(hash.Cloner)}
}

// sum appends the HMAC of msg to dst.
func (s *signer) sum(dst, msg []byte) []byte {
	c, err := s.proto.Clone()
	if err != nil {
		// crypto/hmac over crypto/sha256 always clones.
		panic("tc3: keyed HMAC cannot be cloned: " + err.Error())
	}
	m := c.(hash.Hash)
	m.Write(msg)
	return m.Sum(dst)
}

// maxSigningKeys bounds the cache; past it, it starts again empty.
const maxSigningKeys = 100_000

func (c *SigningKeys) get(secretKey, date, service string) *signer {
	if c == nil {
		return newSigner(signingKey(secretKey, date, service))
	}
	id := signingKeyOf{secretKey, date, service}
	c.mu.RLock()
	s, ok := c.m[id]
	c.mu.RUnlock()
	if ok {
		return s
	}
	s = newSigner(signingKey(secretKey, date, service))
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxSigningKeys {
		c.m = make(map[signingKeyOf]*signer)
	}
	c.m[id] = s
	c.mu.Unlock()
	return s
}

// signingKey derives SecretSigning from the SecretKey, date and service.
func signingKey(secretKey, date, service string) []byte {
	k := hmacSHA256([]byte("TC3"+secretKey), date)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, tc3Terminator)
}

// tc3Signature is the lowercase hex signature of a string to sign. The
// signing side keys a plain HMAC, apart from the verifier's cached signers,
// so that a signer that went wrong fails the round-trip tests instead of
// agreeing with itself.
func tc3Signature(key []byte, sts string) string {
	return hex.EncodeToString(hmacSHA256(key, sts))
}

// signatureMatches reports, in constant time, whether signature (as sent:
// 64 lowercase hex digits) is the signature of sts.
func signatureMatches(s *signer, sts []byte, signature string) bool {
	var sum [sha256.Size]byte
	var want [2 * sha256.Size]byte
	got := hex.AppendEncode(want[:0], s.sum(sum[:0], sts))
	if len(signature) != len(got) {
		return false
	}
	var sent [2 * sha256.Size]byte
	copy(sent[:], signature)
	return hmac.Equal(got, sent[:])
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// stripPort returns host without a trailing ":port", and whether there was
// one. Brackets of an IPv6 literal are kept, as the Node SDK keeps them in
// the host name it signs.
func stripPort(host string) (string, bool) {
	i := strings.LastIndexByte(host, ':')
	if i < 0 || i < strings.LastIndexByte(host, ']') || i == len(host)-1 {
		return host, false
	}
	for _, c := range host[i+1:] {
		if c < '0' || c > '9' {
			return host, false
		}
	}
	name := host[:i]
	if strings.Contains(name, ":") && !strings.HasPrefix(name, "[") {
		return host, false // a bare IPv6 address, not host:port
	}
	return name, true
}

// hostCandidates lists the host values a signature may cover, in the order
// to try them: the Host header verbatim (what the Go SDK signs), then without
// its port (what the Node SDK signs while still sending the port).
func hostCandidates(host string) []string {
	if h, ok := stripPort(host); ok {
		return []string{host, h}
	}
	return []string{host}
}
