package pgstore

import (
	"context"

	"github.com/partnerbill/partnerbill/internal/store"
)

// RawSecretKey implements storetest.RawKeys: the column as stored.
func (d *DB) RawSecretKey(ctx context.Context, secretID string) (string, error) {
	var v string
	err := d.pool.QueryRow(ctx, `SELECT sealed_secret_key FROM api_keys WHERE secret_id = $1`, secretID).Scan(&v)
	return v, translate(err)
}

// SetRawSecretKey implements storetest.RawKeys.
func (d *DB) SetRawSecretKey(ctx context.Context, secretID, raw string) error {
	tag, err := d.pool.Exec(ctx, `UPDATE api_keys SET sealed_secret_key = $1 WHERE secret_id = $2`, raw, secretID)
	if err != nil {
		return err
	}
	if tag.RowsAffected() != 1 {
		return store.ErrNotFound
	}
	return nil
}
