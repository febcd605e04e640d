package sqlitestore

import (
	"context"

	"github.com/partnerbill/partnerbill/internal/store"
)

// RawSecretKey implements storetest.RawKeys: the column as stored.
func (d *DB) RawSecretKey(ctx context.Context, secretID string) (string, error) {
	var v string
	err := d.db.QueryRowContext(ctx, `SELECT sealed_secret_key FROM api_keys WHERE secret_id = ?`, secretID).Scan(&v)
	return v, translate(err)
}

// SetRawSecretKey implements storetest.RawKeys.
func (d *DB) SetRawSecretKey(ctx context.Context, secretID, raw string) error {
	res, err := d.db.ExecContext(ctx, `UPDATE api_keys SET sealed_secret_key = ? WHERE secret_id = ?`, raw, secretID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return store.ErrNotFound
	}
	return nil
}

// CacheHits counts reads answered from the read cache.
func (d *DB) CacheHits() int64 {
	if d.cache == nil {
		return 0
	}
	return d.cache.hits.Load()
}

// CacheSizeKiB reads PRAGMA cache_size on a pooled connection (the only
// one, for a store opened with MaxConns 1), as KiB.
func (d *DB) CacheSizeKiB(ctx context.Context) (int, error) {
	var v int
	err := d.db.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&v)
	return -v, err
}
