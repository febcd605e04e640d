package sqlitestore_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/partnerbill/partnerbill/internal/account"
	"github.com/partnerbill/partnerbill/internal/store/sqlitestore"
	"github.com/partnerbill/partnerbill/internal/store/storetest"
)

// TestWrongMasterKeyIsRefusedAtOpen opens a database whose keys are sealed
// under one master key with another: Open fails with ErrWrongMasterKey
// before anything can be served or sealed under the wrong key, and the
// right key still opens it.
func TestWrongMasterKeyIsRefusedAtOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pb.db")
	right, wrong := storetest.NewSealer(t), storetest.NewSealer(t)
	db, err := sqlitestore.Open(ctx, path, &sqlitestore.Options{Sealer: right})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateAccount(ctx, account.Account{UIN: "800000000002", Role: account.RoleEndCustomer}); err != nil {
		t.Fatal(err)
	}
	k := account.NewKey("800000000002", time.Now())
	if err := db.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	db.Close()

	if db, err := sqlitestore.Open(ctx, path, &sqlitestore.Options{Sealer: wrong}); !errors.Is(err, account.ErrWrongMasterKey) {
		if err == nil {
			db.Close()
		}
		t.Fatalf("open with another master key: err = %v, want ErrWrongMasterKey", err)
	}
	db, err = sqlitestore.Open(ctx, path, &sqlitestore.Options{Sealer: right})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got, err := db.GetKey(ctx, k.SecretID); err != nil || got.SecretKey != k.SecretKey {
		t.Fatalf("with the right key again: %v", err)
	}
}

// TestPlaintextKeysAreSealedOnUpgrade builds a database as partnerbill
// stored it before sealing (migration 1 only, a plaintext SecretKey), then
// opens it with a master key: the key is sealed, still works, and its
// plaintext is found nowhere in the database's files.
func TestPlaintextKeysAreSealedOnUpgrade(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "pb.db")
	init, err := os.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	old := account.NewKey("800000000002", time.Now())
	pool, err := sqlitestore.OpenPool(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`,
		string(init),
		`INSERT INTO schema_migrations VALUES (1, '2025-01-01T00:00:00Z')`,
		`INSERT INTO accounts (uin, role, created_at) VALUES ('800000000002', 'end-customer', '2025-01-01T00:00:00Z')`,
		`INSERT INTO api_keys (secret_id, uin, secret_key, created_at) VALUES ('` + old.SecretID + `', '800000000002', '` + old.SecretKey + `', '2025-01-01T00:00:00Z')`,
	} {
		if _, err := pool.ExecContext(ctx, q); err != nil {
			t.Fatalf("%.60s: %v", q, err)
		}
	}
	pool.Close()
	if b, _ := os.ReadFile(path); !bytes.Contains(b, []byte(old.SecretKey)) {
		t.Fatal("the plaintext key is not in the database file before the upgrade: this test would prove nothing")
	}

	db, err := sqlitestore.Open(ctx, path, &sqlitestore.Options{Sealer: storetest.NewSealer(t)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.GetKey(ctx, old.SecretID)
	if err != nil || got.SecretKey != old.SecretKey || !got.Active(time.Now()) {
		t.Fatalf("the upgraded key: %+v, %v", got, err)
	}
	raw, err := db.RawSecretKey(ctx, old.SecretID)
	if err != nil || !account.IsSealed(raw) || strings.Contains(raw, old.SecretKey) {
		t.Fatalf("stored after the upgrade: %q, %v", raw, err)
	}
	db.Close()
	files, _ := filepath.Glob(path + "*")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(old.SecretKey)) {
			t.Errorf("%s still holds the plaintext SecretKey after sealing", filepath.Base(f))
		}
	}
}
