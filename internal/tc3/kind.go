package tc3

import (
	"mime"
	"net/http"
	"strings"
)

// Size limits from Tencent's "Request Structure" page. The gateway checks
// them before reading a body, so that a huge upload costs nothing. The page
// says "KB" and "MB" without saying whether it means 1000 or 1024; we take
// the binary reading, which is the more permissive of the two.
const (
	// MaxJSONBody bounds a TC3 POST application/json body.
	MaxJSONBody = 10 << 20
	// MaxFormBody bounds a signature v1 POST form body.
	MaxFormBody = 1 << 20
	// MaxQuery bounds a GET request: its raw query string plus any body.
	MaxQuery = 32 << 10
)

// Kind says where a request carries its parameters, which decides both how
// it is signed and how big it may be.
type Kind int

// The kinds of request the API 3.0 protocol defines for this service.
const (
	// KindJSON is POST application/json: TC3-HMAC-SHA256 only, common
	// parameters in X-TC-* headers, business parameters in the JSON body.
	KindJSON Kind = iota + 1
	// KindForm is POST application/x-www-form-urlencoded: signature v1 only,
	// every parameter (common and business) in the form body. It is the Node
	// SDK's default.
	KindForm
	// KindQuery is GET: parameters in the query string, signed with TC3 when
	// an Authorization header is present and with signature v1 otherwise.
	KindQuery
)

// String names the kind for logs.
func (k Kind) String() string {
	switch k {
	case KindJSON:
		return "json"
	case KindForm:
		return "form"
	case KindQuery:
		return "query"
	}
	return "unknown"
}

// MaxSize is the largest request of this kind the gateway should accept, in
// bytes of body (for KindQuery: raw query plus body). Above it the gateway
// answers RequestSizeLimitExceeded.
func (k Kind) MaxSize() int64 {
	switch k {
	case KindJSON:
		return MaxJSONBody
	case KindForm:
		return MaxFormBody
	case KindQuery:
		return MaxQuery
	}
	return 0
}

// supportedProtocols is appended to every UnsupportedProtocol message so the
// user learns what would have worked.
const supportedProtocols = "partnerbill accepts POST with Content-Type application/json (signed with TC3-HMAC-SHA256), " +
	"POST with Content-Type application/x-www-form-urlencoded (signed with HmacSHA1 or HmacSHA256), " +
	"or GET with the parameters in the query string"

// ContentKind classifies a request by method and Content-Type header, so the
// gateway can refuse an unsupported protocol (with the right size limit in
// hand) before reading the body. The error is an *Error with code
// UnsupportedProtocol.
//
// Media types are compared case-insensitively. A charset parameter, if
// present, must be UTF-8, the only encoding the protocol allows; other
// parameters are ignored (the signature covers the header verbatim anyway).
// GET requests are classified without looking at Content-Type: the Go SDK
// sends application/x-www-form-urlencoded with an empty body.
func ContentKind(method, contentType string) (Kind, error) {
	switch method {
	case http.MethodGet:
		return KindQuery, nil
	case http.MethodPost:
	default:
		return 0, Errorf(CodeUnsupportedProtocol, "HTTP method %q is not supported; %s.", method, supportedProtocols)
	}
	if strings.TrimSpace(contentType) == "" {
		return 0, Errorf(CodeUnsupportedProtocol, "the POST request has no Content-Type; %s.", supportedProtocols)
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return 0, Errorf(CodeUnsupportedProtocol, "Content-Type %q cannot be parsed (%v); %s.", contentType, err, supportedProtocols)
	}
	var kind Kind
	switch mediaType {
	case "application/json":
		kind = KindJSON
	case "application/x-www-form-urlencoded":
		kind = KindForm
	case "multipart/form-data":
		return 0, Errorf(CodeUnsupportedProtocol, "no partnerbill action takes multipart/form-data; %s.", supportedProtocols)
	default:
		return 0, Errorf(CodeUnsupportedProtocol, "Content-Type %q is not supported; %s.", mediaType, supportedProtocols)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return 0, Errorf(CodeUnsupportedProtocol, "charset %q is not supported; requests must be UTF-8, so send Content-Type %s or %s; charset=utf-8.",
			cs, mediaType, mediaType)
	}
	return kind, nil
}
