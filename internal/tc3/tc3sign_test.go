package tc3

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestParseAuthorization feeds the parser the shapes hand-written clients
// get wrong; each must be refused with InvalidAuthorization and a message
// that names the problem.
func TestParseAuthorization(t *testing.T) {
	t.Parallel()
	const (
		cred = "Credential=AKIDEXAMPLE/2026-11-26/intlpartnersmgt/tc3_request"
		sh   = "SignedHeaders=content-type;host"
		sig  = "Signature=ed48ca11e72d0aab2f5749abc5bb16276d60b1969a037f899eb796971f452980"
	)
	valid := "TC3-HMAC-SHA256 " + cred + ", " + sh + ", " + sig
	tests := []struct {
		name    string
		in      string
		want    authorization
		wantMsg string // substring of the InvalidAuthorization message; "" = valid
	}{
		{
			name: "SDKShape",
			in:   valid,
			want: authorization{
				SecretID:      "AKIDEXAMPLE",
				Date:          "2026-11-26",
				Service:       "intlpartnersmgt",
				SignedHeaders: []string{"content-type", "host"},
				Signature:     "ed48ca11e72d0aab2f5749abc5bb16276d60b1969a037f899eb796971f452980",
			},
		},
		{
			name: "ExtraSignedHeader",
			in:   "TC3-HMAC-SHA256 " + cred + ", SignedHeaders=content-type;host;x-tc-action, " + sig,
			want: authorization{
				SecretID:      "AKIDEXAMPLE",
				Date:          "2026-11-26",
				Service:       "intlpartnersmgt",
				SignedHeaders: []string{"content-type", "host", "x-tc-action"},
				Signature:     "ed48ca11e72d0aab2f5749abc5bb16276d60b1969a037f899eb796971f452980",
			},
		},
		{name: "Empty", in: "", wantMsg: `algorithm "" is not supported`},
		{name: "Bearer", in: "Bearer abc", wantMsg: `algorithm "Bearer" is not supported`},
		{name: "OtherAlgorithm", in: "TC3-HMAC-SHA1 " + cred + ", " + sh + ", " + sig, wantMsg: `algorithm "TC3-HMAC-SHA1"`},
		{name: "LowercaseAlgorithm", in: "tc3-hmac-sha256 " + cred + ", " + sh + ", " + sig, wantMsg: "is not supported"},
		{name: "AlgorithmOnly", in: "TC3-HMAC-SHA256", wantMsg: "is not supported"},
		{name: "TwoSpacesAfterAlgorithm", in: "TC3-HMAC-SHA256  " + cred + ", " + sh + ", " + sig, wantMsg: `field 1 must start with "Credential="`},
		{name: "CommaWithoutSpace", in: "TC3-HMAC-SHA256 " + cred + "," + sh + "," + sig, wantMsg: "found 1"},
		{name: "MissingSignature", in: "TC3-HMAC-SHA256 " + cred + ", " + sh, wantMsg: "found 2"},
		{name: "ExtraField", in: valid + ", Extra=1", wantMsg: "found 4"},
		{name: "FieldsOutOfOrder", in: "TC3-HMAC-SHA256 " + sh + ", " + cred + ", " + sig, wantMsg: `field 1 must start with "Credential="`},
		{name: "LowercaseFieldName", in: "TC3-HMAC-SHA256 credential=AKIDEXAMPLE/2026-11-26/intlpartnersmgt/tc3_request, " + sh + ", " + sig, wantMsg: `"Credential="`},
		{name: "CredentialThreeParts", in: "TC3-HMAC-SHA256 Credential=AKIDEXAMPLE/2026-11-26/tc3_request, " + sh + ", " + sig, wantMsg: "four parts"},
		{name: "CredentialFiveParts", in: "TC3-HMAC-SHA256 Credential=AKID/EXAMPLE/2026-11-26/intlpartnersmgt/tc3_request, " + sh + ", " + sig, wantMsg: "four parts"},
		{name: "EmptySecretId", in: "TC3-HMAC-SHA256 Credential=/2026-11-26/intlpartnersmgt/tc3_request, " + sh + ", " + sig, wantMsg: "empty SecretId"},
		{name: "CompactDate", in: "TC3-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/intlpartnersmgt/tc3_request, " + sh + ", " + sig, wantMsg: `date "20261126"`},
		{name: "ImpossibleDate", in: "TC3-HMAC-SHA256 Credential=AKIDEXAMPLE/2026-13-01/intlpartnersmgt/tc3_request, " + sh + ", " + sig, wantMsg: `date "2026-13-01"`},
		{name: "EmptyService", in: "TC3-HMAC-SHA256 Credential=AKIDEXAMPLE/2026-11-26//tc3_request, " + sh + ", " + sig, wantMsg: "empty service"},
		{name: "WrongTerminator", in: "TC3-HMAC-SHA256 Credential=AKIDEXAMPLE/2026-11-26/intlpartnersmgt/aws4_request, " + sh + ", " + sig, wantMsg: `end with "tc3_request"`},
		{name: "EmptySignedHeaders", in: "TC3-HMAC-SHA256 " + cred + ", SignedHeaders=, " + sig, wantMsg: "SignedHeaders is empty"},
		{name: "HostNotSigned", in: "TC3-HMAC-SHA256 " + cred + ", SignedHeaders=content-type, " + sig, wantMsg: "must include both content-type and host"},
		{name: "ContentTypeNotSigned", in: "TC3-HMAC-SHA256 " + cred + ", SignedHeaders=host;x-tc-action, " + sig, wantMsg: "must include both content-type and host"},
		{name: "UppercaseHeaderName", in: "TC3-HMAC-SHA256 " + cred + ", SignedHeaders=Content-Type;host, " + sig, wantMsg: `"Content-Type" is not a lowercase header name`},
		{name: "UnsortedHeaders", in: "TC3-HMAC-SHA256 " + cred + ", SignedHeaders=host;content-type, " + sig, wantMsg: "ascending order"},
		{name: "RepeatedHeader", in: "TC3-HMAC-SHA256 " + cred + ", SignedHeaders=content-type;host;host, " + sig, wantMsg: "ascending order"},
		{name: "EmptyHeaderEntry", in: "TC3-HMAC-SHA256 " + cred + ", SignedHeaders=content-type;;host, " + sig, wantMsg: `"" is not a lowercase header name`},
		{name: "ShortSignature", in: "TC3-HMAC-SHA256 " + cred + ", " + sh + ", Signature=abc123", wantMsg: "64 lowercase hex digits"},
		{name: "UppercaseSignature", in: "TC3-HMAC-SHA256 " + cred + ", " + sh + ", Signature=" + strings.ToUpper(sig[len("Signature="):]), wantMsg: "64 lowercase hex digits"},
		{name: "NonHexSignature", in: "TC3-HMAC-SHA256 " + cred + ", " + sh + ", Signature=" + strings.Repeat("g", 64), wantMsg: "64 lowercase hex digits"},
		{name: "TrailingSpace", in: valid + " ", wantMsg: "64 lowercase hex digits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, e := parseAuthorization(tt.in)
			if tt.wantMsg == "" {
				if e != nil {
					t.Fatalf("parseAuthorization: %v", e)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("parseAuthorization (-want +got):\n%s", diff)
				}
				if f := formatAuthorization(got); f != tt.in {
					t.Errorf("formatAuthorization = %q, want the input back", f)
				}
				return
			}
			if e == nil {
				t.Fatalf("parseAuthorization accepted %q", tt.in)
			}
			if e.Code != CodeInvalidAuthorization || !strings.Contains(e.Message, tt.wantMsg) {
				t.Errorf("parseAuthorization error = %v, want %s containing %q", e, CodeInvalidAuthorization, tt.wantMsg)
			}
		})
	}
}

// TestStripPort pins the host fallback used for the Node SDK, which signs the
// host name without the port it sends.
func TestStripPort(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in     string
		want   string
		wantOK bool
	}{
		{"intlpartnersmgt.localhost:18081", "intlpartnersmgt.localhost", true},
		{"127.0.0.1:18080", "127.0.0.1", true},
		{"[::1]:8080", "[::1]", true},
		{"[::1]", "[::1]", false},
		{"::1", "::1", false},
		{"example.com", "example.com", false},
		{"example.com:", "example.com:", false},
		{"example.com:http", "example.com:http", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := stripPort(tt.in)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("stripPort(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}
