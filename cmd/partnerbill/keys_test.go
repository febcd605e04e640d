package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	sdkerrors "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
)

// apiCode returns the API error code of an SDK call's error, "ok" for nil.
func apiCode(t testing.TB, err error) string {
	t.Helper()
	if err == nil {
		return "ok"
	}
	var e *sdkerrors.TencentCloudSDKError
	if !errors.As(err, &e) {
		t.Fatalf("not an API error: %v", err)
	}
	return e.Code
}

func parseKey(t testing.TB, out string) key {
	t.Helper()
	var k key
	if err := json.Unmarshal([]byte(out), &k); err != nil || !regexp.MustCompile(`^AKID[A-Za-z0-9]{32}$`).MatchString(k.SecretId) || len(k.SecretKey) != 32 {
		t.Fatalf("printed %q, want one key as JSON (%v)", out, err)
	}
	return k
}

// TestKeyRotate rotates a key through the CLI while the server runs: the
// new key works at once, the old one until the grace period ends and never
// after, and --grace 0 stops a key at once. The CLI has no clock to
// inject, so the grace period is short and the test waits it out.
func TestKeyRotate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	newAccount(t, dir, "--role", "reseller", "--uin", payer)
	old := newAccount(t, dir, "--role", "end-customer", "--reseller", payer)
	srv := startServer(t, dir)
	if _, err := describe(t, srv.Host, old, "2024-12", "L3"); err != nil {
		t.Fatalf("before rotation: %v", err)
	}

	const grace = 3 * time.Second
	start := time.Now()
	out, errOut, err := cliResult(dir, "key", "rotate", old.SecretId, "--grace", grace.String())
	if err != nil {
		t.Fatalf("key rotate: %v\n%s", err, errOut)
	}
	next := parseKey(t, out)
	if next.Uin != old.Uin || next.Role != old.Role || next.SecretId == old.SecretId || next.SecretKey == old.SecretKey {
		t.Fatalf("rotate printed %+v for %+v", next, old)
	}
	if !strings.Contains(errOut, old.SecretId+" stops working at ") {
		t.Errorf("rotate does not say when the old key stops: %q", errOut)
	}
	if _, err := describe(t, srv.Host, next, "2024-12", "L3"); err != nil {
		t.Errorf("the new key: %v", err)
	}
	if _, err := describe(t, srv.Host, old, "2024-12", "L3"); err != nil && time.Since(start) < grace {
		t.Errorf("the old key within its grace period: %v", err)
	}
	time.Sleep(time.Until(start.Add(grace + 500*time.Millisecond)))
	if _, err := describe(t, srv.Host, old, "2024-12", "L3"); apiCode(t, err) != "AuthFailure.SecretIdNotFound" {
		t.Errorf("the old key after its grace period: %v, want AuthFailure.SecretIdNotFound", err)
	}
	if _, err := describe(t, srv.Host, next, "2024-12", "L3"); err != nil {
		t.Errorf("the new key after the grace period: %v", err)
	}

	out, errOut, err = cliResult(dir, "key", "rotate", next.SecretId, "--grace", "0")
	if err != nil {
		t.Fatalf("key rotate --grace 0: %v\n%s", err, errOut)
	}
	third := parseKey(t, out)
	if !strings.Contains(errOut, next.SecretId+" no longer works") {
		t.Errorf("rotate --grace 0 says %q", errOut)
	}
	// The server reads a caller's key at most once a second (serve's key
	// cache), so the change shows within that second.
	time.Sleep(1100 * time.Millisecond)
	if _, err := describe(t, srv.Host, next, "2024-12", "L3"); apiCode(t, err) != "AuthFailure.SecretIdNotFound" {
		t.Errorf("a key rotated with --grace 0: %v, want AuthFailure.SecretIdNotFound", err)
	}
	if _, err := describe(t, srv.Host, third, "2024-12", "L3"); err != nil {
		t.Errorf("the third key: %v", err)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"key", "rotate", "AKIDnope"}, "no key with SecretId AKIDnope"},
		{[]string{"key", "rotate", third.SecretId, "--grace", "-1s"}, "--grace"},
		{[]string{"key", "rotate"}, "arg"},
	} {
		if _, _, err := cliResult(dir, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("partnerbill %v: %v, want an error mentioning %q", c.args, err, c.want)
		}
	}
}

// TestMasterKeyFile runs without PARTNERBILL_MASTER_KEY: the first command
// creates DATA_DIR/master.key readable by its owner only, the server uses
// the same key, a key file open to others is refused with the fix, and a
// master key other than the database's is refused at start.
func TestMasterKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	out, errOut, err := cliResultEnv(noEnv, dir, "account", "create", "--role", "end-customer")
	if err != nil {
		t.Fatalf("account create: %v\n%s", err, errOut)
	}
	k := parseKey(t, out)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("master.key has mode %04o, want 0600", fi.Mode().Perm())
	}
	fileKey, _ := os.ReadFile(path)
	srv := startServerEnv(t, noEnv, dir)
	if _, err := describe(t, srv.Host, k, "2024-12", "L3"); err != nil {
		t.Fatalf("the server does not open keys sealed by the CLI: %v", err)
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{out, errOut, srv.Logs.String()} {
		if strings.Contains(s, strings.TrimSpace(string(fileKey))) {
			t.Error("the master key was printed or logged")
		}
	}

	// Another master key (here from the environment) is refused, naming
	// where it came from.
	_, _, err = cliResultEnv(testEnv, dir, "account", "list")
	if err == nil || !strings.Contains(err.Error(), "not the one this database's SecretKeys are sealed with") || !strings.Contains(err.Error(), "PARTNERBILL_MASTER_KEY") {
		t.Errorf("a different master key: %v", err)
	}
	if err != nil && strings.Contains(err.Error(), testMasterKey) {
		t.Error("the error shows the master key")
	}

	// A key file others may read is refused, by admin commands and serve.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"account", "list"}, {"serve", "--addr", "127.0.0.1:0"}} {
		if _, _, err := cliResultEnv(noEnv, dir, args...); err == nil || !strings.Contains(err.Error(), "chmod 600 "+path) {
			t.Errorf("partnerbill %v with master.key mode 0644: %v, want a refusal saying chmod 600", args, err)
		}
	}
	os.Chmod(path, 0o600)
	if _, _, err := cliResultEnv(noEnv, dir, "account", "list"); err != nil {
		t.Errorf("after chmod 600: %v", err)
	}
}

// TestPostgresNeedsTheMasterKeyVariable: on PostgreSQL a key file per
// machine would give each replica its own master key, so the variable is
// required, before any connection is made.
func TestPostgresNeedsTheMasterKeyVariable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, args := range [][]string{{"account", "list"}, {"migrate"}, {"serve", "--addr", "127.0.0.1:0"}} {
		_, _, err := cliResultEnv(noEnv, dir, append([]string{"--database", "postgres://pb:hunter2@127.0.0.1:1/pb"}, args...)...)
		if err == nil || !strings.Contains(err.Error(), "PARTNERBILL_MASTER_KEY is not set") {
			t.Errorf("partnerbill %v on PostgreSQL without PARTNERBILL_MASTER_KEY: %v", args, err)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error shows the database password: %v", err)
		}
	}
	// An import touches no key and needs no master key: it gets as far as
	// connecting (and fails there, on this closed port).
	_, _, err := cliResultEnv(noEnv, dir, "--database", "postgres://pb:hunter2@127.0.0.1:1/pb", "ledger", "import", "x.csv")
	if err == nil || strings.Contains(err.Error(), "PARTNERBILL_MASTER_KEY") {
		t.Errorf("ledger import on PostgreSQL without PARTNERBILL_MASTER_KEY: %v, want a connection error", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "master.key")); !os.IsNotExist(err) {
		t.Errorf("a master.key was made for a PostgreSQL database (stat: %v)", err)
	}
}

// TestSecretKeysAreShownOnlyWhenIssued runs every command that prints,
// and the server, with several keys about, and looks for their SecretKeys
// in everything printed and logged, and in the database's files: a key
// appears once, in the JSON of the command that issued it, and nowhere
// else.
func TestSecretKeysAreShownOnlyWhenIssued(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var secrets []string
	issue := func(args ...string) key {
		t.Helper()
		out, errOut, err := cliResult(dir, args...)
		if err != nil {
			t.Fatalf("partnerbill %v: %v", args, err)
		}
		k := parseKey(t, out)
		for _, s := range secrets {
			if strings.Contains(out+errOut, s) {
				t.Errorf("partnerbill %v shows an earlier key's SecretKey", args)
			}
		}
		if strings.Contains(errOut, k.SecretKey) || strings.Count(out, k.SecretKey) != 1 {
			t.Errorf("partnerbill %v shows its new SecretKey other than once in its JSON", args)
		}
		secrets = append(secrets, k.SecretKey)
		return k
	}
	reseller := issue("account", "create", "--role", "reseller", "--uin", payer)
	a := issue("account", "create", "--role", "end-customer", "--reseller", payer)
	a2 := issue("key", "create", "--uin", a.Uin)
	a3 := issue("key", "rotate", a2.SecretId, "--grace", "1h")
	synthOut := filepath.Join(dir, "synth.csv")
	synthKeys := cli(t, dir, "ledger", "synth", "--customers", "1", "--rows-per-customer", "5", "--month", "2024-12", "--out", synthOut, "--create-accounts")
	s := parseKey(t, synthKeys)
	secrets = append(secrets, s.SecretKey)

	srv := startServer(t, dir)
	for _, k := range []key{reseller, a, a2, a3, s, {SecretId: a.SecretId, SecretKey: "wrong" + a.SecretKey[5:]}} {
		describe(t, srv.Host, k, "2024-12", "L3")
	}
	cli(t, dir, "key", "disable", a.SecretId)
	describe(t, srv.Host, a, "2024-12", "L3")

	var printed strings.Builder
	for _, args := range [][]string{
		{"account", "list"},
		{"key", "disable", a2.SecretId},
		{"key", "disable", "AKIDnope"},
		{"key", "create", "--uin", "1"},
		{"key", "rotate", "AKIDnope"},
		{"key", "rotate", a3.SecretId, "--grace", "-1s"},
		{"account", "create", "--role", "end-customer", "--uin", a.Uin},
		{"ledger", "import", synthOut},
		{"ledger", "import", filepath.Join(dir, "missing.csv")},
		{"migrate"},
	} {
		out, errOut, err := cliResult(dir, args...)
		printed.WriteString(out + errOut)
		if err != nil {
			printed.WriteString(err.Error())
		}
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	printed.WriteString(srv.Logs.String())
	files, _ := filepath.Glob(filepath.Join(dir, "partnerbill.db*"))
	if len(files) == 0 {
		t.Fatal("no database files")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		printed.Write(b)
	}
	for i, sk := range secrets {
		if strings.Contains(printed.String(), sk) {
			t.Errorf("SecretKey %d appears in later output, the server log or the database files", i)
		}
	}
	if strings.Contains(printed.String(), testMasterKey) {
		t.Error("the master key appears in output or the database")
	}
}
