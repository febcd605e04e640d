package pgstore_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/partnerbill/partnerbill/internal/account"
	"github.com/partnerbill/partnerbill/internal/store/pgstore"
	"github.com/partnerbill/partnerbill/internal/store/storetest"
	"github.com/partnerbill/partnerbill/internal/testenv"
)

// TestReplicaWithAnotherMasterKeyIsRefused starts a second "replica" on
// the same database with another master key, with and without
// migrations: it is refused at Open with ErrWrongMasterKey, so it never
// answers requests it cannot authenticate.
func TestReplicaWithAnotherMasterKeyIsRefused(t *testing.T) {
	t.Parallel()
	u := testenv.PostgresURL(t)
	schema := newSchema(t, u, "")
	ctx := context.Background()
	right := storetest.NewSealer(t)
	db := open(t, u, schema, &pgstore.Options{Sealer: right})
	if err := db.CreateAccount(ctx, account.Account{UIN: "800000000002", Role: account.RoleEndCustomer}); err != nil {
		t.Fatal(err)
	}
	k := account.NewKey("800000000002", time.Now())
	if err := db.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	for _, noMigrate := range []bool{false, true} {
		other, err := pgstore.Open(ctx, u, &pgstore.Options{Schema: schema, Sealer: storetest.NewSealer(t), NoMigrate: noMigrate})
		if err == nil {
			other.Close()
		}
		if !errors.Is(err, account.ErrWrongMasterKey) {
			t.Errorf("NoMigrate %v: open with another master key: err = %v, want ErrWrongMasterKey", noMigrate, err)
		}
	}
	again := open(t, u, schema, &pgstore.Options{Sealer: right, NoMigrate: true})
	if got, err := again.GetKey(ctx, k.SecretID); err != nil || got.SecretKey != k.SecretKey {
		t.Fatalf("a replica with the right key: %v", err)
	}
}

// TestPlaintextKeysAreSealedOnUpgrade builds a schema as partnerbill
// stored it before sealing (migration 1 only, a plaintext SecretKey), then
// opens it with a master key: the column holds the sealed key, which still
// works.
func TestPlaintextKeysAreSealedOnUpgrade(t *testing.T) {
	t.Parallel()
	u := testenv.PostgresURL(t)
	schema := newSchema(t, u, "")
	ctx := context.Background()
	init, err := os.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	old := account.NewKey("800000000002", time.Now())
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	q := pgx.Identifier{schema}.Sanitize()
	for _, s := range []string{
		`CREATE SCHEMA ` + q,
		`SET search_path = ` + q,
		`CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)`,
		string(init),
		`INSERT INTO schema_migrations VALUES (1, now())`,
		`INSERT INTO accounts (uin, role, created_at) VALUES ('800000000002', 'end-customer', now())`,
		`INSERT INTO api_keys (secret_id, uin, secret_key, created_at) VALUES ('` + old.SecretID + `', '800000000002', '` + old.SecretKey + `', now())`,
	} {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%.60s: %v", s, err)
		}
	}

	db := open(t, u, schema, nil)
	got, err := db.GetKey(ctx, old.SecretID)
	if err != nil || got.SecretKey != old.SecretKey || !got.Active(time.Now()) {
		t.Fatalf("the upgraded key: %+v, %v", got, err)
	}
	var raw string
	if err := conn.QueryRow(ctx, `SELECT sealed_secret_key FROM api_keys WHERE secret_id = $1`, old.SecretID).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if !account.IsSealed(raw) || strings.Contains(raw, old.SecretKey) {
		t.Fatalf("stored after the upgrade: %q", raw)
	}
}
