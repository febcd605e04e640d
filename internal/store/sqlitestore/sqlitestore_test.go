package sqlitestore_test

import (
	"context"
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

// Every connection's page cache counts toward one budget that a long
// build's scan grows into (see defaultCacheKiB), so connections keep small
// caches and a build raises its own connection's only while it reads,
// also when its reader stops early.
func TestPageCachesStaySmallBetweenUses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pb.db")
	db := openStore(t, path, &sqlitestore.Options{MaxConns: 1, NoReadCache: true})
	if _, err := db.ImportRows(ctx, func(yield func(ledger.Row, error) bool) {
		_ = yield(storetest.Row("1", "800000000002", "2024-12-01 00:00:00"), nil) &&
			yield(storetest.Row("2", "800000000002", "2024-12-02 00:00:00"), nil)
	}); err != nil {
		t.Fatal(err)
	}
	const small = 512 // KiB
	check := func(when string) {
		t.Helper()
		if kib, err := db.CacheSizeKiB(ctx); err != nil || kib <= 0 || kib > small {
			t.Fatalf("%s: the pooled connection's page cache is %d KiB (%v); want at most %d KiB", when, kib, err, small)
		}
	}
	check("after an import")
	month := storetest.Row("1", "", "").BillMonth
	for _, order := range []ledger.Order{ledger.OrderByTime, ledger.OrderByInstance} {
		n := 0
		for _, err := range db.LineItems(ctx, ledger.Query{OwnerUIN: "800000000002", Month: month, Order: order}) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n != 2 {
			t.Fatalf("read %d rows, want 2", n)
		}
		check("after a build's read")
		for _, err := range db.LineItems(ctx, ledger.Query{OwnerUIN: "800000000002", Month: month, Order: order}) {
			if err != nil {
				t.Fatal(err)
			}
			break
		}
		check("after a build's read that stopped early")
	}
	queue, err := sqlitestore.OpenQueuePool(path)
	if err != nil {
		t.Fatal(err)
	}
	defer queue.Close()
	var v int
	if err := queue.QueryRow(`PRAGMA cache_size`).Scan(&v); err != nil || -v <= 0 || -v > small {
		t.Fatalf("the job queue's page cache is %d KiB (%v); want at most %d KiB", -v, err, small)
	}
}
