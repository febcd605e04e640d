package tc3

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Fuzz targets for everything in this package that reads bytes a client
// chose. `go test` runs their seeds (testdata/fuzz/<Name>/, built from the
// golden vectors, captured SDK requests and tricky cases); RELIABILITY.md
// says how long each was fuzzed and what it found. To fuzz one:
//
//	go test -run XXX -fuzz FuzzVerifyRequest -fuzztime 60s -parallel 1 ./internal/tc3/

// The golden SDK captures were signed with this key between fuzzNow-9 and
// fuzzNow+10, so a clock at fuzzNow accepts every one of them.
const (
	goldenID  = "AKIDPARTNERBILLTESTKEY000000000000001"
	goldenKey = "PartnerBillTestSecretKey0123456789ab"
	fuzzNow   = int64(1795688150)
)

// fuzzVerifier knows the golden and the test key; its clock is fuzzNow.
func fuzzVerifier() *Verifier {
	return &Verifier{
		LookupFunc: keyring(map[string]string{goldenID: goldenKey, testID: testKey}),
		NowFunc:    fixedClock(fuzzNow),
	}
}

// mustAPIError fails unless err is an *Error whose code is one of codes.
func mustAPIError(t *testing.T, err error, codes ...string) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *tc3.Error", err, err)
	}
	if !slices.Contains(codes, e.Code) {
		t.Fatalf("error code %s (%s) is not one of %q", e.Code, e.Message, codes)
	}
	return e
}

// verifyCodes are the codes Verify may answer with; a lookup never fails
// in these tests, so anything else is a bug.
var verifyCodes = []string{
	CodeUnsupportedProtocol, CodeInvalidAuthorization, CodeSecretIDNotFound,
	CodeSignatureExpire, CodeSignatureFailure, CodeMissingParameter, CodeInvalidParameter,
}

// decodeCodes are the codes Decode may answer with.
var decodeCodes = []string{CodeInvalidParameter, CodeUnknownParameter}

// FuzzParseAuthorization: the parser never panics, refuses with
// InvalidAuthorization only, and whatever it accepts formats back to the
// very same bytes (the grammar has one spelling per header) and satisfies
// every rule the verifier relies on.
func FuzzParseAuthorization(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		a, e := parseAuthorization(s)
		if e != nil {
			if e.Code != CodeInvalidAuthorization || !strings.Contains(e.Message, "the expected form is") {
				t.Fatalf("parseAuthorization(%q) = %v; want InvalidAuthorization with the expected form", s, e)
			}
			return
		}
		if got := formatAuthorization(a); got != s {
			t.Fatalf("format(parse(%q)) = %q", s, got)
		}
		b, e := parseAuthorization(formatAuthorization(a))
		if e != nil || !reflect.DeepEqual(a, b) {
			t.Fatalf("parse(format(a)) = %+v, %v; want %+v", b, e, a)
		}
		if a.SecretID == "" || a.Service == "" || strings.Contains(a.SecretID+a.Service, "/") {
			t.Fatalf("accepted a bad credential scope: %+v", a)
		}
		if d, err := time.Parse(dateLayout, a.Date); err != nil || d.Format(dateLayout) != a.Date {
			t.Fatalf("accepted date %q", a.Date)
		}
		if !slices.Contains(a.SignedHeaders, "host") || !slices.Contains(a.SignedHeaders, "content-type") {
			t.Fatalf("accepted SignedHeaders %q without host and content-type", a.SignedHeaders)
		}
		for i, h := range a.SignedHeaders {
			if !isLowerToken(h) || i > 0 && a.SignedHeaders[i-1] >= h {
				t.Fatalf("accepted SignedHeaders %q: not lowercase tokens in strictly ascending order", a.SignedHeaders)
			}
		}
		if len(a.Signature) != 64 || !isLowerHex(a.Signature) {
			t.Fatalf("accepted signature %q", a.Signature)
		}
	})
}

// FuzzVerifyRequest feeds whole raw HTTP requests (seeded with the
// captured SDK requests, which verify) to Verify and, when they pass, to
// Decode. Verify never panics and answers success or an *Error with one
// of its codes; a request that passes was signed by a known key within the
// clock window; Decode answers success or InvalidParameter /
// UnknownParameter.
func FuzzVerifyRequest(f *testing.F) {
	v := fuzzVerifier()
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return // net/http refuses it before partnerbill sees it
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxJSONBody+1))
		if err != nil {
			return
		}
		req, err := v.Verify(context.Background(), r, body)
		if err != nil {
			mustAPIError(t, err, verifyCodes...)
			return
		}
		if req.SecretID != goldenID && req.SecretID != testID {
			t.Fatalf("verified with unknown SecretId %q", req.SecretID)
		}
		if d := req.Timestamp.Unix() - fuzzNow; d > 300 || d < -300 {
			t.Fatalf("verified a timestamp %d s from the clock", d)
		}
		if !slices.Contains([]SignMethod{TC3HMACSHA256, HmacSHA256, HmacSHA1}, req.Method) ||
			!slices.Contains([]Kind{KindJSON, KindForm, KindQuery}, req.Kind) {
			t.Fatalf("verified request has method %q kind %v", req.Method, req.Kind)
		}
		var in downloadParams
		if err := req.Decode(&in); err != nil {
			mustAPIError(t, err, decodeCodes...)
		}
		var wide wideParams
		if err := req.Decode(&wide); err != nil {
			mustAPIError(t, err, decodeCodes...)
		}
	})
}

// FuzzSignVerify signs a request over a fuzzed body, host, timestamp and
// credential-scope service with the right key, with TC3 and (the body as
// a parameter value) with signature v1. Within the clock window, for the
// right service and a non-empty host, it must verify; outside the window
// it must fail with SignatureExpire; with another service it must fail.
// Whenever it verifies, changing any single byte of the signed body (or
// parameter value) must make it fail with SignatureFailure.
func FuzzSignVerify(f *testing.F) {
	v := fuzzVerifier()
	f.Fuzz(func(t *testing.T, body []byte, host string, skew int32, service string, pos uint32, flip byte) {
		ts := fuzzNow + int64(skew)
		inWindow := skew >= -300 && skew <= 300
		if flip == 0 {
			flip = 1
		}

		// TC3 over the body.
		newReq := func() *http.Request {
			r := &http.Request{Method: http.MethodPost, URL: &url.URL{Path: "/"}, Host: host, Header: http.Header{}}
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("X-TC-Action", "DescribeBillDownloadUrl")
			r.Header.Set("X-TC-Version", Version)
			return r
		}
		r := newReq()
		SignTC3(r, body, testID, testKey, time.Unix(ts, 0), service)
		_, err := v.Verify(context.Background(), r, body)
		switch {
		case ts < 0:
			mustAPIError(t, err, CodeInvalidParameter, CodeInvalidAuthorization) // not a Unix time, or a bad scope first
		case service == Service && host != "" && inWindow:
			if err != nil {
				t.Fatalf("TC3 request signed with the right key (host %q, skew %d) fails: %v", host, skew, err)
			}
		case service == Service && inWindow: // no host: nothing to bind the signature to
			mustAPIError(t, err, CodeSignatureFailure)
		case service == Service:
			mustAPIError(t, err, CodeSignatureExpire)
		default:
			if err == nil {
				t.Fatalf("TC3 request signed for service %q verifies", service)
			}
			mustAPIError(t, err, CodeInvalidAuthorization, CodeSignatureFailure, CodeSignatureExpire)
		}
		if err == nil {
			mustAPIError(t, verifyTampered(v, r, body, pos, flip), CodeSignatureFailure)
		}

		// Signature v1 with the body as a parameter value. v1 signs the
		// host as sent, whatever it is.
		params := url.Values{"Action": {"DescribeBillDownloadUrl"}, "Version": {Version}, "Month": {string(body)}}
		signed := SignV1Form(http.MethodPost, host, params, testID, testKey, time.Unix(ts, 0), "HmacSHA256")
		send := func(vs url.Values) error {
			form := []byte(vs.Encode())
			r := &http.Request{Method: http.MethodPost, URL: &url.URL{Path: "/"}, Host: host, Header: http.Header{}}
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			_, err := v.Verify(context.Background(), r, form)
			return err
		}
		err = send(signed)
		switch {
		case ts < 0:
			mustAPIError(t, err, CodeInvalidParameter)
		case inWindow && err != nil:
			t.Fatalf("v1 request signed with the right key (host %q, skew %d) fails: %v", host, skew, err)
		case !inWindow:
			mustAPIError(t, err, CodeSignatureExpire)
		}
		if err == nil {
			tampered := url.Values{}
			for k, vs := range signed {
				tampered[k] = slices.Clone(vs)
			}
			tampered.Set("Month", string(changeByte([]byte(string(body)), pos, flip)))
			mustAPIError(t, send(tampered), CodeSignatureFailure)
		}
	})
}

// changeByte returns a copy of b with one byte changed (or, when b is
// empty, one byte added).
func changeByte(b []byte, pos uint32, flip byte) []byte {
	c := bytes.Clone(b)
	if len(c) == 0 {
		return []byte{flip}
	}
	c[int(pos%uint32(len(c)))] ^= flip
	return c
}

// verifyTampered verifies r again over its body with one byte changed.
func verifyTampered(v *Verifier, r *http.Request, body []byte, pos uint32, flip byte) error {
	_, err := v.Verify(context.Background(), r, changeByte(body, pos, flip))
	return err
}

// downloadParams is DescribeBillDownloadUrl's input, as the gateway
// declares it.
type downloadParams struct {
	Month    *string
	FileType *string
}

// wideParams has every kind of field Decode supports.
type wideParams struct {
	Month       string
	Page        int
	PageSize    uint32
	Limit       *int8
	Offset      int64
	CustomerUin uint64
	Confirmed   *bool
	TagKey      []string
}

// FuzzDecode decodes fuzzed bytes as a JSON body, a form body or a query
// into both parameter structs. Decode never panics and refuses only with
// InvalidParameter or UnknownParameter. What it accepts is consistent:
// Has agrees with the pointer fields, accepted input is valid UTF-8, an
// accepted JSON body is a valid JSON object, and the decoded values sent again as JSON and as a form
// decode to the same struct, so the two decoders agree with each other.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, kind uint8, raw []byte) {
		newRequest := func() *Request {
			if kind%3 == 0 {
				return &Request{Kind: KindJSON, Action: "DescribeBillDownloadUrl", body: raw}
			}
			params, e := parseParams(string(raw))
			if e != nil {
				mustAPIError(t, e, CodeInvalidParameter)
				return nil
			}
			k := KindForm
			if kind%3 == 2 {
				k = KindQuery
			}
			return &Request{Kind: k, Action: "DescribeBillDownloadUrl", params: stripCommon(params)}
		}
		req := newRequest()
		if req == nil {
			return
		}
		var in downloadParams
		if err := req.Decode(&in); err != nil {
			mustAPIError(t, err, decodeCodes...)
		} else {
			if req.Has("Month") != (in.Month != nil) || req.Has("FileType") != (in.FileType != nil) {
				t.Fatalf("Has disagrees with Decode: %+v", in)
			}
			checkJSONObject(t, req, raw)
		}

		var wide wideParams
		req = newRequest()
		if err := req.Decode(&wide); err != nil {
			mustAPIError(t, err, decodeCodes...)
			return
		}
		checkJSONObject(t, req, raw)
		for _, again := range []*Request{asJSON(t, req, wide), asForm(req, wide)} {
			var got wideParams
			if err := again.Decode(&got); err != nil {
				t.Fatalf("decoded %+v, but sending it again as %v fails: %v", wide, again.Kind, err)
			}
			if diff := cmp.Diff(wide, got, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("decoded values sent again as %v differ (-first +again):\n%s", again.Kind, diff)
			}
		}
	})
}

// checkJSONObject fails if a request was accepted although it is not
// valid UTF-8 (the only encoding the protocol allows; Decode refuses
// anything else in a form, so it must in JSON too) or, for JSON, not one
// JSON object.
func checkJSONObject(t *testing.T, req *Request, raw []byte) {
	t.Helper()
	for name, vs := range req.params {
		if !utf8.ValidString(name) || !utf8.ValidString(strings.Join(vs, "")) {
			t.Fatalf("Decode accepted parameter %q = %q, which is not UTF-8", name, vs)
		}
	}
	if req.Kind == KindJSON && !utf8.Valid(raw) {
		t.Fatalf("Decode accepted a JSON body that is not UTF-8: %q", raw)
	}
	if req.Kind != KindJSON || len(bytes.Trim(raw, " \t\r\n")) == 0 { // JSON's white space
		return
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("Decode accepted a body that is not a JSON object: %v", err)
	}
}

// wideNames are the parameters of wideParams, in field order.
var wideNames = []string{"Month", "Page", "PageSize", "Limit", "Offset", "CustomerUin", "Confirmed", "TagKey"}

// asJSON re-encodes the parameters req sent, with the values decoded, as
// a JSON body.
func asJSON(t *testing.T, req *Request, w wideParams) *Request {
	t.Helper()
	fields := reflect.ValueOf(w)
	m := map[string]any{}
	for i, name := range wideNames {
		if req.Has(name) {
			m[name] = fields.Field(i).Interface()
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return &Request{Kind: KindJSON, body: b}
}

// asForm re-encodes the parameters req sent, with the values decoded, as
// form parameters.
func asForm(req *Request, w wideParams) *Request {
	p := url.Values{}
	set := func(name, v string) {
		if req.Has(name) {
			p.Set(name, v)
		}
	}
	set("Month", w.Month)
	set("Page", strconv.Itoa(w.Page))
	set("PageSize", strconv.FormatUint(uint64(w.PageSize), 10))
	if w.Limit != nil {
		set("Limit", strconv.Itoa(int(*w.Limit)))
	}
	set("Offset", strconv.FormatInt(w.Offset, 10))
	set("CustomerUin", strconv.FormatUint(w.CustomerUin, 10))
	if w.Confirmed != nil {
		set("Confirmed", strconv.FormatBool(*w.Confirmed))
	}
	for i, s := range w.TagKey {
		p.Set("TagKey."+strconv.Itoa(i), s)
	}
	return &Request{Kind: KindForm, params: p}
}

// FuzzSplitObject: for every valid JSON object, the fast splitter finds
// exactly the members (keys in order, raw values, duplicate refusals)
// that encoding/json's token stream does.
func FuzzSplitObject(f *testing.F) {
	for _, s := range []string{
		`{}`, `{ }`, `{"Month":"2024-05","FileType":"L3"}`,
		" {\t\"a\" :\r\n1 , \"b\":[1,{\"c\":\"}]\\\"\"}],\"d\":{\"e\":[]} } ",
		`{"a\"b":"x\\","\u0041":true,"n":-1.5e3,"z":null}`,
		`{"a":1,"a":2}`, `{"a":1,"\u0061":2}`, `{"k":"\ud83d\ude00","k2":"é"}`,
		`{"a":[[],[[]],{}],"b":""}`, `{"":0}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		body := bytes.Trim(raw, " \t\r\n")
		if len(body) == 0 || body[0] != '{' || !json.Valid(body) || depthExceeds(body, MaxDepth) {
			return
		}
		fk, ff, fe := splitObject(body)
		dk, df, de := decodeObject(body)
		if (fe == nil) != (de == nil) || fe != nil && fe.Message != de.Message {
			t.Fatalf("%q: split error %v, decoder error %v", body, fe, de)
		}
		if !slices.Equal(fk, dk) || len(ff) != len(df) {
			t.Fatalf("%q: split keys %q, decoder keys %q", body, fk, dk)
		}
		for k, v := range df {
			if !bytes.Equal(ff[k], v) {
				t.Fatalf("%q: member %q split as %q, decoded as %q", body, k, ff[k], v)
			}
		}
	})
}
