package filestoretest

import (
	"context"
	"crypto/rand"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/s3blob" // s3:// URLs
)

// S3URL is the storage URL of bucket on an S3-compatible server at
// endpoint, path-style, as partnerbill's --storage takes it.
func S3URL(bucket, endpoint string) string {
	return "s3://" + bucket + "?" + url.Values{
		"endpoint":       {endpoint},
		"region":         {"us-east-1"},
		"use_path_style": {"true"},
	}.Encode()
}

// NewS3Bucket creates an empty bucket of a fresh name, emptied and deleted
// at cleanup, and returns it with an S3 client configured as Open
// configures its own.
func NewS3Bucket(t testing.TB, endpoint string) (*s3.Client, string) {
	t.Helper()
	ctx := context.Background()
	bucket := "pbtest-" + strings.ToLower(rand.Text()[:16])
	b, err := blob.OpenBucket(ctx, S3URL(bucket, endpoint))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var c *s3.Client
	if !b.As(&c) {
		t.Fatal("an s3blob bucket is not an *s3.Client")
	}
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatalf("create bucket %s at %s: %v", bucket, endpoint, err)
	}
	t.Cleanup(func() {
		objs, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &bucket})
		if err == nil {
			for _, o := range objs.Contents {
				c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: o.Key})
			}
		}
		ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &bucket})
		if err == nil {
			for _, u := range ups.Uploads {
				c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &bucket, Key: u.Key, UploadId: u.UploadId})
			}
		}
		if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &bucket}); err != nil {
			t.Logf("delete test bucket %s: %v", bucket, err)
		}
	})
	return c, bucket
}
