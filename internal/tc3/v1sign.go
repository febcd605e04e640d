package tc3

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// This file is the one implementation of signature v1 (HmacSHA1 and
// HmacSHA256), shared by Verify and SignV1Form. The Node SDK signs this way
// by default, so a server without it turns those users away.

// commonParams are the v1 parameters that belong to the protocol rather than
// to an action. They are removed before Decode sees the parameters.
var commonParams = []string{
	"Action", "Region", "Timestamp", "Nonce", "SecretId", "Signature",
	"Version", "SignatureMethod", "Token", "Language", "RequestClient",
}

// v1Method picks the hash: HMAC-SHA256 only for exactly "HmacSHA256",
// HMAC-SHA1 for anything else, absent included. That is what Tencent
// documents, odd as it is, so a client sending "hmacsha256" gets SHA-1.
func v1Method(signatureMethod string) SignMethod {
	if signatureMethod == string(HmacSHA256) {
		return HmacSHA256
	}
	return HmacSHA1
}

// v1StringToSign is METHOD + host + "/?" + every parameter except Signature,
// sorted by name in byte order and joined as name=value with the decoded
// (not URL-encoded) values. Each name is expected once; the first value is
// used.
func v1StringToSign(method, host string, params url.Values) string {
	names := make([]string, 0, len(params))
	for name := range params {
		if name != "Signature" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString(method)
	b.WriteString(host)
	b.WriteString("/?")
	for i, name := range names {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(params.Get(name))
	}
	return b.String()
}

// v1Signature is base64(HMAC(secretKey, stringToSign)) with the hash m names.
func v1Signature(secretKey, sts string, m SignMethod) string {
	newHash := sha1.New
	if m == HmacSHA256 {
		newHash = func() hash.Hash { return sha256.New() }
	}
	mac := hmac.New(newHash, []byte(secretKey))
	mac.Write([]byte(sts))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// verifyV1 checks a signature v1 request, whose parameters are in the form
// body (POST) or the query (GET). Missing SecretId or Signature means the
// request is not signed at all, hence InvalidAuthorization; the other common
// parameters get MissingParameter like any parameter would.
func (v *Verifier) verifyV1(ctx context.Context, r *http.Request, body []byte, kind Kind) (*Request, error) {
	raw := r.URL.RawQuery
	if kind == KindForm {
		raw = string(body)
	}
	params, e := parseParams(raw)
	if e != nil {
		return nil, e
	}
	secretID, signature := params.Get("SecretId"), params.Get("Signature")
	switch {
	case secretID == "":
		return nil, Errorf(CodeInvalidAuthorization,
			"the request has no SecretId parameter; sign it with TC3-HMAC-SHA256 (Authorization header) or with signature v1 (SecretId, Timestamp, Nonce, Signature).")
	case signature == "":
		return nil, Errorf(CodeInvalidAuthorization, "the request has a SecretId but no Signature parameter.")
	}
	secretKey, err := v.lookup(ctx, secretID)
	if err != nil {
		return nil, err
	}
	ts, e := v.checkTimestamp("Timestamp", params.Get("Timestamp"))
	if e != nil {
		return nil, e
	}
	// The Nonce is signed but not remembered: replay protection is the
	// timestamp window alone, as with TC3, which has no nonce at all.
	if nonce := params.Get("Nonce"); nonce == "" {
		return nil, Missing("Nonce")
	} else if _, ok := parseUint(nonce); !ok {
		return nil, Invalid("Nonce", "must be a non-negative integer, found %q", nonce)
	}
	method := v1Method(params.Get("SignatureMethod"))
	verified := false
	for _, host := range hostCandidates(r.Host) {
		sig := v1Signature(secretKey, v1StringToSign(r.Method, host, params), method)
		if hmac.Equal([]byte(sig), []byte(signature)) {
			verified = true
			break
		}
	}
	if !verified {
		return nil, signatureMismatch()
	}
	for _, name := range []string{"Action", "Version"} {
		if params.Get(name) == "" {
			return nil, Missing(name)
		}
	}
	return &Request{
		SecretID:  secretID,
		Action:    params.Get("Action"),
		Version:   params.Get("Version"),
		Region:    normaliseRegion(params.Get("Region")),
		Language:  params.Get("Language"),
		Token:     params.Get("Token"),
		Timestamp: ts,
		Method:    method,
		Kind:      kind,
		params:    stripCommon(params),
	}, nil
}

// parseParams decodes a query string or form body and refuses any name given
// twice: v1 signs a single value per name, and for business parameters there
// is no right value to pick.
func parseParams(raw string) (url.Values, *Error) {
	params, err := url.ParseQuery(raw)
	if err != nil {
		return nil, Errorf(CodeInvalidParameter, "the request parameters are not valid URL encoding: %v.", err)
	}
	names := make([]string, 0, len(params))
	for name, vs := range params {
		if len(vs) > 1 {
			names = append(names, name)
		}
	}
	if len(names) > 0 {
		slices.Sort(names) // report the same name every time
		return nil, Invalid(names[0], "was sent %d times; send each parameter once", len(params[names[0]]))
	}
	return params, nil
}

// stripCommon returns params without the common parameters.
func stripCommon(params url.Values) url.Values {
	out := make(url.Values, len(params))
	for name, vs := range params {
		if !slices.Contains(commonParams, name) {
			out[name] = vs
		}
	}
	return out
}
