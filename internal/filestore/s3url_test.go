package filestore

import (
	"context"
	"net/url"
	"slices"
	"testing"

	"gocloud.dev/blob"
)

// TestS3ParamsReachGoCloud shows that gocloud.dev knows every parameter
// checkS3URL lets through: each is accepted by checkS3URL and then by
// blob.OpenBucket (which opens nothing over the network).
func TestS3ParamsReachGoCloud(t *testing.T) {
	t.Parallel()
	values := map[string]string{
		"region":                       "us-east-1",
		"endpoint":                     "http://127.0.0.1:1",
		"use_path_style":               "true",
		"s3ForcePathStyle":             "true",
		"disable_https":                "true",
		"hostname_immutable":           "true",
		"role":                         "arn:aws:iam::123456789012:role/partnerbill",
		"anonymous":                    "true",
		"dualstack":                    "false",
		"fips":                         "false",
		"accelerate":                   "false",
		"ssetype":                      "AES256",
		"kmskeyid":                     "alias/partnerbill",
		"rate_limiter_capacity":        "100",
		"request_checksum_calculation": "when_required",
		"response_checksum_validation": "when_required",
		"prefix":                       "bills/",
		"awssdk":                       "v2",
	}
	q := url.Values{}
	for _, p := range s3Params {
		if p == "profile" {
			continue // names a profile in ~/.aws/config, which a test cannot count on
		}
		v, ok := values[p]
		if !ok {
			t.Errorf("s3Params has %q: give it a value here", p)
			continue
		}
		q.Set(p, v)
	}
	raw := "s3://partnerbill-bills?" + q.Encode()
	u, _ := url.Parse(raw)
	if err := checkS3URL(u); err != nil {
		t.Fatal(err)
	}
	b, err := blob.OpenBucket(context.Background(), raw)
	if err != nil {
		t.Fatalf("gocloud.dev refuses a parameter partnerbill accepts: %v", err)
	}
	b.Close()
	if !slices.Contains(s3Params, "profile") {
		t.Error("s3Params lost profile")
	}
}
