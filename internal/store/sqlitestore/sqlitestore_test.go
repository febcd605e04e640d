package sqlitestore_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
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

// Rows travel from SQLite joined by NUL bytes; a stored field holding one
// (possible only for data imported before imports refused them) must fail
// the read, not shift the columns of a bill file.
func TestLineItemsRefuseAStoredNUL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "pb.db"), &sqlitestore.Options{NoReadCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	good, bad := storetest.Row("1", "800000000002", "2024-12-01 00:00:00"), storetest.Row("2", "800000000002", "2024-12-02 00:00:00")
	bad.InstanceName = "disk\x00one"
	if _, err := db.ImportRows(ctx, func(yield func(ledger.Row, error) bool) {
		_ = yield(good, nil) && yield(bad, nil)
	}); err != nil {
		t.Fatal(err)
	}
	var got []string
	var readErr error
	for r, err := range db.LineItems(ctx, ledger.Query{OwnerUIN: "800000000002", Month: good.BillMonth}) {
		if err != nil {
			readErr = err
			break
		}
		got = append(got, r.Id)
	}
	if len(got) != 1 || got[0] != "1" || readErr == nil || !strings.Contains(readErr.Error(), "NUL byte") {
		t.Fatalf("read %v then %v; want line item 1, then an error about the NUL byte", got, readErr)
	}
}

// The job queue's connection keeps a small page cache: while a long build
// reads, that cache fills to its bound, so its bound is how much a build's
// memory grows with the build's length (see queueCacheKiB).
func TestQueuePoolKeepsASmallPageCache(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "pb.db")
	cacheKiB := func(open func() (*sql.DB, error)) int {
		db, err := open()
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var v int
		if err := db.QueryRow(`PRAGMA cache_size`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return -v // a negative cache_size is KiB
	}
	queue := cacheKiB(func() (*sql.DB, error) { return sqlitestore.OpenQueuePool(path) })
	store := cacheKiB(func() (*sql.DB, error) { return sqlitestore.OpenPool(path, 1) })
	if queue <= 0 || queue > 512 || queue >= store {
		t.Fatalf("queue connection's page cache is %d KiB (store's: %d KiB); want at most 512 KiB", queue, store)
	}
}
