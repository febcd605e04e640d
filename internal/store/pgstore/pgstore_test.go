package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"iter"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shopspring/decimal"

	"github.com/partnerbill/partnerbill/internal/ledger"
	"github.com/partnerbill/partnerbill/internal/store"
	"github.com/partnerbill/partnerbill/internal/store/pgstore"
	"github.com/partnerbill/partnerbill/internal/store/storetest"
	"github.com/partnerbill/partnerbill/internal/testenv"
)

// newSchema returns a fresh schema name in the database at dbURL, dropped
// with everything in it when the test ends.
func newSchema(t testing.TB, dbURL, suffix string) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	schema := "pbtest_" + hex.EncodeToString(b[:]) + suffix
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// open opens a store on schema, closed when the test ends.
func open(t testing.TB, dbURL, schema string, opts *pgstore.Options) *pgstore.DB {
	t.Helper()
	o := pgstore.Options{MaxConns: 2, Sealer: storetest.NewSealer(t)}
	if opts != nil {
		o = *opts
	}
	o.Schema = schema
	db, err := pgstore.Open(context.Background(), dbURL, &o)
	if err != nil {
		t.Fatalf("open schema %s: %v", schema, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// setup returns a migrated store on a fresh schema of the test database.
func setup(t testing.TB, opts *pgstore.Options) *pgstore.DB {
	t.Helper()
	u := testenv.PostgresURL(t)
	return open(t, u, newSchema(t, u, ""), opts)
}

func TestConformance(t *testing.T) {
	testenv.PostgresURL(t)
	storetest.Run(t, func(t *testing.T) store.Store { return setup(t, nil) })
}

// TestConformanceUnderICUCollation runs the suite in a database whose
// default collation is ICU en-US, where 'a' < 'B' < 'b' and ordering is not
// byte-wise: only the columns' COLLATE "C" keeps LineItems byte-wise. The
// local test database (postgres://…/test) was created with collation
// C.UTF-8, under which the suite's byte-wise tests would pass even without
// COLLATE "C".
func TestConformanceUnderICUCollation(t *testing.T) {
	base := testenv.PostgresURL(t)
	ctx := context.Background()
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Skipf("%s is not a postgres:// URL; cannot derive another database's URL", testenv.PostgresVar)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "pbtest_icu_" + hex.EncodeToString(b[:])
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	_, err = admin.Exec(ctx, `CREATE DATABASE `+name+` TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US'`)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "42601" || pe.Code == "0A000" || pe.Code == "42501" || pe.Code == "42704") {
		// Syntax error before PostgreSQL 15, no ICU, no CREATEDB, or no
		// en-US: a property of the server, not a failure of the store.
		t.Skipf("cannot create an ICU en-US database (%v): the byte-wise order is then only checked under the test database's collation", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	icuURL := u.String()

	conn, err := pgx.Connect(ctx, icuURL)
	if err != nil {
		t.Fatal(err)
	}
	var lowerFirst bool
	err = conn.QueryRow(ctx, `SELECT 'a' < 'B'`).Scan(&lowerFirst)
	conn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !lowerFirst {
		t.Fatal("the ICU database orders 'B' before 'a': its default collation is byte-wise, so this test would prove nothing")
	}
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, icuURL, newSchema(t, icuURL, ""), nil) })
}

// TestConcurrentMigrate opens one new schema from several stores at once,
// as replicas starting together would: all succeed and each migration is
// recorded once.
func TestConcurrentMigrate(t *testing.T) {
	t.Parallel()
	u := testenv.PostgresURL(t)
	schema := newSchema(t, u, "")
	const n = 4
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	sealer := storetest.NewSealer(t)
	for i := range n {
		wg.Go(func() {
			<-start
			db, err := pgstore.Open(context.Background(), u, &pgstore.Options{Schema: schema, MaxConns: 1, Sealer: sealer})
			if err == nil {
				err = db.Ping(context.Background())
				db.Close()
			}
			errs[i] = err
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("open %d: %v", i, err)
		}
	}
	db := open(t, u, schema, &pgstore.Options{NoMigrate: true})
	rows, _ := db.Pool().Query(context.Background(), `SELECT version FROM schema_migrations ORDER BY version`)
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{1, 2, 3}, versions); diff != "" {
		t.Errorf("schema_migrations (-want +got):\n%s", diff)
	}
}

// TestNoMigrate checks that NoMigrate creates the schema but no tables, and
// that Migrate then makes the store usable.
func TestNoMigrate(t *testing.T) {
	t.Parallel()
	u := testenv.PostgresURL(t)
	db := open(t, u, newSchema(t, u, ""), &pgstore.Options{NoMigrate: true})
	ctx := context.Background()
	if _, err := db.ListAccounts(ctx); err == nil {
		t.Fatal("ListAccounts worked on an unmigrated schema")
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ListAccounts(ctx); err != nil {
		t.Fatalf("after Migrate: %v", err)
	}
}

// TestSchemaNameIsQuoted uses a schema name that only works quoted.
func TestSchemaNameIsQuoted(t *testing.T) {
	t.Parallel()
	u := testenv.PostgresURL(t)
	db := open(t, u, newSchema(t, u, ` Mixed "Case", x`), nil)
	st, err := db.ImportRows(context.Background(), rowsOf(storetest.Row("1", "800000000002", "2024-12-01 00:00:00")))
	if err != nil || st.Added != 1 {
		t.Fatalf("import: %+v, %v", st, err)
	}
}

func rowsOf(rows ...ledger.Row) iter.Seq2[ledger.Row, error] {
	return func(yield func(ledger.Row, error) bool) {
		for _, r := range rows {
			if !yield(r, nil) {
				return
			}
		}
	}
}

// synth returns n rows per customer of month, as an import source.
func synth(t testing.TB, month ledger.Month, customers, n int, seed int64) iter.Seq2[ledger.Row, error] {
	t.Helper()
	_, rows, err := ledger.Synth(ledger.SynthOptions{Customers: customers, RowsPerCustomer: n, Month: month, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return func(yield func(ledger.Row, error) bool) {
		for r := range rows {
			if !yield(r, nil) {
				return
			}
		}
	}
}

func concat(seqs ...iter.Seq2[ledger.Row, error]) iter.Seq2[ledger.Row, error] {
	return func(yield func(ledger.Row, error) bool) {
		for _, s := range seqs {
			for r, err := range s {
				if !yield(r, err) {
					return
				}
			}
		}
	}
}

var (
	nov2024 = ledger.Month{Year: 2024, Mon: time.November}
	dec2024 = ledger.Month{Year: 2024, Mon: time.December}
)

// partitions lists the partitions of line_items.
func partitions(t testing.TB, db *pgstore.DB) []string {
	t.Helper()
	rows, _ := db.Pool().Query(context.Background(), `SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'line_items'::regclass ORDER BY 1`)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func count(t testing.TB, db *pgstore.DB, table string) int64 {
	t.Helper()
	var n int64
	if err := db.Pool().QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPartitionPerMonth imports two months at once and checks that each got
// a partition, and that a month's L3 and L2 queries read only that month's
// partition, through the index that gives their order, with no full sort:
// both with the planner's custom plan (the first executions of a prepared
// statement) and with its generic plan (pruned when the executor starts).
func TestPartitionPerMonth(t *testing.T) {
	t.Parallel()
	db := setup(t, nil)
	ctx := context.Background()
	const customers, perCustomer = 20, 1000
	uins, _, _ := ledger.Synth(ledger.SynthOptions{Customers: customers, Month: dec2024, Seed: 1})
	st, err := db.ImportRows(ctx, concat(synth(t, nov2024, customers, perCustomer, 1), synth(t, dec2024, customers, perCustomer, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if st.Added != 2*customers*perCustomer {
		t.Fatalf("import: %+v", st)
	}
	if diff := cmp.Diff([]string{"line_items_2024_11", "line_items_2024_12"}, partitions(t, db)); diff != "" {
		t.Fatalf("partitions (-want +got):\n%s", diff)
	}
	if n := count(t, db, "line_items_2024_12"); n != customers*perCustomer {
		t.Errorf("line_items_2024_12 holds %d rows, want %d", n, customers*perCustomer)
	}
	if _, err := db.Pool().Exec(ctx, `ANALYZE line_items`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		order ledger.Order
		index string // the index scanned, as a prefix of its name
	}{
		{"L3", ledger.OrderByTime, "line_items_2024_12_pkey"},
		{"L2", ledger.OrderByInstance, "line_items_2024_12_owneraccountid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := pgstore.LineItemsSQL(tc.order)
			for _, generic := range []bool{false, true} {
				plan := explain(t, db, q, generic, uins[0], "2024-12")
				if !strings.Contains(plan, "Index Scan using "+tc.index) || strings.Contains(plan, "line_items_2024_11") || fullSort.MatchString(plan) {
					t.Errorf("generic %v: want an index scan of %s, no other partition, no full Sort; plan:\n%s", generic, tc.index, plan)
				}
				if generic && !strings.Contains(plan, "Subplans Removed: 1") {
					t.Errorf("generic plan: want run-time pruning of one partition; plan:\n%s", plan)
				}
			}
		})
	}
}

// fullSort matches a Sort node in a text EXPLAIN, but not an Incremental
// Sort (which sorts one group of presorted rows at a time) nor the Sort Key
// of a Merge Append.
var fullSort = regexp.MustCompile(`(?m)(^|->)\s*Sort\s+\(`)

// explain returns the plan of query with args under LineItems' settings,
// planned for these arguments or, when generic, for any.
func explain(t testing.TB, db *pgstore.DB, query string, generic bool, args ...string) string {
	t.Helper()
	ctx := context.Background()
	var lines []string
	err := pgx.BeginFunc(ctx, db.Pool(), func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, pgstore.LineItemsSettings); err != nil {
			return err
		}
		sql := `EXPLAIN ` + query
		var vals []any
		if generic {
			if _, err := tx.Exec(ctx, `SET LOCAL plan_cache_mode = force_generic_plan`); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `PREPARE pb_explain AS `+query); err != nil {
				return err
			}
			defer tx.Exec(ctx, `DEALLOCATE pb_explain`)
			quoted := make([]string, len(args))
			for i, a := range args {
				quoted[i] = "'" + strings.ReplaceAll(a, "'", "''") + "'"
			}
			sql = `EXPLAIN EXECUTE pb_explain(` + strings.Join(quoted, ", ") + `)`
		} else {
			for _, a := range args {
				vals = append(vals, a)
			}
		}
		rows, _ := tx.Query(ctx, sql, vals...)
		var err error
		lines, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// TestFailedImportLeavesNothing checks that an import that fails, by the
// reader's error in the middle of the COPY or by a conflict found after its
// rows went in, leaves no row, no Id, no version and no partition.
func TestFailedImportLeavesNothing(t *testing.T) {
	t.Parallel()
	db := setup(t, nil)
	ctx := context.Background()
	old := storetest.Row("1", "800000000002", "2024-12-01 00:00:00")
	if _, err := db.ImportRows(ctx, rowsOf(old)); err != nil {
		t.Fatal(err)
	}
	jan := ledger.Month{Year: 2025, Mon: time.January}
	uins, _, _ := ledger.Synth(ledger.SynthOptions{Customers: 1, Month: jan, Seed: 2})
	boom := errors.New("bad row 50001")
	src := synth(t, jan, 1, 60_000, 2)
	readerFails := func(yield func(ledger.Row, error) bool) {
		n := 0
		for r, err := range src {
			if n == 50_000 {
				yield(ledger.Row{}, boom)
				return
			}
			n++
			if !yield(r, err) {
				return
			}
		}
	}
	changed := old
	changed.TotalCost = "1"
	conflicts := concat(synth(t, jan, 1, 1000, 2), rowsOf(changed))
	for _, tc := range []struct {
		name string
		rows iter.Seq2[ledger.Row, error]
		want error
	}{
		{"ReaderError", readerFails, boom},
		{"Conflict", conflicts, store.ErrConflict},
	} {
		_, err := db.ImportRows(ctx, tc.rows)
		if !errors.Is(err, tc.want) {
			t.Fatalf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
		if diff := cmp.Diff([]string{"line_items_2024_12"}, partitions(t, db)); diff != "" {
			t.Errorf("%s: partitions (-want +got):\n%s", tc.name, diff)
		}
		if n, m := count(t, db, "line_items"), count(t, db, "line_item_ids"); n != 1 || m != 1 {
			t.Errorf("%s: %d line items and %d Ids, want 1 and 1", tc.name, n, m)
		}
		if v, err := db.LedgerVersion(ctx, uins[0], jan); v != 0 || err != nil {
			t.Errorf("%s: version %d, %v; want 0", tc.name, v, err)
		}
	}
	var temps int64
	if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_class WHERE relname IN ('pb_import', 'pb_new')`).Scan(&temps); err != nil || temps != 0 {
		t.Errorf("%d staging tables left (%v)", temps, err)
	}
}

// TestImportCanceled checks that canceling the import's context stops it,
// stores nothing, and leaves the pool usable.
func TestImportCanceled(t *testing.T) {
	t.Parallel()
	db := setup(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	src := synth(t, dec2024, 1, 10_000, 3)
	rows := func(yield func(ledger.Row, error) bool) {
		for r, err := range src {
			if n++; n == 5000 {
				cancel()
			}
			if !yield(r, err) {
				return
			}
		}
	}
	if _, err := db.ImportRows(ctx, rows); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if got := count(t, db, "line_items"); got != 0 {
		t.Errorf("a canceled import left %d rows", got)
	}
	if st, err := db.ImportRows(context.Background(), synth(t, dec2024, 1, 100, 3)); err != nil || st.Added != 100 {
		t.Errorf("import after a canceled one: %+v, %v", st, err)
	}
}

// TestConcurrentImportsOfOneNewMonth runs imports that share rows of a month
// with no partition yet: none fails, every shared row is added once, and
// the month gets one partition.
func TestConcurrentImportsOfOneNewMonth(t *testing.T) {
	t.Parallel()
	db := setup(t, &pgstore.Options{MaxConns: 8})
	const importers, shared, own = 6, 2000, 500
	var wg sync.WaitGroup
	start := make(chan struct{})
	stats := make([]store.ImportStats, importers)
	errs := make([]error, importers)
	for i := range importers {
		rows := concat(synth(t, dec2024, 2, shared/2, 1), synth(t, dec2024, 1, own, int64(100+i)))
		wg.Go(func() {
			<-start
			stats[i], errs[i] = db.ImportRows(context.Background(), rows)
		})
	}
	close(start)
	wg.Wait()
	var added int64
	for i := range importers {
		if errs[i] != nil {
			t.Errorf("import %d: %v", i, errs[i])
		}
		if s := stats[i]; s.Rows != shared+own || s.Added+s.Unchanged != s.Rows {
			t.Errorf("import %d: %+v", i, s)
		}
		added += stats[i].Added
	}
	if want := int64(shared + importers*own); added != want || count(t, db, "line_items") != want {
		t.Errorf("added %d in all, %d stored; want %d", added, count(t, db, "line_items"), want)
	}
	if diff := cmp.Diff([]string{"line_items_2024_12"}, partitions(t, db)); diff != "" {
		t.Errorf("partitions (-want +got):\n%s", diff)
	}
}

// TestImportMillionRows imports a million synthetic rows and checks the
// count and the exact sum of TotalCost, added up in Go with
// shopspring/decimal from the rows sent and in PostgreSQL as numeric from
// the rows stored.
func TestImportMillionRows(t *testing.T) {
	if testing.Short() {
		t.Skip("imports a million rows; skipped with -short")
	}
	t.Parallel()
	db := setup(t, &pgstore.Options{MaxConns: 4})
	ctx := context.Background()
	const customers, perCustomer = 10, 100_000
	uins, _, _ := ledger.Synth(ledger.SynthOptions{Customers: customers, Month: dec2024, Seed: 7})
	var sum decimal.Decimal
	src := synth(t, dec2024, customers, perCustomer, 7)
	counted := func(yield func(ledger.Row, error) bool) {
		for r, err := range src {
			d, derr := ledger.ParseDecimal(r.TotalCost)
			if derr != nil {
				t.Errorf("synth row %s: %v", r.Id, derr)
			}
			sum = sum.Add(d)
			if !yield(r, err) {
				return
			}
		}
	}
	begin := time.Now()
	st, err := db.ImportRows(ctx, counted)
	took := time.Since(begin)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("imported %d rows in %v (%.0f rows/s)", st.Rows, took.Round(time.Millisecond), float64(st.Rows)/took.Seconds())
	if want := (store.ImportStats{Rows: customers * perCustomer, Added: customers * perCustomer}); st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	var n int64
	var total string
	if err := db.Pool().QueryRow(ctx, `SELECT count(*), sum(TotalCost::numeric)::text FROM line_items`).Scan(&n, &total); err != nil {
		t.Fatal(err)
	}
	got, err := decimal.NewFromString(total)
	if err != nil {
		t.Fatal(err)
	}
	if n != customers*perCustomer || !got.Equal(sum) {
		t.Errorf("stored %d rows totalling %s; sent %d totalling %s", n, got, customers*perCustomer, sum)
	}

	for _, tc := range []struct {
		name  string
		order ledger.Order
	}{{"L3", ledger.OrderByTime}, {"L2", ledger.OrderByInstance}} {
		begin = time.Now()
		var streamed int
		for _, err := range db.LineItems(ctx, ledger.Query{OwnerUIN: uins[0], Month: dec2024, Order: tc.order}) {
			if err != nil {
				t.Fatal(err)
			}
			streamed++
		}
		took = time.Since(begin)
		t.Logf("streamed one customer's %d rows in %s order in %v (%.0f rows/s)", streamed, tc.name, took.Round(time.Millisecond), float64(streamed)/took.Seconds())
		if streamed != perCustomer {
			t.Errorf("streamed %d rows of %s, want %d", streamed, uins[0], perCustomer)
		}
	}
}
