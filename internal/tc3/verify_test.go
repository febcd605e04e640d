package tc3

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestContentKind checks how the gateway classifies a request before reading
// its body, and that every refusal says what would have worked.
func TestContentKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		method, contentType string
		want                Kind
		wantMsg             string // substring of the UnsupportedProtocol message
	}{
		{"POST", "application/json", KindJSON, ""},
		{"POST", "application/json; charset=utf-8", KindJSON, ""},
		{"POST", "Application/JSON;charset=UTF-8", KindJSON, ""},
		{"POST", "application/x-www-form-urlencoded", KindForm, ""},
		{"POST", "application/x-www-form-urlencoded; charset=UTF-8", KindForm, ""},
		{"GET", "", KindQuery, ""},
		{"GET", "application/x-www-form-urlencoded", KindQuery, ""},
		{"GET", "text/plain", KindQuery, ""},
		{"PUT", "application/json", 0, `HTTP method "PUT" is not supported`},
		{"HEAD", "", 0, `HTTP method "HEAD"`},
		{"post", "application/json", 0, `HTTP method "post"`},
		{"POST", "", 0, "has no Content-Type"},
		{"POST", "multipart/form-data; boundary=x", 0, "no partnerbill action takes multipart/form-data"},
		{"POST", "text/plain", 0, `Content-Type "text/plain" is not supported`},
		{"POST", "application/json; charset=gbk", 0, `charset "gbk" is not supported`},
		{"POST", "application/json;;", 0, "cannot be parsed"},
	}
	for _, tt := range tests {
		got, err := ContentKind(tt.method, tt.contentType)
		e := apiError(t, err)
		if tt.wantMsg == "" {
			if e != nil || got != tt.want {
				t.Errorf("ContentKind(%q, %q) = %v, %v; want %v", tt.method, tt.contentType, got, e, tt.want)
			}
			continue
		}
		if e == nil || e.Code != CodeUnsupportedProtocol || !strings.Contains(e.Message, tt.wantMsg) {
			t.Errorf("ContentKind(%q, %q) error = %v, want UnsupportedProtocol containing %q", tt.method, tt.contentType, e, tt.wantMsg)
		}
		if e != nil && tt.wantMsg != "" && !strings.Contains(e.Message, "application/json") {
			t.Errorf("ContentKind(%q, %q) message %q does not name what is supported", tt.method, tt.contentType, e.Message)
		}
	}
	if KindJSON.MaxSize() != 10<<20 || KindForm.MaxSize() != 1<<20 || KindQuery.MaxSize() != 32<<10 || Kind(0).MaxSize() != 0 {
		t.Error("MaxSize does not match the documented limits")
	}
}

// TestVerifyTC3Errors walks through the ways a TC3 request fails, in the
// order Verify checks them, starting from a correctly signed request.
func TestVerifyTC3Errors(t *testing.T) {
	t.Parallel()
	const body = `{"Month":"2024-05","FileType":"L3"}`
	tests := []struct {
		name     string
		mutate   func(r *http.Request)
		verifier func(v *Verifier)
		wantCode string
		wantMsg  string
	}{
		{name: "Valid", wantCode: ""},
		{name: "AuthorizationMissing", mutate: func(r *http.Request) { r.Header.Del("Authorization") },
			wantCode: CodeInvalidAuthorization, wantMsg: "the Authorization header is missing"},
		{name: "AuthorizationEmpty", mutate: func(r *http.Request) { r.Header.Set("Authorization", "") },
			wantCode: CodeInvalidAuthorization, wantMsg: "missing or empty"},
		{name: "AuthorizationTwice", mutate: func(r *http.Request) { r.Header.Add("Authorization", r.Header.Get("Authorization")) },
			wantCode: CodeInvalidAuthorization, wantMsg: "sent 2 times"},
		{name: "AuthorizationMalformed", mutate: func(r *http.Request) { r.Header.Set("Authorization", "Basic dXNlcjpwYXNz") },
			wantCode: CodeInvalidAuthorization, wantMsg: `algorithm "Basic"`},
		{name: "UnknownSecretId", verifier: func(v *Verifier) { v.LookupFunc = keyring(nil) },
			wantCode: CodeSecretIDNotFound, wantMsg: testID},
		{name: "UnknownSecretIdBeatsMissingTimestamp", mutate: func(r *http.Request) { r.Header.Del("X-TC-Timestamp") },
			verifier: func(v *Verifier) { v.LookupFunc = keyring(nil) }, wantCode: CodeSecretIDNotFound},
		{name: "TimestampMissing", mutate: func(r *http.Request) { r.Header.Del("X-TC-Timestamp") },
			wantCode: CodeMissingParameter, wantMsg: `The parameter "X-TC-Timestamp" is required.`},
		{name: "TimestampNotInteger", mutate: func(r *http.Request) { r.Header.Set("X-TC-Timestamp", "1795688141.5") },
			wantCode: CodeInvalidParameter, wantMsg: "X-TC-Timestamp must be a Unix time in whole seconds"},
		{name: "TimestampPlusSign", mutate: func(r *http.Request) { r.Header.Set("X-TC-Timestamp", "+1795688141") },
			wantCode: CodeInvalidParameter, wantMsg: "X-TC-Timestamp must be"},
		{name: "TimestampNegative", mutate: func(r *http.Request) { r.Header.Set("X-TC-Timestamp", "-1") },
			wantCode: CodeInvalidParameter, wantMsg: "X-TC-Timestamp must be"},
		{name: "TimestampHuge", mutate: func(r *http.Request) { r.Header.Set("X-TC-Timestamp", "99999999999999999999") },
			wantCode: CodeInvalidParameter, wantMsg: "X-TC-Timestamp must be"},
		{name: "TimestampTwice", mutate: func(r *http.Request) { r.Header.Add("X-TC-Timestamp", "1795688141") },
			wantCode: CodeInvalidParameter, wantMsg: "the header X-TC-Timestamp was sent 2 times"},
		{name: "ClockAhead", verifier: func(v *Verifier) { v.NowFunc = fixedClock(testTS + 3600) },
			wantCode: CodeSignatureExpire, wantMsg: "3600 seconds away"},
		{name: "ClockAheadSubSecond", verifier: func(v *Verifier) {
			v.NowFunc = func() time.Time { return time.Unix(testTS+300, 500_000_000) }
		}, wantCode: CodeSignatureExpire},
		{name: "ScopeDateLocalTime", mutate: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/2026-11-26/", "/2026-11-25/", 1))
		}, wantCode: CodeSignatureFailure, wantMsg: "credential scope date 2026-11-25 is not the UTC date of X-TC-Timestamp 1795688141 (2026-11-26)"},
		{name: "SignedHeaderAbsent", mutate: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "content-type;host", "content-type;host;x-tc-region", 1))
		}, wantCode: CodeSignatureFailure, wantMsg: "the signed header x-tc-region is missing"},
		{name: "SignedHeaderTwice", mutate: func(r *http.Request) { r.Header.Add("Content-Type", "application/json") },
			wantCode: CodeInvalidParameter, wantMsg: "the header Content-Type was sent 2 times"},
		{name: "HostMissing", mutate: func(r *http.Request) { r.Host = "" },
			wantCode: CodeSignatureFailure, wantMsg: "the signed header host is missing"},
		{name: "ContentTypeChanged", mutate: func(r *http.Request) { r.Header.Set("Content-Type", "application/json; charset=utf-8") },
			wantCode: CodeSignatureFailure, wantMsg: "The provided credentials could not be validated."},
		{name: "ContentTypeCaseIgnored", mutate: func(r *http.Request) { r.Header.Set("Content-Type", "Application/JSON") }},
		{name: "HostCaseIgnored", mutate: func(r *http.Request) { r.Host = "IntlPartnersMgt.Localhost:8080" }},
		{name: "OtherPort", mutate: func(r *http.Request) { r.Host = "intlpartnersmgt.localhost:9999" },
			wantCode: CodeSignatureFailure},
		{name: "QueryIgnoredForPost", mutate: func(r *http.Request) { r.URL.RawQuery = "Month=2030-01" }},
		{name: "ActionTwice", mutate: func(r *http.Request) { r.Header.Add("X-TC-Action", "DescribeBillDetail") },
			wantCode: CodeInvalidParameter, wantMsg: "the header X-TC-Action was sent 2 times"},
		{name: "FormPostWithAuthorization", mutate: func(r *http.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") },
			wantCode: CodeInvalidAuthorization, wantMsg: "signature v1"},
		{name: "UnsupportedMethod", mutate: func(r *http.Request) { r.Method = http.MethodPut },
			wantCode: CodeUnsupportedProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newTC3Post(t, "intlpartnersmgt.localhost:8080", "DescribeBillDownloadUrl", body)
			if tt.mutate != nil {
				tt.mutate(r)
			}
			v := testVerifier()
			if tt.verifier != nil {
				tt.verifier(v)
			}
			req, err := v.Verify(context.Background(), r, []byte(body))
			checkOutcome(t, err, tt.wantCode, tt.wantMsg)
			if tt.wantCode == "" && req.Action != "DescribeBillDownloadUrl" {
				t.Errorf("Action = %q", req.Action)
			}
		})
	}
}

// TestVerifyWrongService checks the message a Node SDK user pointed at an IP
// address gets, and the --accept-any-service escape hatch.
func TestVerifyWrongService(t *testing.T) {
	t.Parallel()
	const body = `{}`
	newReq := func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:18081/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		SignTC3(r, []byte(body), testID, testKey, time.Unix(testTS, 0), "127")
		return r
	}
	_, err := testVerifier().Verify(context.Background(), newReq(), []byte(body))
	want := `credential scope names service "127", not "intlpartnersmgt": the Node SDK takes the service from the first label of the endpoint; ` +
		`point it at a host name whose first label is intlpartnersmgt (for example intlpartnersmgt.localhost:18081) or start the server with --accept-any-service`
	if e := apiError(t, err); e == nil || e.Code != CodeSignatureFailure || e.Message != want {
		t.Errorf("Verify error = %v\nwant %s: %s", e, CodeSignatureFailure, want)
	}

	v := testVerifier()
	v.AnyService = true
	if _, err := v.Verify(context.Background(), newReq(), []byte(body)); err != nil {
		t.Errorf("with AnyService: %v", err)
	}
}

// TestVerifyLookupErrors checks that a broken key store is not reported to
// the client as a bad key: its error comes back unchanged in meaning, as a
// server fault.
func TestVerifyLookupErrors(t *testing.T) {
	t.Parallel()
	errDown := errors.New("database is down")
	tests := map[string]func(context.Context, string) (string, error){
		"StoreFails": func(context.Context, string) (string, error) { return "", errDown },
		"NoLookup":   nil,
	}
	for name, lookup := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			const body = `{}`
			r := newTC3Post(t, "intlpartnersmgt.localhost", "DescribeBillDownloadUrl", body)
			v := &Verifier{LookupFunc: lookup, NowFunc: fixedClock(testTS)}
			_, err := v.Verify(context.Background(), r, []byte(body))
			if err == nil {
				t.Fatal("Verify succeeded")
			}
			var e *Error
			if errors.As(err, &e) {
				t.Fatalf("Verify error %v is a *tc3.Error; want a server fault", err)
			}
			if lookup != nil && !errors.Is(err, errDown) {
				t.Errorf("Verify error %v does not wrap the store's error", err)
			}
		})
	}

	// ErrUnknownKey may arrive wrapped, as a store adds its own context.
	r := newTC3Post(t, "intlpartnersmgt.localhost", "DescribeBillDownloadUrl", `{}`)
	v := &Verifier{NowFunc: fixedClock(testTS), LookupFunc: func(_ context.Context, id string) (string, error) {
		return "", errors.Join(errors.New("key disabled on 2026-01-01"), ErrUnknownKey)
	}}
	_, err := v.Verify(context.Background(), r, []byte(`{}`))
	checkOutcome(t, err, CodeSecretIDNotFound, "")
}

// TestVerifyCommonHeaders checks what Verify reports from the X-TC-* headers,
// including the Node SDK's "null" region.
func TestVerifyCommonHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		region string
		want   string
	}{
		{"Region", "ap-singapore", "ap-singapore"},
		{"NodeNullRegion", "null", ""},
		{"NoRegion", "", ""},
	}
	for _, tt := range tests {
		r := newTC3Post(t, "intlpartnersmgt.localhost", "DescribeBillDetail", `{}`)
		if tt.region != "" {
			r.Header.Set("X-TC-Region", tt.region)
		}
		r.Header.Set("X-TC-Language", "en-US")
		r.Header.Set("X-TC-Token", "tmp-token")
		req, err := testVerifier().Verify(context.Background(), r, []byte(`{}`))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if req.Region != tt.want || req.Language != "en-US" || req.Token != "tmp-token" || req.Version != Version ||
			req.SecretID != testID || !req.Timestamp.Equal(time.Unix(testTS, 0)) || req.Method != TC3HMACSHA256 {
			t.Errorf("%s: Verify = %+v", tt.name, req)
		}
	}
}

// TestVerifyV1Errors walks through the ways a signature v1 request fails.
func TestVerifyV1Errors(t *testing.T) {
	t.Parallel()
	const host = "intlpartnersmgt.intl.tencentcloudapi.com"
	base := url.Values{
		"Action":    {"DescribeBillSummaryByProduct"},
		"Version":   {Version},
		"BillMonth": {"2024-11"},
	}
	signed := func(params url.Values) url.Values {
		return SignV1Form(http.MethodPost, host, params, testID, testKey, time.Unix(testTS, 0), "HmacSHA256")
	}
	without := func(params url.Values, name string) url.Values {
		out := url.Values{}
		for k, v := range params {
			if k != name {
				out[k] = v
			}
		}
		return out
	}
	tests := []struct {
		name     string
		form     func() string
		wantCode string
		wantMsg  string
	}{
		{name: "Valid", form: func() string { return signed(base).Encode() }},
		{name: "NoSecretId", form: func() string { return without(signed(base), "SecretId").Encode() },
			wantCode: CodeInvalidAuthorization, wantMsg: "no SecretId parameter"},
		{name: "NoSignature", form: func() string { return without(signed(base), "Signature").Encode() },
			wantCode: CodeInvalidAuthorization, wantMsg: "no Signature parameter"},
		{name: "NoTimestamp", form: func() string { return without(signed(base), "Timestamp").Encode() },
			wantCode: CodeMissingParameter, wantMsg: `The parameter "Timestamp" is required.`},
		{name: "BadTimestamp", form: func() string { p := signed(base); p.Set("Timestamp", "soon"); return p.Encode() },
			wantCode: CodeInvalidParameter, wantMsg: "Timestamp must be a Unix time"},
		{name: "StaleTimestamp", form: func() string {
			return SignV1Form(http.MethodPost, host, base, testID, testKey, time.Unix(testTS-301, 0), "HmacSHA256").Encode()
		}, wantCode: CodeSignatureExpire},
		{name: "NoNonce", form: func() string { return without(signed(base), "Nonce").Encode() },
			wantCode: CodeMissingParameter, wantMsg: `The parameter "Nonce" is required.`},
		{name: "NegativeNonce", form: func() string { p := signed(base); p.Set("Nonce", "-1"); return p.Encode() },
			wantCode: CodeInvalidParameter, wantMsg: "Nonce must be a non-negative integer"},
		{name: "ZeroNonce", form: func() string {
			p := url.Values{"Nonce": {"0"}}
			for k, v := range base {
				p[k] = v
			}
			p = signed(p)
			// SignV1Form picks its own nonce; sign again with Nonce=0.
			p.Set("Nonce", "0")
			p.Del("Signature")
			p.Set("Signature", v1Signature(testKey, v1StringToSign(http.MethodPost, host, p), HmacSHA256))
			return p.Encode()
		}},
		{name: "NoAction", form: func() string { return signed(without(base, "Action")).Encode() },
			wantCode: CodeMissingParameter, wantMsg: `The parameter "Action" is required.`},
		{name: "NoVersion", form: func() string { return signed(without(base, "Version")).Encode() },
			wantCode: CodeMissingParameter, wantMsg: `The parameter "Version" is required.`},
		{name: "ParameterTwice", form: func() string { return signed(base).Encode() + "&BillMonth=2024-12" },
			wantCode: CodeInvalidParameter, wantMsg: "BillMonth was sent 2 times"},
		{name: "BadEncoding", form: func() string { return signed(base).Encode() + "&x=%zz" },
			wantCode: CodeInvalidParameter, wantMsg: "not valid URL encoding"},
		{name: "ValueChanged", form: func() string { p := signed(base); p.Set("BillMonth", "2024-12"); return p.Encode() },
			wantCode: CodeSignatureFailure, wantMsg: "The provided credentials could not be validated."},
		{name: "MethodDowngraded", form: func() string { p := signed(base); p.Set("SignatureMethod", "HmacSHA1"); return p.Encode() },
			wantCode: CodeSignatureFailure},
		{name: "UnknownSecretId", form: func() string {
			return SignV1Form(http.MethodPost, host, base, "AKIDNOBODY", testKey, time.Unix(testTS, 0), "HmacSHA256").Encode()
		}, wantCode: CodeSecretIDNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			form := tt.form()
			r := httptest.NewRequest(http.MethodPost, "http://"+host+"/", strings.NewReader(form))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req, err := testVerifier().Verify(context.Background(), r, []byte(form))
			checkOutcome(t, err, tt.wantCode, tt.wantMsg)
			if tt.wantCode == "" && (req.Action != "DescribeBillSummaryByProduct" || req.Method != HmacSHA256 || req.Kind != KindForm) {
				t.Errorf("Verify = %+v", req)
			}
		})
	}
}

// TestVerifyHeaderNameCase checks that header names match in any case on the
// wire: the Go SDK sends X-Tc-Action, the Node SDK X-TC-Action, and curl
// users type whatever they like.
func TestVerifyHeaderNameCase(t *testing.T) {
	t.Parallel()
	const body = `{"Month":"2024-05"}`
	signed := newTC3Post(t, "intlpartnersmgt.localhost:8080", "DescribeBillDownloadUrl", body)
	raw := "POST / HTTP/1.1\r\n" +
		"HOST: intlpartnersmgt.localhost:8080\r\n" +
		"authorization: " + signed.Header.Get("Authorization") + "\r\n" +
		"x-tc-timestamp: " + signed.Header.Get("X-TC-Timestamp") + "\r\n" +
		"X-TC-ACTION: DescribeBillDownloadUrl\r\n" +
		"content-TYPE: application/json\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	r, got := readRaw(t, raw)
	req, err := testVerifier().Verify(context.Background(), r, got)
	checkOutcome(t, err, "", "")
	if req.Action != "DescribeBillDownloadUrl" {
		t.Errorf("Action = %q", req.Action)
	}
}

// TestVerifyWithSigningKeyCache checks that a cached signing key verifies
// exactly what a fresh one does: the same request again, but not a
// tampered one, nor one signed with another SecretKey on the same day.
func TestVerifyWithSigningKeyCache(t *testing.T) {
	t.Parallel()
	const body = `{"Month":"2026-10"}`
	cache := &SigningKeys{}
	keys := map[string]string{testID: testKey}
	v := &Verifier{LookupFunc: keyring(keys), NowFunc: fixedClock(testTS), SigningKeys: cache}
	for range 2 {
		_, err := v.Verify(context.Background(), newTC3Post(t, "intlpartnersmgt.localhost", "DescribeBillDownloadUrl", body), []byte(body))
		checkOutcome(t, err, "", "")
	}
	if len(cache.m) != 1 {
		t.Fatalf("cache holds %d signing keys after two requests of one client, want 1", len(cache.m))
	}
	// Requests in parallel start from clones of the key's one keyed HMAC:
	// each must start fresh, whatever the others sent through theirs.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 50 {
				sent := body
				if i%2 == 1 {
					sent = `{"Month":"2026-09"}` // signed for body, sent with another
				}
				_, err := v.Verify(context.Background(), newTC3Post(t, "intlpartnersmgt.localhost", "DescribeBillDownloadUrl", body), []byte(sent))
				if (err == nil) != (i%2 == 0) {
					t.Errorf("goroutine %d: tampered=%v, err = %v", i, i%2 == 1, err)
					return
				}
			}
		})
	}
	wg.Wait()
	_, err := v.Verify(context.Background(), newTC3Post(t, "intlpartnersmgt.localhost", "DescribeBillDownloadUrl", body), []byte(`{"Month":"2026-09"}`))
	checkOutcome(t, err, CodeSignatureFailure, "")
	// The key was rotated in the store: the cached signing key of the old
	// SecretKey must not verify a request signed with it any more.
	keys[testID] = testKey + "x"
	_, err = v.Verify(context.Background(), newTC3Post(t, "intlpartnersmgt.localhost", "DescribeBillDownloadUrl", body), []byte(body))
	checkOutcome(t, err, CodeSignatureFailure, "")
}
