package tc3

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Service and Version name the one API partnerbill serves. The SDKs put
// Service in the TC3 credential scope and Version in X-TC-Version, so both
// must match Tencent's spelling exactly or signatures and dispatch fail.
const (
	Service = "intlpartnersmgt"
	Version = "2022-09-28"
)

// Error codes partnerbill sends in Response.Error.Code. They are Tencent's
// strings verbatim: SDK users branch on them (the Go SDK retries only on
// RequestLimitExceeded, for one), so a typo here is a compatibility bug.
const (
	// CodeUnsupportedProtocol rejects a method or content type the API 3.0
	// protocol does not define for this service.
	CodeUnsupportedProtocol = "UnsupportedProtocol"
	// CodeRequestSizeLimitExceeded rejects a request above MaxJSONBody,
	// MaxFormBody or MaxQuery.
	CodeRequestSizeLimitExceeded = "RequestSizeLimitExceeded"
	// CodeInvalidAuthorization means the TC3 Authorization header (or the v1
	// SecretId/Signature pair) is missing or malformed.
	CodeInvalidAuthorization = "AuthFailure.InvalidAuthorization"
	// CodeSecretIDNotFound means the SecretId is unknown or disabled.
	CodeSecretIDNotFound = "AuthFailure.SecretIdNotFound"
	// CodeSignatureFailure means the signature, or its credential scope, does
	// not match the request.
	CodeSignatureFailure = "AuthFailure.SignatureFailure"
	// CodeSignatureExpire means the signed timestamp is more than
	// MaxClockSkew away from the server clock.
	CodeSignatureExpire = "AuthFailure.SignatureExpire"
	// CodeTokenFailure means a temporary-credential token was rejected.
	CodeTokenFailure = "AuthFailure.TokenFailure"
	// CodeMissingParameter means a required parameter was not sent.
	CodeMissingParameter = "MissingParameter"
	// CodeInvalidAction means the Action names no partnerbill API.
	CodeInvalidAction = "InvalidAction"
	// CodeNoSuchVersion means the Version is not 2022-09-28.
	CodeNoSuchVersion = "NoSuchVersion"
	// CodeUnknownParameter means a parameter the action does not define was
	// sent.
	CodeUnknownParameter = "UnknownParameter"
	// CodeInvalidParameter means a parameter has the wrong type or format.
	CodeInvalidParameter = "InvalidParameter"
	// CodeInvalidParameterValue means a well-formed parameter has a value the
	// action does not accept.
	CodeInvalidParameterValue = "InvalidParameterValue"
	// CodeUnauthorizedOperation means the caller's role may not call the
	// action or see the resource.
	CodeUnauthorizedOperation = "UnauthorizedOperation"
	// CodeRequestLimitExceeded means the caller hit the action's rate limit.
	CodeRequestLimitExceeded = "RequestLimitExceeded"
	// CodeFailedOperation is a business failure with no finer code.
	CodeFailedOperation = "FailedOperation"
	// CodeInternalError hides a server-side fault; details go to the log.
	CodeInternalError = "InternalError"
	// CodeInvalidRequest means the request body could not be parsed at the
	// transport level.
	CodeInvalidRequest = "InvalidRequest"
)

// MaxMessage bounds an error message on the wire. Messages quote what the
// client sent (a SecretId, a parameter value or name), and a request may
// carry up to 10 MB: without a bound a client would get its input back
// whole, up to five times larger once quoted and JSON-escaped.
const MaxMessage = 1024

// Error is an API error as the client sees it. Every failure partnerbill
// reports travels as one of these so that a single place (the gateway) turns
// it into the Response.Error envelope.
type Error struct {
	Code    string
	Message string
}

// Error returns "Code: Message", which is what shows up in logs.
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf builds an *Error with a formatted message, so call sites read like
// fmt.Errorf while keeping the code next to the text.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Missing reports a required parameter that was not sent. Handlers call it
// because Decode does not know which parameters an action requires.
func Missing(name string) *Error {
	return Errorf(CodeMissingParameter, "The parameter %q is required.", name)
}

// Invalid reports a parameter of the wrong type or format. The message starts
// with the parameter name, so that a user reading it knows which field to fix:
// Invalid("Month", "must look like YYYY-MM") reads "Month must look like YYYY-MM".
func Invalid(name, format string, args ...any) *Error {
	return &Error{Code: CodeInvalidParameter, Message: name + " " + fmt.Sprintf(format, args...)}
}

// unknownParameter reports a parameter the action does not define. hint, when
// not empty, is a field name that differs only in case, because parameter
// names are case-sensitive and that is the usual mistake.
func unknownParameter(action, name, hint string) *Error {
	where := "this action"
	if action != "" {
		where = "action " + action
	}
	msg := fmt.Sprintf("The parameter %q is not defined for %s.", name, where)
	if hint != "" {
		msg += fmt.Sprintf(" Parameter names are case-sensitive; did you mean %q?", hint)
	}
	return &Error{Code: CodeUnknownParameter, Message: msg}
}

// WriteSuccess writes the success envelope
// {"Response":{<fields of body>,"RequestId":"<id>"}} with HTTP 200.
//
// body must encode as a JSON object (a struct, a map, or nil for no fields).
// Its fields keep their encoding/json order and RequestId comes last. A body
// with a top-level "Error" key is refused: both SDKs treat the mere presence
// of Response.Error as failure (the Go SDK matches the key case-insensitively),
// so such a reply would turn a success into an error on the client. A body
// with its own RequestId is refused too, since the key would appear twice.
//
// If body cannot be encoded nothing is written and the error is returned, so
// the caller can still send an InternalError envelope instead.
func WriteSuccess(w http.ResponseWriter, requestID string, body any) error {
	b, err := successEnvelope(requestID, body)
	if err != nil {
		return err
	}
	if err := writeJSON(w, b); err != nil {
		return fmt.Errorf("tc3: write success response: %w", err)
	}
	return nil
}

// WriteError writes the error envelope
// {"Response":{"Error":{"Code":…,"Message":…},"RequestId":"<id>"}} with
// HTTP 200, because any other status makes both SDKs drop the body and
// report a bare HTTP failure instead of the code. A nil e is written as an
// InternalError rather than as an empty error object. A message longer
// than MaxMessage is cut short.
func WriteError(w http.ResponseWriter, requestID string, e *Error) {
	if e == nil {
		e = Errorf(CodeInternalError, "internal error")
	}
	if len(e.Message) > MaxMessage {
		cut := MaxMessage
		for cut > 0 && !utf8.RuneStart(e.Message[cut]) {
			cut--
		}
		e = &Error{Code: e.Code, Message: e.Message[:cut] + "…"}
	}
	var env struct {
		Response struct {
			Error     *Error
			RequestId string // Tencent's spelling, as on the wire
		}
	}
	env.Response.Error = e
	env.Response.RequestId = requestID
	b, err := marshalJSON(env)
	if err != nil {
		// Only strings are encoded, so this cannot happen; fall back to a
		// fixed body rather than writing nothing.
		b = []byte(`{"Response":{"Error":{"Code":"InternalError","Message":"internal error"},"RequestId":` +
			strconv.Quote(requestID) + `}}`)
	}
	_ = writeJSON(w, b) // the client went away; there is no one left to tell
}

// successEnvelope builds the bytes WriteSuccess sends.
func successEnvelope(requestID string, body any) ([]byte, error) {
	fields := []byte("{}")
	if body != nil {
		b, err := marshalJSON(body)
		if err != nil {
			return nil, fmt.Errorf("tc3: encode success body %T: %w", body, err)
		}
		if !bytes.Equal(b, []byte("null")) {
			fields = b
		}
	}
	if len(fields) < 2 || fields[0] != '{' {
		return nil, fmt.Errorf("tc3: success body %T encodes as %.20s…, not a JSON object", body, fields)
	}
	// Parsing the body to look at its top-level names costs as much as
	// encoding it; only a body that mentions either name anywhere needs it.
	if containsFold(fields, "error") || containsFold(fields, "requestid") {
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(fields, &keys); err != nil {
			return nil, fmt.Errorf("tc3: success body %T: %w", body, err)
		}
		for k := range keys {
			if strings.EqualFold(k, "Error") || strings.EqualFold(k, "RequestId") {
				return nil, fmt.Errorf("tc3: success body %T has a top-level %q field, which the envelope owns", body, k)
			}
		}
	}
	id, err := marshalJSON(requestID)
	if err != nil {
		return nil, fmt.Errorf("tc3: encode RequestId: %w", err)
	}
	inner := bytes.TrimSpace(fields[1 : len(fields)-1])
	var buf bytes.Buffer
	buf.Grow(len(inner) + len(id) + 32)
	buf.WriteString(`{"Response":{`)
	buf.Write(inner)
	if len(inner) > 0 {
		buf.WriteByte(',')
	}
	buf.WriteString(`"RequestId":`)
	buf.Write(id)
	buf.WriteString("}}")
	return buf.Bytes(), nil
}

// containsFold reports whether ASCII word (lower case) occurs in b in any
// case. encoding/json writes the letters of names as they are, so a
// top-level Error or RequestId always shows in its output. Only positions
// whose byte is word's first letter in either case are compared, so word
// must not start with k or s (the Kelvin sign and the long s fold to
// those); every answer passes here, and comparing at every position was a
// few percent of a busy server's time.
func containsFold(b []byte, word string) bool {
	first := word[0]
	for i := 0; i+len(word) <= len(b); i++ {
		if b[i]|0x20 == first && bytes.EqualFold(b[i:i+len(word)], []byte(word)) {
			return true
		}
	}
	return false
}

// marshalJSON encodes v compactly without HTML escaping: download URLs carry
// '&', and "\u0026" in them only confuses people reading raw responses.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// writeJSON sends b as the whole HTTP 200 response.
func writeJSON(w http.ResponseWriter, b []byte) error {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(b)
	return err
}
