package tc3

import (
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// SignTC3 signs req the way the official Go SDK does: it sets X-TC-Timestamp
// and an Authorization header over content-type;host. It exists for tests,
// benchmarks and tooling that must send what the SDKs cannot, such as a
// stale timestamp or a tampered body; it shares every signing step with
// Verify.
//
// body must be the exact bytes that will be sent. The host signed is
// req.Host, or req.URL.Host when that is empty, port included. Content-Type
// should already be set; the query is signed for GET only. If req carries
// X-TC-Content-SHA256: UNSIGNED-PAYLOAD the body is left out of the
// signature, as the SDK's UnsignedPayload option does.
func SignTC3(req *http.Request, body []byte, secretID, secretKey string, ts time.Time, service string) {
	tsText := strconv.FormatInt(ts.Unix(), 10)
	req.Header.Set("X-TC-Timestamp", tsText)
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	a := authorization{
		SecretID:      secretID,
		Date:          ts.UTC().Format(dateLayout),
		Service:       service,
		SignedHeaders: []string{"content-type", "host"},
	}
	values, _ := signedHeaderValues(a.SignedHeaders, req.Header, host) // a missing header is signed as ""
	unsigned := req.Header.Get("X-TC-Content-SHA256") == unsignedPayload
	canonical := canonicalRequest(req.Method, canonicalQuery(req.Method, req.URL.RawQuery), a.SignedHeaders, values, payloadHash(body, unsigned))
	sts := stringToSign(tsText, credentialScope(a.Date, a.Service), canonical)
	a.Signature = tc3Signature(signingKey(secretKey, a.Date, a.Service), sts)
	req.Header.Set("Authorization", formatAuthorization(a))
}

// SignV1Form signs params with signature v1 for a request to host (as it
// will appear in the Host header) with the given method, the way the Node
// SDK's default profile does. It returns a copy of params plus SecretId,
// Timestamp, a random Nonce, SignatureMethod and Signature, ready to be sent
// with Encode as a form body (POST) or query (GET). sigMethod is "HmacSHA256"
// or "HmacSHA1"; "" leaves SignatureMethod out, which means HmacSHA1.
// Each parameter should have one value; only the first is signed.
func SignV1Form(method, host string, params url.Values, secretID, secretKey string, ts time.Time, sigMethod string) url.Values {
	out := make(url.Values, len(params)+5)
	for name, vs := range params {
		out[name] = slices.Clone(vs)
	}
	out.Del("Signature")
	out.Set("SecretId", secretID)
	out.Set("Timestamp", strconv.FormatInt(ts.Unix(), 10))
	out.Set("Nonce", strconv.FormatUint(uint64(rand.Uint32()), 10))
	if sigMethod != "" {
		out.Set("SignatureMethod", sigMethod)
	} else {
		out.Del("SignatureMethod")
	}
	out.Set("Signature", v1Signature(secretKey, v1StringToSign(method, host, out), v1Method(sigMethod)))
	return out
}
