// Package testenv finds the servers that the scale-out tests run against:
// PostgreSQL, an S3-compatible object store and Redis on loopback. Each is
// named by an environment variable that .ci/run sets. Without it a test is
// skipped on a developer's machine, and fails when CI is set, so a missing
// server can never turn a CI run green.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Variables naming the test servers.
const (
	// PostgresVar holds a PostgreSQL URL whose user may create schemas.
	PostgresVar = "PARTNERBILL_TEST_DATABASE_URL"
	// S3EndpointVar holds the http:// endpoint of an S3-compatible server;
	// credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
	S3EndpointVar = "PARTNERBILL_TEST_S3_ENDPOINT"
	// RedisVar holds a redis:// URL.
	RedisVar = "PARTNERBILL_TEST_REDIS_URL"
)

// Require returns the value of the environment variable name, or skips the
// test (fails it when CI is set) when it is empty.
func Require(t testing.TB, name, what string) string {
	t.Helper()
	v := os.Getenv(name)
	if v != "" {
		return v
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not set: CI must provide %s for this test (see .ci/run)", name, what)
	}
	t.Skipf("%s is not set: skipping a test that needs %s (.ci/run shows how to start one)", name, what)
	return ""
}

// PostgresURL returns the test PostgreSQL URL, or skips.
func PostgresURL(t testing.TB) string { return Require(t, PostgresVar, "a PostgreSQL server") }

// S3Endpoint returns the test S3 endpoint, or skips.
func S3Endpoint(t testing.TB) string { return Require(t, S3EndpointVar, "an S3-compatible server") }

// RedisURL returns the test Redis URL, or skips.
func RedisURL(t testing.TB) string { return Require(t, RedisVar, "a Redis server") }

// NewSchema creates a schema of a fresh name on the PostgreSQL server at
// dbURL, dropped with everything in it when the test ends, so that each
// test has a database of its own. It returns the schema's name.
func NewSchema(t testing.TB, dbURL string) string {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	schema := "pbtest_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect to %s: %v", PostgresVar, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// SchemaURL returns dbURL with its search_path set to schema, the way a
// user points partnerbill at a schema of its own.
func SchemaURL(t testing.TB, dbURL, schema string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
