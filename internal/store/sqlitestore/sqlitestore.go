// Package sqlitestore is the embedded store.Store: one SQLite file in the
// data folder, opened in WAL mode so that admin commands and a running
// server can share it.
package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/partnerbill/partnerbill/internal/account"
	"github.com/partnerbill/partnerbill/internal/ledger"
	"github.com/partnerbill/partnerbill/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a store.Store on one SQLite file.
type DB struct {
	db *sql.DB
	// NowFunc stamps created_at and updated_at; nil means time.Now.
	nowFunc func() time.Time
	// stmts caches prepared statements by query text: parsing SQL is most
	// of the cost of the small queries every API request makes.
	stmts sync.Map // string → *sql.Stmt
	// sealer seals SecretKeys; nil refuses key operations.
	sealer *account.Sealer
	// cache keeps the answers of the reads every request makes until the
	// next commit (changes.go); nil reads every time.
	cache *readCache
}

// stmt returns the prepared statement for query, preparing it once.
// database/sql prepares it again on each pooled connection as needed.
func (d *DB) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if s, ok := d.stmts.Load(query); ok {
		return s.(*sql.Stmt), nil
	}
	s, err := d.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := d.stmts.LoadOrStore(query, s); loaded {
		s.Close()
		return prev.(*sql.Stmt), nil
	}
	return s, nil
}

// errRow is a *sql.Row stand-in for a statement that failed to prepare.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// queryRow runs a single-row query through the statement cache.
func (d *DB) queryRow(ctx context.Context, query string, args ...any) interface{ Scan(...any) error } {
	s, err := d.stmt(ctx, query)
	if err != nil {
		return errRow{err}
	}
	return s.QueryRowContext(ctx, args...)
}

var _ store.Store = (*DB)(nil)

// Options tunes Open; nil means the defaults.
type Options struct {
	// MaxConns caps the pool that serves queries and streams ledger rows.
	// Default 4: SQLite in WAL mode reads in parallel and writes one at a
	// time.
	MaxConns int
	// NowFunc replaces time.Now for timestamps.
	NowFunc func() time.Time
	// Sealer seals SecretKeys with the master key. Without one, key
	// operations fail with store.ErrNoMasterKey, and Open neither checks
	// the master key nor seals plaintext keys left by an older version.
	Sealer *account.Sealer
	// NoReadCache makes GetKey, GetAccount and CurrentBillFile read the
	// database every time instead of reusing answers until the next commit
	// by any process (see changes.go). Commands that read once set it.
	NoReadCache bool
}

// Page caches, in KiB (a negative cache_size is KiB). SQLite, as the
// driver builds it, pools every connection's page cache in one group:
// a connection that needs a page and is at its own bound takes the least
// recently used page of any connection, and the group as a whole is bound
// only by the sum of all its connections' sizes. So a long build's scan
// grows, for as long as it runs, into the room every other connection
// leaves (those connections read their pages afresh), and that sum is how
// far a build's memory grows with its length. Measured on a 10M-row build
// with 4 MiB per connection: the scanning connection's cache went from 6
// to 9 MiB over 15 s while another connection read every 20 ms, and the
// server's memory grew by 9 MiB over a 30 s build.
//
// So connections keep small caches, which the requests they serve do not
// miss (the read cache answers most of them, and every commit by another
// connection empties a connection's page cache anyway), and a connection
// raises its own only while it needs more:
//
//   - defaultCacheKiB: every pooled connection, between uses.
//   - buildCacheKiB: the connection streaming a bill file's rows. A scan
//     reads each page once; an L2 build's sort holds this much of the rows
//     in memory before writing a sorted run out.
//   - importCacheKiB: an import's connection. 32 MiB imported a million
//     rows as fast as 64 MiB did, with 210 MiB of peak memory instead of
//     380 (16 MiB: 126 MiB, about 10% slower); it too bounds the sorter.
//   - queueCacheKiB: the job queue's connection, whose tables are small
//     and whose queries are indexed.
const (
	defaultCacheKiB = -256
	buildCacheKiB   = -4096
	importCacheKiB  = -32768
	queueCacheKiB   = -512
)

// connWithCache takes a connection from the pool with its page cache set
// to kib until release, which sets it back and returns the connection
// (the reset runs even when ctx is done: a cancelled transaction has been
// rolled back by then, and the pool's next user must get the default).
func (d *DB) connWithCache(ctx context.Context, kib int) (conn *sql.Conn, release func(), err error) {
	conn, err = d.db.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	release = func() {
		conn.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf("PRAGMA cache_size = %d", defaultCacheKiB))
		conn.Close()
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA cache_size = %d", kib)); err != nil {
		// A cancelled context can fail the statement after it took
		// effect: set the default back all the same.
		release()
		return nil, nil, err
	}
	return conn, release, nil
}

// busyTimeout is how long a connection waits for another writer (an
// import, the job queue) before giving up with SQLITE_BUSY.
const busyTimeout = 30 * time.Second

// OpenPool opens a database/sql pool on the SQLite file at path with the
// settings every partnerbill connection uses: WAL, a busy timeout, foreign
// keys, and transactions that take the write lock when they begin (so two
// writers queue instead of deadlocking on a lock upgrade). River gets its
// own pool, apart from the store's, from OpenQueuePool.
func OpenPool(path string, maxConns int) (*sql.DB, error) {
	return openPool(path, maxConns, defaultCacheKiB)
}

// OpenQueuePool opens the job queue's pool on the SQLite file at path:
// one connection (River's SQLite driver needs no more, and a long build
// never holds it), with OpenPool's settings and a smaller page cache.
func OpenQueuePool(path string) (*sql.DB, error) {
	return openPool(path, 1, queueCacheKiB)
}

func openPool(path string, maxConns, cacheKiB int) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", fmt.Sprintf("cache_size(%d)", cacheKiB))
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

// Open opens (creating if needed) the database at path and applies the
// embedded migrations.
func Open(ctx context.Context, path string, opts *Options) (*DB, error) {
	if opts == nil {
		opts = &Options{}
	}
	n := opts.MaxConns
	if n <= 0 {
		n = 4
	}
	pool, err := OpenPool(path, n)
	if err != nil {
		return nil, err
	}
	d := &DB{db: pool, nowFunc: opts.NowFunc, sealer: opts.Sealer}
	if d.nowFunc == nil {
		d.nowFunc = time.Now
	}
	if err := d.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	if d.sealer != nil {
		if err := d.setupSealing(ctx); err != nil {
			pool.Close()
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
	}
	if !opts.NoReadCache {
		w, err := openChangeWatch(ctx, path)
		if err != nil {
			pool.Close()
			return nil, fmt.Errorf("open %s: read cache: %w (Options.NoReadCache turns it off)", path, err)
		}
		d.cache = &readCache{watch: w, generation: func(ctx context.Context) (int64, error) {
			var n int64
			err := d.queryRow(ctx, `SELECT n FROM cache_generation WHERE id = 1`).Scan(&n)
			return n, err
		}}
	}
	return d, nil
}

// setupSealing, in one write transaction, records the master key's check
// value if the database has none yet, refuses a master key other than the
// recorded one, and seals the SecretKeys that versions before sealing
// stored in plaintext.
func (d *DB) setupSealing(ctx context.Context) error {
	return d.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO master_key_check (id, sealed, created_at) VALUES (1, ?, ?) ON CONFLICT (id) DO NOTHING`,
			d.sealer.CheckValue(), d.stamp()); err != nil {
			return err
		}
		var check string
		if err := tx.QueryRowContext(ctx, `SELECT sealed FROM master_key_check WHERE id = 1`).Scan(&check); err != nil {
			return err
		}
		if err := d.sealer.VerifyCheckValue(check); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT secret_id, sealed_secret_key FROM api_keys`)
		if err != nil {
			return err
		}
		var plain [][2]string
		for rows.Next() {
			var id, key string
			if err := rows.Scan(&id, &key); err != nil {
				rows.Close()
				return err
			}
			if !account.IsSealed(key) {
				plain = append(plain, [2]string{id, key})
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(plain) == 0 {
			return nil
		}
		// Zero the space the plaintext leaves behind in its pages, for
		// these updates only (the setting is the pooled connection's).
		if _, err := tx.ExecContext(ctx, `PRAGMA secure_delete = ON`); err != nil {
			return err
		}
		defer tx.ExecContext(ctx, `PRAGMA secure_delete = OFF`)
		for _, p := range plain {
			if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET sealed_secret_key = ? WHERE secret_id = ?`,
				d.sealer.SealSecretKey(p[0], p[1]), p[0]); err != nil {
				return fmt.Errorf("seal the SecretKey of %s: %w", p[0], err)
			}
		}
		return nil
	})
}

// migrate applies, in order, each embedded migration not yet recorded.
// Each runs in its own write transaction, so two processes starting at once
// apply each migration once.
func (d *DB) migrate(ctx context.Context) error {
	if _, err := d.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		return err
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: name must start with a number", name)
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		if err := d.inTx(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, v).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("migration %s: %w", base, err)
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, v, d.stamp())
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

func (d *DB) stamp() string { return d.nowFunc().UTC().Format(time.RFC3339Nano) }

func parseStamp(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

func (d *DB) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	return inTx(ctx, d.db, fn)
}

// inTx runs fn in a transaction on db (the pool, or one connection of it),
// committing if fn succeeds and rolling back otherwise.
func inTx(ctx context.Context, db interface {
	BeginTx(context.Context, *sql.TxOptions) (*sql.Tx, error)
}, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return translate(err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return translate(err)
	}
	return translate(tx.Commit())
}

// translate turns driver errors into the store's sentinels, in one place.
func translate(err error) error {
	var se *sqlite.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	case errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE):
		return fmt.Errorf("%w: %w", store.ErrDuplicate, err)
	case errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return fmt.Errorf("%w: %w", store.ErrNotFound, err)
	}
	return err
}

// Ping implements store.Store.
func (d *DB) Ping(ctx context.Context) error {
	var one int
	return d.db.QueryRowContext(ctx, `SELECT 1`).Scan(&one)
}

// Close implements store.Store.
func (d *DB) Close() error {
	d.stmts.Range(func(_, s any) bool { s.(*sql.Stmt).Close(); return true })
	d.cache.close()
	return d.db.Close()
}

// CreateAccount implements store.Store.
func (d *DB) CreateAccount(ctx context.Context, a account.Account) error {
	if a.CreatedAt.IsZero() {
		a.CreatedAt = d.nowFunc()
	}
	_, err := d.db.ExecContext(ctx, `INSERT INTO accounts (uin, role, name, reseller_uin, created_at) VALUES (?, ?, ?, ?, ?)`,
		a.UIN, string(a.Role), a.Name, a.ResellerUIN, a.CreatedAt.UTC().Format(time.RFC3339Nano))
	return translate(err)
}

const accountCols = `uin, role, name, reseller_uin, created_at`

func scanAccount(sc interface{ Scan(...any) error }) (account.Account, error) {
	var a account.Account
	var role, created string
	if err := sc.Scan(&a.UIN, &role, &a.Name, &a.ResellerUIN, &created); err != nil {
		return a, translate(err)
	}
	a.Role = account.Role(role)
	a.CreatedAt = parseStamp(created)
	return a, nil
}

// GetAccount implements store.Store.
func (d *DB) GetAccount(ctx context.Context, uin string) (account.Account, error) {
	return cachedRead(ctx, d.cache, accountsOf, uin, func() (account.Account, error) {
		return scanAccount(d.queryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE uin = ?`, uin))
	})
}

// ListAccounts implements store.Store.
func (d *DB) ListAccounts(ctx context.Context) ([]account.Account, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+accountCols+` FROM accounts ORDER BY uin`)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []account.Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, translate(rows.Err())
}

// expiryLayout writes expires_at in one fixed width, so that comparing
// the text compares the times.
const expiryLayout = "2006-01-02T15:04:05.000000Z07:00"

// expiry is the expires_at value of t: NULL for the zero time.
func expiry(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(expiryLayout)
}

const insertKey = `INSERT INTO api_keys (secret_id, uin, sealed_secret_key, disabled, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)`

// keyArgs seals k's SecretKey and returns the arguments of insertKey.
func (d *DB) keyArgs(k account.Key) ([]any, error) {
	if d.sealer == nil {
		return nil, store.ErrNoMasterKey
	}
	if k.CreatedAt.IsZero() {
		k.CreatedAt = d.nowFunc()
	}
	return []any{k.SecretID, k.UIN, d.sealer.SealSecretKey(k.SecretID, k.SecretKey), k.Disabled, expiry(k.ExpiresAt),
		k.CreatedAt.UTC().Format(time.RFC3339Nano)}, nil
}

// CreateKey implements store.Store.
func (d *DB) CreateKey(ctx context.Context, k account.Key) error {
	args, err := d.keyArgs(k)
	if err != nil {
		return err
	}
	_, err = d.db.ExecContext(ctx, insertKey, args...)
	return translate(err)
}

// GetKey implements store.Store.
func (d *DB) GetKey(ctx context.Context, secretID string) (account.Key, error) {
	if d.sealer == nil {
		return account.Key{}, store.ErrNoMasterKey
	}
	return cachedRead(ctx, d.cache, keysOf, secretID, func() (account.Key, error) { return d.getKey(ctx, secretID) })
}

func (d *DB) getKey(ctx context.Context, secretID string) (account.Key, error) {
	var k account.Key
	var sealed, created string
	var expires sql.NullString
	err := d.queryRow(ctx, `SELECT secret_id, uin, sealed_secret_key, disabled, expires_at, created_at FROM api_keys WHERE secret_id = ?`, secretID).
		Scan(&k.SecretID, &k.UIN, &sealed, &k.Disabled, &expires, &created)
	if err != nil {
		return account.Key{}, translate(err)
	}
	if k.SecretKey, err = d.sealer.OpenSecretKey(k.SecretID, sealed); err != nil {
		return account.Key{}, fmt.Errorf("key %s: %w", k.SecretID, err)
	}
	if expires.Valid {
		if k.ExpiresAt, err = time.Parse(expiryLayout, expires.String); err != nil {
			return account.Key{}, fmt.Errorf("key %s: expires_at %q: %w", k.SecretID, expires.String, err)
		}
	}
	k.CreatedAt = parseStamp(created)
	return k, nil
}

// RotateKey implements store.Store in one write transaction.
func (d *DB) RotateKey(ctx context.Context, oldSecretID string, k account.Key, oldExpiresAt time.Time) error {
	args, err := d.keyArgs(k)
	if err != nil {
		return err
	}
	at := oldExpiresAt.UTC().Format(expiryLayout)
	return d.inTx(ctx, func(tx *sql.Tx) error {
		var uin string
		if err := tx.QueryRowContext(ctx, `SELECT uin FROM api_keys WHERE secret_id = ?`, oldSecretID).Scan(&uin); err != nil {
			return err
		}
		if uin != k.UIN {
			return fmt.Errorf("rotate key %s of account %s: the new key is for account %s", oldSecretID, uin, k.UIN)
		}
		if _, err := tx.ExecContext(ctx, insertKey, args...); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE api_keys SET expires_at = ? WHERE secret_id = ? AND (expires_at IS NULL OR expires_at > ?)`,
			at, oldSecretID, at)
		return err
	})
}

// DisableKey implements store.Store.
func (d *DB) DisableKey(ctx context.Context, secretID string) error {
	res, err := d.db.ExecContext(ctx, `UPDATE api_keys SET disabled = 1 WHERE secret_id = ?`, secretID)
	if err != nil {
		return translate(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// joinedValue is SQL for the columns cols (a comma-separated list) joined
// into one text value, separated by NUL bytes. No field holds a NUL byte
// (imports refuse them), so the joined value splits back exactly, and two
// rows are equal exactly when their joined values are.
func joinedValue(cols string) string { return "concat_ws(char(0), " + cols + ")" }

// lineItemColumns are the columns of line_items in ledger.Fields order,
// then BillMonth; lineItemCols lists them for SQL.
var (
	lineItemColumns = append(ledger.Fields[:], "BillMonth")
	lineItemCols    = strings.Join(lineItemColumns, ", ")
)

// LedgerVersion implements store.Store.
func (d *DB) LedgerVersion(ctx context.Context, owner string, month ledger.Month) (int64, error) {
	var v int64
	err := d.queryRow(ctx, `SELECT version FROM ledger_versions WHERE owner_uin = ? AND bill_month = ?`, owner, month.String()).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return v, translate(err)
}

// LineItems implements store.Store. With q.Fields it reads only those
// columns, which matters most for the instance order: SQLite sorts every
// column it selects.
//
// Each row comes back as one text value, its columns joined by NUL bytes
// (concat_ws), and is split here: the driver's cost is per column (a type
// check, a copy and a Go string each), and for the 33 columns of an L3
// file that was over half of the build. Imports refuse NUL bytes in every
// field, so the split is exact; a stored value holding one (imported
// before that check) fails the read instead of shifting columns.
func (d *DB) LineItems(ctx context.Context, q ledger.Query) iter.Seq2[ledger.Row, error] {
	return func(yield func(ledger.Row, error) bool) {
		cols := q.Fields
		if cols == nil {
			cols = ledger.Fields[:]
		}
		order := "TransactionTime, Id" // the primary key's order: no sort
		if q.Order == ledger.OrderByInstance {
			// The sort key leads the joined value, and SQLite sorts by that
			// one value: NUL sorts below every other byte and no field holds
			// one, so comparing the joined text bytewise is comparing the
			// columns one by one, and since (key, TransactionTime, Id) is
			// unique the columns after it never decide. Sorting one text
			// value instead of fourteen columns, with nothing stored twice
			// in the sorter's records, made L2 builds much faster.
			key := append(slices.Clone(ledger.InstanceKeyFields), "TransactionTime", "Id")
			for _, c := range cols {
				if !slices.Contains(key, c) {
					key = append(key, c)
				}
			}
			cols, order = key, "1"
		}
		// Where each column goes in a Row; -1 for BillMonth, which the
		// WHERE clause fixes to q.Month.
		at := make([]int, len(cols))
		for n, c := range cols {
			i, ok := ledger.FieldIndex(c)
			switch {
			case ok:
				at[n] = i
			case c == "BillMonth":
				at[n] = -1
			default:
				yield(ledger.Row{}, fmt.Errorf("line items: no field %q", c))
				return
			}
		}
		query := `SELECT ` + joinedValue(strings.Join(cols, ", ")) + ` FROM line_items WHERE OwnerAccountId = ? AND BillMonth = ? ORDER BY ` + order
		conn, release, err := d.connWithCache(ctx, buildCacheKiB)
		if err != nil {
			yield(ledger.Row{}, translate(err))
			return
		}
		defer release()
		rows, err := conn.QueryContext(ctx, query, q.OwnerUIN, q.Month.String())
		if err != nil {
			yield(ledger.Row{}, translate(err))
			return
		}
		defer rows.Close()
		var line string
		for rows.Next() {
			if err := rows.Scan(&line); err != nil {
				yield(ledger.Row{}, translate(err))
				return
			}
			if strings.Count(line, "\x00") != len(at)-1 {
				yield(ledger.Row{}, fmt.Errorf("a stored line item of %s in %s holds a NUL byte in a field; "+
					"re-import it without one (imports refuse them now)", q.OwnerUIN, q.Month))
				return
			}
			r := ledger.Row{BillMonth: q.Month}
			rest := line
			for n, i := range at {
				v := rest
				if n < len(at)-1 {
					j := strings.IndexByte(rest, 0)
					v, rest = rest[:j], rest[j+1:]
				}
				if i >= 0 {
					r.SetAt(i, v)
				}
			}
			if !yield(r, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(ledger.Row{}, translate(err))
		}
	}
}

const billFileCols = `owner_uin, bill_month, kind, version, state, object_key, row_count, byte_count, error, updated_at`

// currentFileQuery finds the ledger version and that version's record in
// one statement (one read transaction).
const currentFileQuery = `SELECT v.version, coalesce(f.state, ''), coalesce(f.object_key, ''), coalesce(f.row_count, 0),
	coalesce(f.byte_count, 0), coalesce(f.error, ''), coalesce(f.updated_at, '')
	FROM (SELECT coalesce((SELECT version FROM ledger_versions WHERE owner_uin = ?1 AND bill_month = ?2), 0) AS version) v
	LEFT JOIN bill_files f ON f.owner_uin = ?1 AND f.bill_month = ?2 AND f.kind = ?3 AND f.version = v.version`

// CurrentBillFile implements store.Store.
func (d *DB) CurrentBillFile(ctx context.Context, owner string, month ledger.Month, kind string) (store.BillFile, error) {
	return cachedRead(ctx, d.cache, filesOf, fileCacheKey{owner, month.String(), kind}, func() (store.BillFile, error) {
		return d.currentBillFile(ctx, owner, month, kind)
	})
}

func (d *DB) currentBillFile(ctx context.Context, owner string, month ledger.Month, kind string) (store.BillFile, error) {
	f := store.BillFile{FileKey: store.FileKey{OwnerUIN: owner, Month: month, Kind: kind}}
	var state, updated string
	err := d.queryRow(ctx, currentFileQuery, owner, month.String(), kind).
		Scan(&f.Version, &state, &f.ObjectKey, &f.Rows, &f.Bytes, &f.Error, &updated)
	if err != nil {
		return f, translate(err)
	}
	f.State = store.FileState(state)
	if updated != "" {
		f.UpdatedAt = parseStamp(updated)
	}
	return f, nil
}

// GetBillFile implements store.Store.
func (d *DB) GetBillFile(ctx context.Context, key store.FileKey) (store.BillFile, error) {
	var f store.BillFile
	var month, state, updated string
	err := d.queryRow(ctx, `SELECT `+billFileCols+` FROM bill_files WHERE owner_uin = ? AND bill_month = ? AND kind = ? AND version = ?`,
		key.OwnerUIN, key.Month.String(), key.Kind, key.Version).
		Scan(&f.OwnerUIN, &month, &f.Kind, &f.Version, &state, &f.ObjectKey, &f.Rows, &f.Bytes, &f.Error, &updated)
	if err != nil {
		return f, translate(err)
	}
	if f.Month, err = ledger.ParseMonth(month); err != nil {
		return f, fmt.Errorf("bill file record: %w", err)
	}
	f.State = store.FileState(state)
	f.UpdatedAt = parseStamp(updated)
	return f, nil
}

// PutBillFile implements store.Store.
func (d *DB) PutBillFile(ctx context.Context, f store.BillFile) error {
	if f.UpdatedAt.IsZero() {
		f.UpdatedAt = d.nowFunc()
	}
	_, err := d.db.ExecContext(ctx, `INSERT INTO bill_files (`+billFileCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (owner_uin, bill_month, kind, version) DO UPDATE SET
		state = excluded.state, object_key = excluded.object_key, row_count = excluded.row_count,
		byte_count = excluded.byte_count, error = excluded.error, updated_at = excluded.updated_at`,
		f.OwnerUIN, f.Month.String(), f.Kind, f.Version, string(f.State), f.ObjectKey, f.Rows, f.Bytes, f.Error,
		f.UpdatedAt.UTC().Format(time.RFC3339Nano))
	return translate(err)
}

// DeleteBillFile implements store.Store.
func (d *DB) DeleteBillFile(ctx context.Context, key store.FileKey) error {
	_, err := d.db.ExecContext(ctx, `DELETE FROM bill_files WHERE owner_uin = ? AND bill_month = ? AND kind = ? AND version = ?`,
		key.OwnerUIN, key.Month.String(), key.Kind, key.Version)
	return translate(err)
}
