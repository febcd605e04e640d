package sqlitestore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/partnerbill/partnerbill/internal/ledger"
	"github.com/partnerbill/partnerbill/internal/store/sqlitestore"
	"github.com/partnerbill/partnerbill/internal/store/storetest"
)

// A cancelled import ends its transaction early; the connection it ran on
// must still get its page cache set back, or it keeps the import's size in
// the pool for good. Then the next import works as usual.
func TestCancelledImportSetsTheCacheBack(t *testing.T) {
	t.Parallel()
	db := openStore(t, filepath.Join(t.TempDir(), "pb.db"), &sqlitestore.Options{MaxConns: 1, Sealer: storetest.NewSealer(t)})
	ctx := context.Background()
	before, err := db.CacheSizeKiB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	_, err = db.ImportRows(cctx, func(yield func(ledger.Row, error) bool) {
		_ = yield(storetest.Row("1", "800000000002", "2024-12-01 00:00:00"), nil)
		cancel()
		// database/sql rolls the transaction back on a goroutine of its own
		// when the context ends; give it the time to, so that the import
		// meets a finished transaction (a slower rollback only makes this
		// test weaker, never wrong).
		time.Sleep(200 * time.Millisecond)
		_ = yield(storetest.Row("2", "800000000002", "2024-12-02 00:00:00"), nil)
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled import: err = %v, want context.Canceled", err)
	}
	if after, err := db.CacheSizeKiB(ctx); err != nil || after != before {
		t.Fatalf("after a cancelled import the connection's cache is %d KiB (%v); want %d KiB as before", after, err, before)
	}
	st, err := db.ImportRows(ctx, func(yield func(ledger.Row, error) bool) {
		_ = yield(storetest.Row("1", "800000000002", "2024-12-01 00:00:00"), nil)
	})
	if err != nil || st.Added != 1 {
		t.Fatalf("import after the cancelled one: %+v, %v", st, err)
	}
}
