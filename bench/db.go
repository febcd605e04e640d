package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// fields are the BillDetailData columns in file order.
var fields = strings.Split("PayerAccountId,OwnerAccountId,OperatorAccountId,ProductName,BillingMode,ProjectName,Region,"+
	"AvailabilityZone,InstanceId,InstanceName,SubProductName,TransactionType,TransactionId,TransactionTime,UsageStartTime,"+
	"UsageEndTime,ComponentType,ComponentName,ComponentListPrice,ComponentPriceMeasurementUnit,ComponentUsage,"+
	"ComponentUsageUnit,UsageDuration,DurationUnit,OriginalCost,DiscountRate,Currency,TotalAmountAfterDiscount,"+
	"VoucherDeduction,TotalCost,Id,CustomerDiscountRate", ",")

var instanceKey = strings.Split("PayerAccountId,OwnerAccountId,ProductName,SubProductName,BillingMode,ProjectName,"+
	"Region,AvailabilityZone,InstanceId,InstanceName,TransactionType,Currency", ",")

// l3Query and l2Query are what the database's own export runs: the same
// rows in the same order as partnerbill's L3 file, and the GROUP BY of its
// L2 file (the database's sums, which for SQLite are floating point: a
// speed baseline only).
func l3Query(owner string) string {
	return fmt.Sprintf(`SELECT %s FROM line_items WHERE OwnerAccountId = '%s' AND BillMonth = '%s' ORDER BY TransactionTime, Id`,
		strings.Join(fields, ", "), owner, month)
}

func l2Query(owner, collate string) string {
	keys := make([]string, len(instanceKey))
	for i, k := range instanceKey {
		keys[i] = k + collate
	}
	sum := func(c string) string { return "sum(" + c + e2num(collate) + ")" }
	return fmt.Sprintf(`SELECT %s, min(NULLIF(UsageStartTime, '')), max(UsageEndTime), %s, %s, %s, %s FROM line_items
		WHERE OwnerAccountId = '%s' AND BillMonth = '%s' GROUP BY %s ORDER BY %s`,
		strings.Join(instanceKey, ", "), sum("OriginalCost"), sum("TotalAmountAfterDiscount"), sum("VoucherDeduction"), sum("TotalCost"),
		owner, month, strings.Join(instanceKey, ", "), strings.Join(keys, ", "))
}

// e2num casts text to a number: exact numeric on PostgreSQL, SQLite's own
// conversion otherwise.
func e2num(collate string) string {
	if collate != "" {
		return "::numeric"
	}
	return ""
}

// freshDatabase prepares an empty data folder named name and, on
// PostgreSQL, an empty schema of the same name that e.database points at.
func (e *env) freshDatabase(ctx context.Context, name string) (string, error) {
	dir := filepath.Join(e.dir, name)
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	if e.cfg.database == "" {
		return dir, nil
	}
	schema := "pbbench_" + name
	if err := e.psql(ctx, e.cfg.database, "", nil, fmt.Sprintf("DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", schema, schema)); err != nil {
		return "", err
	}
	u, _ := url.Parse(e.cfg.database)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	e.database = u.String()
	e.schema = schema
	return dir, nil
}

func (e *env) resetDatabase(ctx context.Context, dir string) {
	os.RemoveAll(dir)
	os.MkdirAll(dir, 0o700)
	if e.cfg.database != "" {
		e.freshDatabase(ctx, filepath.Base(dir))
	}
}

// psql runs sql with psql on the server of dbURL in schema, its output to
// out.
func (e *env) psql(ctx context.Context, dbURL, schema string, out io.Writer, sql string) error {
	u, err := url.Parse(dbURL)
	if err != nil {
		return err
	}
	q := u.Query()
	q.Del("search_path")
	if schema != "" {
		q.Set("options", "-csearch_path="+schema)
	}
	u.RawQuery = q.Encode()
	return run(ctx, out, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", u.String(), "-c", sql)
}

// sql runs statements on the current database with its own shell.
func (e *env) sql(ctx context.Context, dataDir, stmts string, out io.Writer) error {
	if e.cfg.database != "" {
		return e.psql(ctx, e.cfg.database, e.schema, out, stmts)
	}
	return run(ctx, out, "sqlite3", filepath.Join(dataDir, "partnerbill.db"), stmts)
}

// export runs the database's own CSV export of query into file.
func (e *env) export(ctx context.Context, dataDir, query, file string) (time.Duration, error) {
	f, err := os.Create(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return timed(func() error {
		if e.cfg.database != "" {
			return e.psql(ctx, e.cfg.database, e.schema, f, "COPY ("+query+") TO STDOUT WITH CSV HEADER")
		}
		return run(ctx, f, "sqlite3", "-csv", "-header", filepath.Join(dataDir, "partnerbill.db"), query)
	})
}

// bulkLoad loads csvFile with the database's own bulk loader into a table
// like partnerbill's ledger (same columns and keys), in a fresh database.
func (e *env) bulkLoad(ctx context.Context, csvFile string) (time.Duration, error) {
	cols := append(append([]string{}, fields...), "BillMonth")
	if e.cfg.database != "" {
		defs := make([]string, len(cols))
		for i, c := range cols {
			defs[i] = c + ` TEXT COLLATE "C"` // CSV empty fields load as NULL
		}
		schema := "pbbench_bulkload"
		if err := e.psql(ctx, e.cfg.database, "", nil, fmt.Sprintf(`DROP SCHEMA IF EXISTS %[1]s CASCADE; CREATE SCHEMA %[1]s;
			CREATE TABLE %[1]s.line_items (%[2]s, PRIMARY KEY (BillMonth, OwnerAccountId, TransactionTime, Id));
			CREATE UNIQUE INDEX ON %[1]s.line_items (Id, BillMonth)`, schema, strings.Join(defs, ", "))); err != nil {
			return 0, err
		}
		return timed(func() error {
			return e.psql(ctx, e.cfg.database, schema, nil, fmt.Sprintf(`\copy line_items (%s) FROM '%s' WITH CSV HEADER`, strings.Join(cols, ", "), csvFile))
		})
	}
	db := filepath.Join(e.dir, "bulkload.db")
	os.Remove(db)
	os.Remove(db + "-wal")
	os.Remove(db + "-shm")
	create := fmt.Sprintf(`PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
		CREATE TABLE line_items (%s, PRIMARY KEY (OwnerAccountId, BillMonth, TransactionTime, Id)) WITHOUT ROWID;
		CREATE UNIQUE INDEX line_items_id ON line_items (Id);`, textColumns(cols))
	if err := run(ctx, nil, "sqlite3", db, create); err != nil {
		return 0, err
	}
	return timed(func() error {
		cmd := exec.CommandContext(ctx, "sqlite3", db, ".import --csv --skip 1 "+csvFile+" line_items")
		out, err := cmd.CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(out))) > 0 {
			return fmt.Errorf("sqlite3 .import: %v %s", err, out)
		}
		return nil
	})
}

// textColumns declares cols as SQLite TEXT NOT NULL columns.
func textColumns(cols []string) string {
	defs := make([]string, len(cols))
	for i, c := range cols {
		defs[i] = c + " TEXT NOT NULL"
	}
	return strings.Join(defs, ", ")
}
