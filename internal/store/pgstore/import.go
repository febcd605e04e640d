package pgstore

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/partnerbill/partnerbill/internal/ledger"
	"github.com/partnerbill/partnerbill/internal/store"
)

// stagingCols are the columns an import COPYs into its staging table: the
// row's position in the file, then the line item. COPY quotes the names it
// is given, so they are spelled in lower case, as PostgreSQL folded them.
var stagingCols = func() []string {
	cols := []string{"ord"}
	for _, f := range lineItemFields {
		cols = append(cols, strings.ToLower(f))
	}
	return cols
}()

// Column lists of the import's statements, with a table alias.
var (
	stagedCols = prefixed("s.", lineItemFields)
	// ledgerFieldCols and stagedFieldCols leave BillMonth out: the conflict
	// check compares it on its own, with the month line_item_ids records.
	ledgerFieldCols = prefixed("l.", ledger.Fields[:])
	stagedFieldCols = prefixed("s.", ledger.Fields[:])
	ledgerOrEmpty   = func() string {
		var b strings.Builder
		for i, f := range lineItemFields {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "coalesce(l.%s, '')", f)
		}
		return b.String()
	}()
)

func prefixed(alias string, fields []string) string {
	var b strings.Builder
	for i, f := range fields {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(alias + f)
	}
	return b.String()
}

// ImportRows implements store.Store in one transaction and a handful of
// set-based statements, whatever the number of rows:
//
//  1. COPY streams the rows into a temporary staging table (dropped at
//     commit or rollback), pulling them from rows one at a time: memory
//     stays flat and there is no round trip per row. An error from rows
//     aborts the COPY and the transaction.
//  2. The first occurrence of each Id in the file claims the Id in
//     line_item_ids (INSERT ... ON CONFLICT DO NOTHING, in Id order). Ids
//     it claims are new to the ledger; the claim waits for a concurrent
//     import holding the same new Id to finish, so the two never both add
//     it.
//  3. Each month with new rows gets its partition if it has none yet.
//  4. One INSERT ... SELECT adds the claimed rows to line_items, and bumps
//     the ledger version of every (owner, month) that gained rows.
//  5. Every other row (an Id already in the ledger, or repeated in the
//     file) must equal what the ledger now holds under its Id; the first
//     one in file order that does not fails the import with the
//     store.SameLineItem message, as the SQLite store's row-by-row import
//     would.
//
// Any error rolls back everything, new partitions included.
func (d *DB) ImportRows(ctx context.Context, rows iter.Seq2[ledger.Row, error]) (store.ImportStats, error) {
	var st store.ImportStats
	err := d.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		st, err = d.importRows(ctx, tx, rows)
		return err
	})
	if err != nil {
		return store.ImportStats{}, err
	}
	return st, nil
}

func (d *DB) importRows(ctx context.Context, tx pgx.Tx, rows iter.Seq2[ledger.Row, error]) (store.ImportStats, error) {
	var st store.ImportStats
	// The sort and hash joins over the staged file fit in memory up to
	// some hundred thousand rows instead of spilling at the default 4MB.
	// SET LOCAL ends with the transaction.
	if _, err := tx.Exec(ctx, `SET LOCAL work_mem = '64MB'`); err != nil {
		return st, fmt.Errorf("import: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE pb_import (ord BIGINT NOT NULL, LIKE line_items) ON COMMIT DROP`); err != nil {
		return st, fmt.Errorf("import: create staging table: %w", err)
	}
	src := newRowSource(rows)
	defer src.stop()
	n, err := tx.CopyFrom(ctx, pgx.Identifier{"pb_import"}, stagingCols, src)
	if src.err != nil {
		// pgx turns it into a CopyFail message; return the reader's own.
		return st, src.err
	}
	if err != nil {
		return st, fmt.Errorf("import: copy rows: %w", err)
	}
	st.Rows = n
	if n == 0 {
		return st, nil
	}
	// Temporary tables are never analyzed automatically; without
	// statistics the planner would guess the file's size.
	if _, err := tx.Exec(ctx, `ANALYZE pb_import`); err != nil {
		return st, fmt.Errorf("import: %w", err)
	}

	// pb_new lists the staged rows (by ord) that are new to the ledger.
	// Claims go in Id order, so that imports sharing new Ids lock them in
	// the same order and cannot deadlock.
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE pb_new (ord BIGINT NOT NULL) ON COMMIT DROP`); err != nil {
		return st, fmt.Errorf("import: %w", err)
	}
	tag, err := tx.Exec(ctx, `
		WITH firsts AS (
			SELECT DISTINCT ON (Id) ord, Id, BillMonth, OwnerAccountId, TransactionTime
			FROM pb_import ORDER BY Id, ord
		), claimed AS (
			INSERT INTO line_item_ids (Id, BillMonth, OwnerAccountId, TransactionTime)
			SELECT Id, BillMonth, OwnerAccountId, TransactionTime FROM firsts ORDER BY Id
			ON CONFLICT (Id) DO NOTHING
			RETURNING Id
		)
		INSERT INTO pb_new (ord) SELECT f.ord FROM firsts f JOIN claimed c ON c.Id = f.Id`)
	if err != nil {
		return st, fmt.Errorf("import: claim Ids: %w", err)
	}
	st.Added = tag.RowsAffected()
	st.Unchanged = st.Rows - st.Added
	if _, err := tx.Exec(ctx, `ANALYZE pb_new`); err != nil {
		return st, fmt.Errorf("import: %w", err)
	}

	if st.Added > 0 {
		if err := d.ensurePartitions(ctx, tx, src.months); err != nil {
			return st, err
		}
		// Versions are bumped in (owner, month) order, so that imports
		// sharing owners and months lock their counters in the same order.
		if _, err := tx.Exec(ctx, `
			WITH added AS (
				INSERT INTO line_items (`+lineItemCols+`)
				SELECT `+stagedCols+` FROM pb_import s JOIN pb_new n ON n.ord = s.ord
				RETURNING OwnerAccountId, BillMonth
			)
			INSERT INTO ledger_versions (owner_uin, bill_month, version)
			SELECT DISTINCT OwnerAccountId, BillMonth, 1 FROM added ORDER BY 1, 2
			ON CONFLICT (owner_uin, bill_month) DO UPDATE SET version = ledger_versions.version + 1`); err != nil {
			return st, fmt.Errorf("import: add line items: %w", err)
		}
	}
	if st.Unchanged > 0 {
		if err := checkUnchanged(ctx, tx, src.monthList()); err != nil {
			return st, err
		}
	}
	return st, nil
}

// checkUnchanged finds the first staged row, in file order, that was not
// added and differs from the ledger's line item with its Id, and returns
// the ErrConflict that names the field, in a RowError with its position. Only the months of the file are
// searched (the join to line_items is pruned to their partitions): a row
// recorded under another month conflicts on BillMonth alone.
func checkUnchanged(ctx context.Context, tx pgx.Tx, months []string) error {
	q := `
		SELECT s.ord, ` + stagedCols + `, i.BillMonth, l.Id IS NOT NULL, ` + ledgerOrEmpty + `
		FROM pb_import s
		JOIN line_item_ids i ON i.Id = s.Id
		LEFT JOIN line_items l ON l.BillMonth = ANY ($1) AND l.BillMonth = i.BillMonth
			AND l.OwnerAccountId = i.OwnerAccountId AND l.TransactionTime = i.TransactionTime AND l.Id = i.Id
		WHERE NOT EXISTS (SELECT 1 FROM pb_new n WHERE n.ord = s.ord)
			AND (i.BillMonth <> s.BillMonth OR l.Id IS NULL OR (` + ledgerFieldCols + `) <> (` + stagedFieldCols + `))
		ORDER BY s.ord
		LIMIT 1`
	var staged, stored [len(ledger.Fields) + 1]string
	var recordedMonth string
	var found bool
	var ord int64
	dest := make([]any, 0, 2*len(staged)+3)
	dest = append(dest, &ord)
	for i := range staged {
		dest = append(dest, &staged[i])
	}
	dest = append(dest, &recordedMonth, &found)
	for i := range stored {
		dest = append(dest, &stored[i])
	}
	err := tx.QueryRow(ctx, q, months).Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("import: compare with the ledger: %w", err)
	}
	newRow, err := store.RowFromValues(staged)
	if err != nil {
		return err
	}
	if recordedMonth != staged[len(ledger.Fields)] {
		old := newRow
		if old.BillMonth, err = ledger.ParseMonth(recordedMonth); err != nil {
			return fmt.Errorf("line item Id %s: recorded month: %w", newRow.Id, err)
		}
		return &store.RowError{Row: ord, Err: store.SameLineItem(old, newRow)}
	}
	if !found {
		return &store.RowError{Row: ord, Err: fmt.Errorf("line item Id %s: %w: line_item_ids records it in %s, but that month's partition does not hold it (archived without deleting its Ids?)",
			newRow.Id, store.ErrConflict, recordedMonth)}
	}
	old, err := store.RowFromValues(stored)
	if err != nil {
		return err
	}
	if err := store.SameLineItem(old, newRow); err != nil {
		return &store.RowError{Row: ord, Err: err}
	}
	return fmt.Errorf("line item Id %s: import: PostgreSQL and Go disagree on whether it changed", newRow.Id)
}

// partitionName returns the name of month's partition of line_items, e.g.
// line_items_2024_12, or an error if month is not YYYY-MM.
func partitionName(month string) (string, error) {
	if _, err := ledger.ParseMonth(month); err != nil {
		return "", err
	}
	return "line_items_" + strings.Replace(month, "-", "_", 1), nil
}

// ensurePartitions creates the partitions that months (YYYY-MM → Id of a
// row in it, for messages) lack, inside the import's transaction, so that
// they vanish if the import fails.
//
// A partition is created as a plain table and then attached: ATTACH
// PARTITION takes a SHARE UPDATE EXCLUSIVE lock on line_items, which lets
// other imports and builds read and write other months while this
// transaction runs on; CREATE TABLE ... PARTITION OF would hold an ACCESS
// EXCLUSIVE lock on line_items until commit, stopping every build. The
// table is empty when attached, so attaching scans nothing and builds its
// (empty) indexes at once.
//
// Two imports of the same new month serialize on a transaction-level
// advisory lock keyed on the schema and the month: the second waits until
// the first commits, then finds the partition. The locks of all missing
// months are taken in month order before anything is created, so imports
// of overlapping sets of new months cannot deadlock.
func (d *DB) ensurePartitions(ctx context.Context, tx pgx.Tx, months map[string]string) error {
	var missing []string
	for _, m := range monthStrings(months) {
		name, err := partitionName(m)
		if err != nil {
			return fmt.Errorf("line item Id %s: BillMonth cannot name a partition: %w", months[m], err)
		}
		ok, err := partitionExists(ctx, tx, name)
		if err != nil {
			return err
		}
		if !ok {
			missing = append(missing, m)
		}
	}
	for _, m := range missing {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey("partition", d.lockScope+"\x00"+m)); err != nil {
			return fmt.Errorf("import: lock partition %s: %w", m, err)
		}
	}
	for _, m := range missing {
		name, _ := partitionName(m)
		ok, err := partitionExists(ctx, tx, name)
		if err != nil {
			return err
		}
		if ok {
			continue // a concurrent import created it while we waited
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE `+quoteIdent(name)+` (LIKE line_items)`); err != nil {
			return fmt.Errorf("import: create partition %s: %w", name, err)
		}
		// m passed partitionName's check, so it is safe as a literal.
		if _, err := tx.Exec(ctx, `ALTER TABLE line_items ATTACH PARTITION `+quoteIdent(name)+` FOR VALUES IN ('`+m+`')`); err != nil {
			return fmt.Errorf("import: attach partition %s: %w", name, err)
		}
	}
	return nil
}

// partitionExists reports whether the partition called name exists, and
// refuses a table of that name that is not a partition of line_items (a
// detached month kept around) rather than fail later on insert.
func partitionExists(ctx context.Context, tx pgx.Tx, name string) (bool, error) {
	var exists, attached bool
	err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL,
		EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass($1) AND inhparent = 'line_items'::regclass)`,
		quoteIdent(name)).Scan(&exists, &attached)
	if err != nil {
		return false, fmt.Errorf("import: look up partition %s: %w", name, err)
	}
	if exists && !attached {
		return false, fmt.Errorf("import: table %s exists but is not a partition of line_items (a detached month?): drop or rename it to import that month again", name)
	}
	return exists, nil
}

func monthStrings(months map[string]string) []string {
	out := make([]string, 0, len(months))
	for m := range months {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// rowSource feeds COPY from an iter.Seq2 of rows, one row per Next, and
// notes the months it sees.
type rowSource struct {
	next   func() (ledger.Row, error, bool)
	stop   func()
	ord    int64
	vals   []any
	months map[string]string // YYYY-MM → Id of its first row
	err    error
}

func newRowSource(rows iter.Seq2[ledger.Row, error]) *rowSource {
	next, stop := iter.Pull2(rows)
	return &rowSource{next: next, stop: stop, vals: make([]any, len(stagingCols)), months: map[string]string{}}
}

// Next implements pgx.CopyFromSource.
func (s *rowSource) Next() bool {
	r, err, ok := s.next()
	if !ok {
		return false
	}
	if err != nil {
		s.err = err
		return false
	}
	s.ord++
	month := r.BillMonth.String()
	if _, ok := s.months[month]; !ok {
		s.months[month] = r.Id
	}
	s.vals[0] = s.ord
	for i, v := range r.Values() {
		s.vals[i+1] = v
	}
	s.vals[len(s.vals)-1] = month
	return true
}

// Values implements pgx.CopyFromSource. pgx encodes the values before it
// calls Next again, so one slice serves every row.
func (s *rowSource) Values() ([]any, error) { return s.vals, nil }

// Err implements pgx.CopyFromSource.
func (s *rowSource) Err() error { return s.err }

// monthList returns the months seen, as YYYY-MM, sorted.
func (s *rowSource) monthList() []string { return monthStrings(s.months) }
