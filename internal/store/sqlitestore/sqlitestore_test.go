package sqlitestore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/partnerbill/partnerbill/internal/ledger"
	"github.com/partnerbill/partnerbill/internal/store"
	"github.com/partnerbill/partnerbill/internal/store/sqlitestore"
	"github.com/partnerbill/partnerbill/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "pb.db"), &sqlitestore.Options{Sealer: storetest.NewSealer(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

func TestReopenKeepsDataAndMigratesOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pb.db")
	db, err := sqlitestore.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ImportRows(ctx, func(yield func(ledger.Row, error) bool) {
		yield(storetest.Row("1", "800000000002", "2024-12-01 00:00:00"), nil)
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = sqlitestore.Open(ctx, path, nil)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	v, err := db.LedgerVersion(ctx, "800000000002", storetest.Row("1", "", "").BillMonth)
	if err != nil || v != 1 {
		t.Fatalf("after reopen: version %d, err %v; want 1", v, err)
	}
}
