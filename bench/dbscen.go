package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ledgerFile writes (once) a synthetic customer-month of rows line items
// and returns its path and owner.
func (e *env) ledgerFile(ctx context.Context, rows int) (string, error) {
	file := filepath.Join(e.dir, fmt.Sprintf("ledger-%d.csv", rows))
	if _, err := os.Stat(file); err == nil {
		return file, nil
	}
	logf("writing %d synthetic line items", rows)
	if _, err := e.cli(ctx, filepath.Join(e.dir, "synth"), "ledger", "synth", "--customers", "1",
		"--rows-per-customer", fmt.Sprint(rows), "--month", month, "--seed", "1", "--out", file); err != nil {
		return "", err
	}
	return file, nil
}

// importScenario: ledger import of a CSV against the database's own bulk
// loader on the same file.
func (e *env) importScenario(ctx context.Context) ([]result, error) {
	file, err := e.ledgerFile(ctx, e.cfg.rows)
	if err != nil {
		return nil, err
	}
	var pb, base []time.Duration
	for i := range e.cfg.runs {
		dir, err := e.freshDatabase(ctx, "import")
		if err != nil {
			return nil, err
		}
		// Migrations first, so the timing is the import alone.
		if _, err := e.cli(ctx, dir, "migrate"); err != nil {
			return nil, err
		}
		d, err := timed(func() error { _, err := e.cli(ctx, dir, "ledger", "import", file); return err })
		if err != nil {
			return nil, err
		}
		b, err := e.bulkLoad(ctx, file)
		if err != nil {
			return nil, err
		}
		pb, base = append(pb, d), append(base, b)
		logf("import run %d: partnerbill %v, bulk loader %v", i+1, d.Round(time.Millisecond), b.Round(time.Millisecond))
	}
	p, b := median(pb), median(base)
	rate := func(d time.Duration) string {
		return fmt.Sprintf("%.0f rows/s (%.1fs)", float64(e.cfg.rows)/d.Seconds(), d.Seconds())
	}
	loader := "sqlite3 .import"
	if e.cfg.database != "" {
		loader = "psql \\copy"
	}
	return []result{{scenario: fmt.Sprintf("import %d rows (vs %s)", e.cfg.rows, loader), partnerbill: rate(p), baseline: rate(b),
		ratio: fmt.Sprintf("%.2f×", b.Seconds()/p.Seconds()), target: "≥ 0.70×"}}, nil
}

// readyDatabase returns a data folder whose ledger holds one customer's
// month of rows line items, and the customer's key.
func (e *env) readyDatabase(ctx context.Context, name string, rows int) (string, key, error) {
	file, err := e.ledgerFile(ctx, rows)
	if err != nil {
		return "", key{}, err
	}
	dir, err := e.freshDatabase(ctx, name)
	if err != nil {
		return "", key{}, err
	}
	out, err := e.cli(ctx, dir, "ledger", "synth", "--customers", "1", "--rows-per-customer", "0", "--month", month,
		"--seed", "1", "--out", os.DevNull, "--create-accounts")
	if err != nil {
		return "", key{}, err
	}
	keys, err := parseKeys(out)
	if err != nil || len(keys) != 1 {
		return "", key{}, fmt.Errorf("synth --create-accounts: %v %q", err, out)
	}
	if rows > shellLoadAbove && e.cfg.database == "" {
		logf("loading %d line items for %s with the sqlite3 shell", rows, name)
		if err := e.shellLoad(ctx, dir, file, keys[0].Uin); err != nil {
			return "", key{}, err
		}
	} else {
		logf("importing %d line items for %s", rows, name)
		if _, err := e.cli(ctx, dir, "ledger", "import", file); err != nil {
			return "", key{}, err
		}
	}
	// The job queue's tables too, which build() clears between runs.
	if _, err := e.cli(ctx, dir, "migrate"); err != nil {
		return "", key{}, err
	}
	if e.cfg.database == "" {
		// Start every build from an empty write-ahead log: the server maps
		// the WAL's index, whose size follows the largest transaction
		// since the log was last reset (the load), not the build.
		if err := e.sql(ctx, dir, "PRAGMA wal_checkpoint(TRUNCATE)", nil); err != nil {
			return "", key{}, err
		}
	}
	return dir, keys[0], nil
}

// build measures one build from a fresh server process: time from the
// first request to Ready 1, and the server's peak memory.
func (e *env) build(ctx context.Context, dir string, k key, fileType, profile string) (time.Duration, memory, error) {
	// Forget earlier builds so this one starts from nothing.
	if err := e.sql(ctx, dir, "DELETE FROM bill_files; DELETE FROM river_job;", nil); err != nil {
		return 0, memory{}, err
	}
	srv, err := e.startServer(ctx, dir, e.profileArgs(profile)...)
	if err != nil {
		return 0, memory{}, err
	}
	defer srv.stop()
	req := presignBody(srv.addr, k, []byte(fmt.Sprintf(`{"FileType":%q,"Month":%q}`, fileType, month)))
	c := newClient(1)
	start := time.Now()
	var mem memory
	for {
		mem.most(srv.memory())
		body, err := send(c, req)
		if err != nil {
			return 0, memory{}, err
		}
		if ok(body) {
			break
		}
		if time.Since(start) > time.Hour || ctx.Err() != nil {
			return 0, memory{}, fmt.Errorf("%s not ready after %v: %s", fileType, time.Since(start), body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	d := time.Since(start)
	mem.most(srv.memory())
	return d, mem, nil
}

// timeToReady: first request to Ready 1 for one customer-month, L3 and L2,
// against the database's own CSV export of the same rows.
func (e *env) timeToReady(ctx context.Context) ([]result, error) {
	dir, k, err := e.readyDatabase(ctx, "ready", e.cfg.rows)
	if err != nil {
		return nil, err
	}
	var out []result
	for _, ft := range []string{"L3", "L2"} {
		var pb, base []time.Duration
		var rss int64
		for i := range e.cfg.runs {
			d, peak, err := e.build(ctx, dir, k, ft, "ready-"+ft)
			if err != nil {
				return out, err
			}
			query := l3Query(k.Uin)
			if ft == "L2" {
				collate := ""
				if e.cfg.database != "" {
					collate = ` COLLATE "C"`
				}
				query = l2Query(k.Uin, collate)
			}
			b, err := e.export(ctx, dir, query, filepath.Join(e.dir, "export.csv"))
			if err != nil {
				return out, err
			}
			pb, base = append(pb, d), append(base, b)
			rss = max(rss, peak.peak)
			logf("ready %s run %d: partnerbill %v (%v), export %v", ft, i+1, d.Round(time.Millisecond), peak, b.Round(time.Millisecond))
		}
		p, b := median(pb), median(base)
		what := "CSV export"
		if ft == "L2" {
			what = "GROUP BY export"
		}
		out = append(out, result{
			scenario:    fmt.Sprintf("time to ready %s, %d rows (vs %s)", ft, e.cfg.rows, what),
			partnerbill: fmt.Sprintf("%.2fs, %.0f rows/s, peak RSS %d MiB", p.Seconds(), float64(e.cfg.rows)/p.Seconds(), rss>>20),
			baseline:    fmt.Sprintf("%.2fs", b.Seconds()),
			ratio:       fmt.Sprintf("%.2f×", p.Seconds()/b.Seconds()),
			target:      "≤ 1.50×",
		})
	}
	return out, nil
}

// memoryFlat: peak memory of an L3 build at two sizes.
func (e *env) memoryFlat(ctx context.Context) ([]result, error) {
	peaks := map[int]int64{}
	for _, rows := range []int{e.cfg.rows, e.cfg.largeRows} {
		dir, k, err := e.readyDatabase(ctx, fmt.Sprintf("memory_%d", rows), rows)
		if err != nil {
			return nil, err
		}
		// Peak RSS varies from run to run by a few MiB of the binary's
		// pages alone (file-backed), so each size is built runs times and
		// the median peak counts, as every other figure here is a median.
		var runPeaks []int64
		for i := range e.cfg.runs {
			d, peak, err := e.build(ctx, dir, k, "L3", fmt.Sprintf("memory-%d-%d", rows, i+1))
			if err != nil {
				return nil, err
			}
			runPeaks = append(runPeaks, peak.peak)
			logf("memory: %d rows built in %v, %v (run %d)", rows, d.Round(time.Millisecond), peak, i+1)
		}
		peaks[rows] = median(runPeaks)
		if !e.cfg.keep {
			os.RemoveAll(dir) // a large ledger is big on disk
		}
	}
	small, large := peaks[e.cfg.rows], peaks[e.cfg.largeRows]
	return []result{{
		scenario:    fmt.Sprintf("peak RSS of an L3 build, %d vs %d rows", e.cfg.largeRows, e.cfg.rows),
		partnerbill: fmt.Sprintf("%d MiB vs %d MiB", large>>20, small>>20),
		baseline:    "-",
		ratio:       fmt.Sprintf("%.2f×", float64(large)/float64(small)),
		target:      "< 128 MiB, ≤ 1.10×",
	}}, nil
}

// shellLoadAbove is the ledger size past which the memory scenario loads
// its embedded ledger with the sqlite3 shell instead of ledger import.
// That scenario measures builds; loading ten million rows in one
// transaction is where ledger import on SQLite stops scaling (its random
// inserts into the Id index outgrow the page cache and the write-ahead log
// grows with every page written again; see BENCHMARKS.md), so the shell
// loads the rows into a plain table, copies them into line_items with the
// Id index dropped, and builds the index once, sorted.
const shellLoadAbove = 3_000_000

func (e *env) shellLoad(ctx context.Context, dataDir, csvFile, owner string) error {
	if _, err := e.cli(ctx, dataDir, "migrate"); err != nil {
		return err
	}
	cols := append(append([]string{}, fields...), "BillMonth") // the synthetic file's columns
	list := strings.Join(cols, ", ")
	return run(ctx, nil, "sqlite3", filepath.Join(dataDir, "partnerbill.db"),
		"PRAGMA cache_size = -262144",
		"CREATE TABLE load ("+textColumns(cols)+")",
		".import --csv --skip 1 "+csvFile+" load",
		"DROP INDEX line_items_id",
		"INSERT INTO line_items ("+list+") SELECT "+list+" FROM load ORDER BY OwnerAccountId, BillMonth, TransactionTime, Id",
		"DROP TABLE load",
		"CREATE UNIQUE INDEX line_items_id ON line_items (Id)",
		fmt.Sprintf("INSERT INTO ledger_versions (owner_uin, bill_month, version) VALUES ('%s', '%s', 1)", owner, month))
}
