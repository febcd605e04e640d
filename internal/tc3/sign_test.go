package tc3

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// roundTripParams is what every round trip sends and expects back.
type roundTripParams struct {
	Month    string
	PageSize int64
	TagKey   []string
}

var wantRoundTrip = roundTripParams{Month: "2024-05", PageSize: 10, TagKey: []string{"cost&center", "账单 x"}}

// TestSignerVerifierRoundTrip signs requests of every supported kind with
// SignTC3 / SignV1Form and checks Verify accepts them and Decode recovers the
// parameters. The signer is what end-to-end tests use for the requests the
// SDKs cannot send, so it must agree with the verifier everywhere.
func TestSignerVerifierRoundTrip(t *testing.T) {
	t.Parallel()
	ts := time.Unix(testTS, 0)
	form := url.Values{
		"Action":   {"DescribeBillSummary"},
		"Version":  {Version},
		"Region":   {"ap-singapore"},
		"Month":    {"2024-05"},
		"PageSize": {"10"},
		"TagKey.0": {"cost&center"},
		"TagKey.1": {"账单 x"},
	}
	tests := []struct {
		name       string
		newRequest func(t testing.TB) (*http.Request, []byte)
		wantMethod SignMethod
		wantKind   Kind
	}{
		{
			name: "TC3PostJSON",
			newRequest: func(t testing.TB) (*http.Request, []byte) {
				body := `{"Month":"2024-05","PageSize":"10","TagKey":["cost&center","账单 x"]}`
				r := newTC3Post(t, "127.0.0.1:18080", "DescribeBillSummary", body)
				r.Header.Set("X-TC-Region", "ap-singapore")
				return r, []byte(body)
			},
			wantMethod: TC3HMACSHA256, wantKind: KindJSON,
		},
		{
			name: "TC3PostUnsignedPayload",
			newRequest: func(t testing.TB) (*http.Request, []byte) {
				body := []byte(`{"Month":"2024-05","PageSize":10,"TagKey":["cost&center","账单 x"]}`)
				r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:18080/", nil)
				r.Header.Set("Content-Type", "application/json")
				r.Header.Set("X-TC-Action", "DescribeBillSummary")
				r.Header.Set("X-TC-Version", Version)
				r.Header.Set("X-TC-Region", "ap-singapore")
				r.Header.Set("X-TC-Content-SHA256", "UNSIGNED-PAYLOAD")
				SignTC3(r, body, testID, testKey, ts, Service)
				return r, body
			},
			wantMethod: TC3HMACSHA256, wantKind: KindJSON,
		},
		{
			name: "TC3Get",
			newRequest: func(t testing.TB) (*http.Request, []byte) {
				q := url.Values{"Month": {"2024-05"}, "PageSize": {"10"}, "TagKey.0": {"cost&center"}, "TagKey.1": {"账单 x"}}
				r := httptest.NewRequest(http.MethodGet, "http://intlpartnersmgt.localhost:8080/?"+q.Encode(), nil)
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.Header.Set("X-TC-Action", "DescribeBillSummary")
				r.Header.Set("X-TC-Version", Version)
				r.Header.Set("X-TC-Region", "ap-singapore")
				SignTC3(r, nil, testID, testKey, ts, Service)
				return r, nil
			},
			wantMethod: TC3HMACSHA256, wantKind: KindQuery,
		},
		{
			name: "TC3SignedWithoutPort",
			newRequest: func(t testing.TB) (*http.Request, []byte) {
				// What the Node SDK does: sign the host name, send host:port.
				body := `{"Month":"2024-05","PageSize":10,"TagKey":["cost&center","账单 x"]}`
				r := newTC3Post(t, "intlpartnersmgt.localhost", "DescribeBillSummary", body)
				r.Header.Set("X-TC-Region", "ap-singapore")
				r.Host = "intlpartnersmgt.localhost:18081"
				return r, []byte(body)
			},
			wantMethod: TC3HMACSHA256, wantKind: KindJSON,
		},
		{
			name:       "V1PostHmacSHA256",
			newRequest: v1Request(http.MethodPost, "intlpartnersmgt.localhost:8080", "intlpartnersmgt.localhost:8080", form, "HmacSHA256"),
			wantMethod: HmacSHA256, wantKind: KindForm,
		},
		{
			name:       "V1PostHmacSHA1",
			newRequest: v1Request(http.MethodPost, "127.0.0.1:8080", "127.0.0.1:8080", form, "HmacSHA1"),
			wantMethod: HmacSHA1, wantKind: KindForm,
		},
		{
			name:       "V1PostNoSignatureMethodMeansSHA1",
			newRequest: v1Request(http.MethodPost, "127.0.0.1:8080", "127.0.0.1:8080", form, ""),
			wantMethod: HmacSHA1, wantKind: KindForm,
		},
		{
			name:       "V1PostLowercaseMethodMeansSHA1",
			newRequest: v1Request(http.MethodPost, "127.0.0.1:8080", "127.0.0.1:8080", form, "hmacsha256"),
			wantMethod: HmacSHA1, wantKind: KindForm,
		},
		{
			name:       "V1GetHmacSHA256",
			newRequest: v1Request(http.MethodGet, "intlpartnersmgt.intl.tencentcloudapi.com", "intlpartnersmgt.intl.tencentcloudapi.com", form, "HmacSHA256"),
			wantMethod: HmacSHA256, wantKind: KindQuery,
		},
		{
			name:       "V1GetHmacSHA1",
			newRequest: v1Request(http.MethodGet, "intlpartnersmgt.localhost:8080", "intlpartnersmgt.localhost:8080", form, "HmacSHA1"),
			wantMethod: HmacSHA1, wantKind: KindQuery,
		},
		{
			name:       "V1SignedWithoutPort",
			newRequest: v1Request(http.MethodPost, "intlpartnersmgt.localhost", "intlpartnersmgt.localhost:18081", form, "HmacSHA256"),
			wantMethod: HmacSHA256, wantKind: KindForm,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, body := tt.newRequest(t)
			req, err := testVerifier().Verify(context.Background(), r, body)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if req.Method != tt.wantMethod || req.Kind != tt.wantKind || req.Action != "DescribeBillSummary" ||
				req.Version != Version || req.Region != "ap-singapore" || req.SecretID != testID {
				t.Errorf("Verify = %+v", req)
			}
			var got roundTripParams
			if err := req.Decode(&got); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if diff := cmp.Diff(wantRoundTrip, got); diff != "" {
				t.Errorf("Decode (-want +got):\n%s", diff)
			}
		})
	}
}

// v1Request returns a builder for a signature v1 request signed for
// signedHost and sent with Host sentHost.
func v1Request(method, signedHost, sentHost string, params url.Values, sigMethod string) func(testing.TB) (*http.Request, []byte) {
	return func(t testing.TB) (*http.Request, []byte) {
		signed := SignV1Form(method, signedHost, params, testID, testKey, time.Unix(testTS, 0), sigMethod)
		for _, name := range []string{"SecretId", "Timestamp", "Nonce", "Signature"} {
			if signed.Get(name) == "" {
				t.Fatalf("SignV1Form did not set %s", name)
			}
		}
		if params.Has("Signature") || params.Has("SecretId") {
			t.Fatal("SignV1Form changed its input")
		}
		if method == http.MethodGet {
			r := httptest.NewRequest(method, "http://"+sentHost+"/?"+signed.Encode(), nil)
			return r, nil
		}
		body := signed.Encode()
		r := httptest.NewRequest(method, "http://"+sentHost+"/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		return r, []byte(body)
	}
}

// TestSignTC3Headers checks what SignTC3 sets, in the shape the Go SDK sends.
func TestSignTC3Headers(t *testing.T) {
	t.Parallel()
	r := newTC3Post(t, "127.0.0.1:18080", "DescribeBillDownloadUrl", `{}`)
	if got := r.Header.Get("X-TC-Timestamp"); got != "1795688141" {
		t.Errorf("X-TC-Timestamp = %q", got)
	}
	a, e := parseAuthorization(r.Header.Get("Authorization"))
	if e != nil {
		t.Fatal(e)
	}
	if a.SecretID != testID || a.Date != "2026-11-26" || a.Service != Service || a.signedHeaderList() != "content-type;host" {
		t.Errorf("Authorization = %+v", a)
	}
}

// BenchmarkVerifyTC3 measures authenticating one typical SDK request.
func BenchmarkVerifyTC3(b *testing.B) {
	const body = `{"ActionType":"postpay_deduct_h","Month":"2024-05","Page":1,"PageSize":100,"PayMode":"postPay"}`
	r := newTC3Post(b, "intlpartnersmgt.localhost:8080", "DescribeBillDetail", body)
	v := testVerifier()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, r, []byte(body)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyV1 measures authenticating a Node SDK default-profile form.
func BenchmarkVerifyV1(b *testing.B) {
	form := SignV1Form(http.MethodPost, "intlpartnersmgt.localhost:8080", url.Values{
		"Action": {"DescribeBillSummaryByProduct"}, "Version": {Version}, "BillMonth": {"2024-11"}, "CustomerUin": {"123456"},
	}, testID, testKey, time.Unix(testTS, 0), "HmacSHA256").Encode()
	r := httptest.NewRequest(http.MethodPost, "http://intlpartnersmgt.localhost:8080/", nil)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	v := testVerifier()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, r, []byte(form)); err != nil {
			b.Fatal(err)
		}
	}
}

// validDate accepts exactly the dates time.Parse(dateLayout) accepts and
// Format writes back the same.
func TestValidDateAgreesWithTimeParse(t *testing.T) {
	t.Parallel()
	var cases []string
	for _, y := range []string{"0000", "1900", "2000", "2023", "2024", "9999"} {
		for m := 0; m <= 13; m++ {
			for d := 0; d <= 32; d++ {
				cases = append(cases, fmt.Sprintf("%s-%02d-%02d", y, m, d))
			}
		}
	}
	cases = append(cases, "", "2024-1-01", "2024-01-1", "+024-01-01", "2024/01/01", "2024-01-01 ", "2024-0a-01", "２024-01-01", "20240-01-01")
	for _, s := range cases {
		p, err := time.Parse(dateLayout, s)
		want := err == nil && p.Format(dateLayout) == s
		if got := validDate(s); got != want {
			t.Errorf("validDate(%q) = %v, time.Parse says %v", s, got, want)
		}
	}
}
