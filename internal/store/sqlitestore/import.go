package sqlitestore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"

	"github.com/partnerbill/partnerbill/internal/ledger"
	"github.com/partnerbill/partnerbill/internal/store"
)

// An import first copies the file into a temporary table, then moves the
// rows into line_items with one INSERT ... SELECT in the primary key's
// order, and only then looks at conflicts.
//
// Inserted in file order, each row lands on a random page of the
// clustered table: once the table outgrows the page cache, every insert
// dirties a page that is soon spilled to the write-ahead log and later
// dirtied again, so a large import wrote its pages many times over. In key
// order the table is filled page after page, each written once. The
// staging table is appended to in file order, and SQLite's sorter (bounded
// by the import's page cache, spilling to temporary files) puts the rows
// in order. The temporary table and the sorter's files live in SQLite's
// temporary directory (SQLITE_TMPDIR or TMPDIR, else /var/tmp or /tmp),
// which needs about as much free space as the file being imported.
//
// Most imports add only new line items. The fast path inserts every
// staged row with ON CONFLICT (Id) DO NOTHING inside a savepoint: if every
// row went in, no Id was already in the ledger and none repeats in the
// file, which is the whole check. Otherwise the savepoint is rolled back
// and the careful path sorts the rows out (importChecked).

// stageBatch is how many rows one INSERT into the staging table carries.
const stageBatch = 32

// ImportRows implements store.Store. The whole import is one write
// transaction, on a connection of its own: its page cache is raised for
// the import and set back on that connection afterwards, also when the
// transaction has ended early (a cancelled context rolls it back, after
// which nothing more can run inside it).
func (d *DB) ImportRows(ctx context.Context, rows iter.Seq2[ledger.Row, error]) (store.ImportStats, error) {
	// A large page cache while the import lasts. It is main's cache, which
	// also bounds the memory of SQLite's sorter; the staging table keeps
	// the temporary database's own small cache (it is only appended to).
	conn, release, err := d.connWithCache(ctx, importCacheKiB)
	if err != nil {
		return store.ImportStats{}, translate(err)
	}
	defer release()
	var st store.ImportStats
	err = inTx(ctx, conn, func(tx *sql.Tx) error {
		st, err = importRows(ctx, tx, rows)
		return err
	})
	if err != nil {
		return store.ImportStats{}, err
	}
	return st, nil
}

func importRows(ctx context.Context, tx *sql.Tx, rows iter.Seq2[ledger.Row, error]) (store.ImportStats, error) {
	var st store.ImportStats
	if _, err := tx.ExecContext(ctx, `DROP TABLE IF EXISTS temp.import_rows`); err != nil {
		return st, err
	}
	defs := make([]string, len(lineItemColumns))
	for i, c := range lineItemColumns {
		defs[i] = c + " TEXT NOT NULL"
	}
	if _, err := tx.ExecContext(ctx, `CREATE TEMP TABLE import_rows (ord INTEGER PRIMARY KEY, `+strings.Join(defs, ", ")+`)`); err != nil {
		return st, fmt.Errorf("import: create staging table: %w", err)
	}
	defer tx.ExecContext(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS temp.import_rows`)

	touched, err := stage(ctx, tx, rows, &st)
	if err != nil || st.Rows == 0 {
		return st, err
	}

	// The fast path: everything is new.
	if _, err := tx.ExecContext(ctx, `SAVEPOINT import_all_new`); err != nil {
		return st, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO line_items (`+lineItemCols+`)
		SELECT `+lineItemCols+` FROM temp.import_rows WHERE true
		ORDER BY OwnerAccountId, BillMonth, TransactionTime, Id, ord
		ON CONFLICT (Id) DO NOTHING`)
	if err != nil {
		return st, fmt.Errorf("import: add line items: %w", err)
	}
	added, err := res.RowsAffected()
	if err != nil {
		return st, err
	}
	if added == st.Rows {
		if _, err := tx.ExecContext(ctx, `RELEASE import_all_new`); err != nil {
			return st, err
		}
		st.Added = added
		return st, bumpVersions(ctx, tx, touched)
	}
	for _, stmt := range []string{`ROLLBACK TO import_all_new`, `RELEASE import_all_new`} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return st, err
		}
	}
	return importChecked(ctx, tx, st)
}

// stage copies rows into temp.import_rows, numbered from 1 in their
// order, and returns the (owner, bill month) pairs they belong to.
func stage(ctx context.Context, tx *sql.Tx, rows iter.Seq2[ledger.Row, error], st *store.ImportStats) ([][2]string, error) {
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(lineItemColumns)+1), ", ") + ")"
	insert := func(n int) string {
		return `INSERT INTO temp.import_rows (ord, ` + lineItemCols + `) VALUES ` + strings.TrimSuffix(strings.Repeat(one+", ", n), ", ")
	}
	batch, err := tx.PrepareContext(ctx, insert(stageBatch))
	if err != nil {
		return nil, err
	}
	defer batch.Close()
	perRow := len(lineItemColumns) + 1
	args := make([]any, 0, stageBatch*perRow)
	seen := map[[2]string]bool{}
	for r, err := range rows {
		if err != nil {
			return nil, err
		}
		st.Rows++
		args = append(args, st.Rows)
		for _, v := range r.Values() {
			args = append(args, v)
		}
		month := r.BillMonth.String()
		args = append(args, month)
		seen[[2]string{r.OwnerAccountId, month}] = true
		if len(args) == cap(args) {
			if _, err := batch.ExecContext(ctx, args...); err != nil {
				return nil, fmt.Errorf("import: stage rows: %w", err)
			}
			args = args[:0]
		}
	}
	if len(args) > 0 {
		if _, err := tx.ExecContext(ctx, insert(len(args)/perRow), args...); err != nil {
			return nil, fmt.Errorf("import: stage rows: %w", err)
		}
	}
	return slices.Collect(maps.Keys(seen)), nil
}

// bumpVersions moves the ledger version of each (owner, bill month) on.
func bumpVersions(ctx context.Context, tx *sql.Tx, touched [][2]string) error {
	slices.SortFunc(touched, func(a, b [2]string) int {
		return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1]))
	})
	for _, k := range touched {
		if _, err := tx.ExecContext(ctx, `INSERT INTO ledger_versions (owner_uin, bill_month, version) VALUES (?, ?, 1)
			ON CONFLICT (owner_uin, bill_month) DO UPDATE SET version = version + 1`, k[0], k[1]); err != nil {
			return err
		}
	}
	return nil
}

// importChecked imports the staged rows when some Id is already in the
// ledger or repeats in the file. A row counts as added when its Id is new
// to the ledger and it is the Id's first row in the file; every other row
// is compared with the row its Id already stands for (the ledger's, else
// the file's first) and must equal it: the first one in file order that
// does not fails the import, naming its position. That is what importing
// the rows one by one would do, in bulk.
func importChecked(ctx context.Context, tx *sql.Tx, st store.ImportStats) (store.ImportStats, error) {
	if _, err := tx.ExecContext(ctx, `CREATE INDEX temp.import_rows_id ON import_rows (Id, ord)`); err != nil {
		return st, fmt.Errorf("import: index staged Ids: %w", err)
	}
	// For each staged row, the row it must equal, if any: the ledger's with
	// its Id, else the file's first with its Id when that is an earlier one.
	const refs = `
		FROM temp.import_rows s
		LEFT JOIN line_items l ON l.Id = s.Id
		LEFT JOIN temp.import_rows f ON l.Id IS NULL AND f.ord = (SELECT min(ord) FROM temp.import_rows WHERE Id = s.Id) AND f.ord < s.ord`
	// Rows are compared as one joined value each.
	joined := func(alias string) string { return joinedValue(prefixedCols(alias)) }
	// The reference's columns: the ledger's row or the file's first.
	refCols := make([]string, len(lineItemColumns))
	for i, c := range lineItemColumns {
		refCols[i] = "coalesce(l." + c + ", f." + c + ")"
	}
	// The first row that differs from its reference.
	q := `SELECT s.ord, ` + prefixedCols("s") + `, ` + strings.Join(refCols, ", ") + refs + `
		WHERE (l.Id IS NOT NULL AND ` + joined("l") + ` <> ` + joined("s") + `)
		   OR (f.ord IS NOT NULL AND ` + joined("f") + ` <> ` + joined("s") + `)
		ORDER BY s.ord LIMIT 1`
	var ord int64
	var staged, ref [len(ledger.Fields) + 1]string
	dest := []any{&ord}
	for i := range staged {
		dest = append(dest, &staged[i])
	}
	for i := range ref {
		dest = append(dest, &ref[i])
	}
	switch err := tx.QueryRowContext(ctx, q).Scan(dest...); {
	case err == nil:
		newRow, err := store.RowFromValues(staged)
		if err != nil {
			return st, err
		}
		old, err := store.RowFromValues(ref)
		if err != nil {
			return st, err
		}
		if err := store.SameLineItem(old, newRow); err != nil {
			return st, &store.RowError{Row: ord, Err: err}
		}
		return st, fmt.Errorf("line item Id %s: import: SQLite and Go disagree on whether it changed", newRow.Id)
	case !errors.Is(err, sql.ErrNoRows):
		return st, fmt.Errorf("import: compare with the ledger: %w", err)
	}

	// No conflict. The (owner, month) pairs that gain rows, read before the
	// rows go in.
	newRows := `FROM temp.import_rows s
		WHERE NOT EXISTS (SELECT 1 FROM line_items l WHERE l.Id = s.Id)
		  AND s.ord = (SELECT min(ord) FROM temp.import_rows WHERE Id = s.Id)`
	pairs, err := tx.QueryContext(ctx, `SELECT DISTINCT s.OwnerAccountId, s.BillMonth `+newRows)
	if err != nil {
		return st, err
	}
	var touched [][2]string
	for pairs.Next() {
		var k [2]string
		if err := pairs.Scan(&k[0], &k[1]); err != nil {
			pairs.Close()
			return st, err
		}
		touched = append(touched, k)
	}
	if err := pairs.Close(); err != nil {
		return st, err
	}
	if err := pairs.Err(); err != nil {
		return st, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO line_items (`+lineItemCols+`)
		SELECT `+prefixedCols("s")+` `+newRows+`
		ORDER BY s.OwnerAccountId, s.BillMonth, s.TransactionTime, s.Id`)
	if err != nil {
		return st, fmt.Errorf("import: add line items: %w", err)
	}
	if st.Added, err = res.RowsAffected(); err != nil {
		return st, err
	}
	st.Unchanged = st.Rows - st.Added
	return st, bumpVersions(ctx, tx, touched)
}

// prefixedCols is lineItemCols with each column qualified by alias.
func prefixedCols(alias string) string {
	cols := make([]string, len(lineItemColumns))
	for i, c := range lineItemColumns {
		cols[i] = alias + "." + c
	}
	return strings.Join(cols, ", ")
}
