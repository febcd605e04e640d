package sqlitestore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/partnerbill/partnerbill/internal/ledger"
	"github.com/partnerbill/partnerbill/internal/store/sqlitestore"
)

// BenchmarkImportRows measures ImportRows on fresh databases, in rows per
// second, with synthetic line items generated on the fly.
func BenchmarkImportRows(b *testing.B) {
	const rows = 20_000
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		db, err := sqlitestore.Open(ctx, filepath.Join(b.TempDir(), "pb.db"), nil)
		if err != nil {
			b.Fatal(err)
		}
		_, gen, err := ledger.Synth(ledger.SynthOptions{Customers: 1, RowsPerCustomer: rows, Month: ledger.Month{Year: 2024, Mon: 12}, Seed: int64(i)})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := db.ImportRows(ctx, func(yield func(ledger.Row, error) bool) {
			for r := range gen {
				if !yield(r, nil) {
					return
				}
			}
		}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		db.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}
