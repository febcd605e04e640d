package sqlitestore_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/partnerbill/partnerbill/internal/account"
	"github.com/partnerbill/partnerbill/internal/ledger"
	"github.com/partnerbill/partnerbill/internal/store"
	"github.com/partnerbill/partnerbill/internal/store/sqlitestore"
	"github.com/partnerbill/partnerbill/internal/store/storetest"
)

// openStore opens the database at path, closed when the test ends.
func openStore(t *testing.T, path string, opts *sqlitestore.Options) *sqlitestore.DB {
	t.Helper()
	db, err := sqlitestore.Open(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// The read cache must answer repeated reads without the database and must
// never answer from before a commit made through another handle.
func TestReadCacheSeesEveryCommitAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pb.db")
	sealer := storetest.NewSealer(t)
	server := openStore(t, path, &sqlitestore.Options{Sealer: sealer})
	// The admin handle stands for the CLI: its own pool, no cache.
	admin := openStore(t, path, &sqlitestore.Options{Sealer: sealer, NoReadCache: true})

	const owner = "800000000002"
	if err := admin.CreateAccount(ctx, account.Account{UIN: owner, Role: account.RoleEndCustomer}); err != nil {
		t.Fatal(err)
	}
	if err := admin.CreateKey(ctx, account.Key{SecretID: "AKIDcache", UIN: owner, SecretKey: "s3cret"}); err != nil {
		t.Fatal(err)
	}
	hits := server.CacheHits()
	for range 3 {
		k, err := server.GetKey(ctx, "AKIDcache")
		if err != nil || k.SecretKey != "s3cret" || k.Disabled {
			t.Fatalf("GetKey = %+v, %v", k, err)
		}
		if _, err := server.GetAccount(ctx, owner); err != nil {
			t.Fatal(err)
		}
	}
	if got := server.CacheHits() - hits; got != 4 {
		t.Fatalf("3 reads each of a key and an account: %d cache hits, want 4", got)
	}

	// A commit to a table the cache does not hold (the job queue's, say)
	// moves the wal-index header but leaves the cached answers standing.
	other, err := sqlitestore.OpenPool(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Exec(`CREATE TABLE unrelated (x); INSERT INTO unrelated VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	hits = server.CacheHits()
	if _, err := server.GetKey(ctx, "AKIDcache"); err != nil {
		t.Fatal(err)
	}
	if server.CacheHits() != hits+1 {
		t.Fatal("a commit to an unrelated table dropped the cached key")
	}

	if err := admin.DisableKey(ctx, "AKIDcache"); err != nil {
		t.Fatal(err)
	}
	if k, err := server.GetKey(ctx, "AKIDcache"); err != nil || !k.Disabled {
		t.Fatalf("right after DisableKey through another handle: %+v, %v; want disabled", k, err)
	}
	if _, err := server.GetKey(ctx, "AKIDunknown"); err != store.ErrNotFound {
		t.Fatalf("unknown key: %v", err)
	}

	month := storetest.Row("1", owner, "").BillMonth
	current := func() store.BillFile {
		t.Helper()
		f, err := server.CurrentBillFile(ctx, owner, month, "L3")
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	if f := current(); f.Version != 0 || f.State != "" {
		t.Fatalf("before any import: %+v", f)
	}
	hits = server.CacheHits()
	current()
	if server.CacheHits() != hits+1 {
		t.Fatal("a repeated CurrentBillFile was not answered from the cache")
	}
	if _, err := admin.ImportRows(ctx, func(yield func(ledger.Row, error) bool) {
		yield(storetest.Row("1", owner, "2024-12-01 00:00:00"), nil)
	}); err != nil {
		t.Fatal(err)
	}
	if f := current(); f.Version != 1 || f.State != "" {
		t.Fatalf("right after an import through another handle: %+v, want version 1 with no file", f)
	}
	key := store.FileKey{OwnerUIN: owner, Month: month, Kind: "L3", Version: 1}
	if err := admin.PutBillFile(ctx, store.BillFile{FileKey: key, State: store.FileReady, ObjectKey: "k1"}); err != nil {
		t.Fatal(err)
	}
	if f := current(); f.State != store.FileReady || f.ObjectKey != "k1" {
		t.Fatalf("right after the file was recorded ready: %+v", f)
	}
}

// Another process's commit is seen at once too. The other process is this
// test binary again, writing through its own SQLite library instance.
func TestReadCacheSeesAnotherProcess(t *testing.T) {
	if path := os.Getenv("SQLITESTORE_TEST_RENAME"); path != "" {
		db, err := sqlitestore.OpenPool(path, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(`UPDATE accounts SET name = 'after' WHERE uin = '800000000002'`); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pb.db")
	db := openStore(t, path, &sqlitestore.Options{Sealer: storetest.NewSealer(t)})
	if err := db.CreateAccount(ctx, account.Account{UIN: "800000000002", Role: account.RoleEndCustomer, Name: "before"}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if a, err := db.GetAccount(ctx, "800000000002"); err != nil || a.Name != "before" {
			t.Fatalf("%+v, %v", a, err)
		}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestReadCacheSeesAnotherProcess$")
	cmd.Env = append(os.Environ(), "SQLITESTORE_TEST_RENAME="+path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("other process: %v\n%s", err, out)
	}
	if a, err := db.GetAccount(ctx, "800000000002"); err != nil || a.Name != "after" {
		t.Fatalf("after another process's commit: %+v, %v; want name after", a, err)
	}
}

// Opening the read cache must leave the locks SQLite's connections in this
// process hold on the -shm file alone: closing any descriptor of a file
// drops all of a process's POSIX locks on it, and a reader whose read mark
// was dropped can have its pages checkpointed away underneath it. A reader
// is held open while cached stores are opened and closed; another process
// must still be unable to restart the WAL past it.
func TestReadCacheKeepsThisProcessesLocks(t *testing.T) {
	if path := os.Getenv("SQLITESTORE_TEST_CHECKPOINT"); path != "" {
		db, err := sqlitestore.OpenPool(path, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var busy, logFrames, done int
		if _, err := db.Exec(`PRAGMA busy_timeout = 0`); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow(`PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &done); err != nil {
			t.Fatal(err)
		}
		os.Stdout.WriteString("busy=" + map[int]string{0: "0", 1: "1"}[busy] + "\n")
		return
	}
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pb.db")
	sealer := storetest.NewSealer(t)
	first := openStore(t, path, &sqlitestore.Options{Sealer: sealer, NoReadCache: true})
	if err := first.CreateAccount(ctx, account.Account{UIN: "800000000002", Role: account.RoleEndCustomer}); err != nil {
		t.Fatal(err)
	}
	reader, err := sqlitestore.OpenPool(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	tx, err := reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tx.QueryRow(`SELECT count(*) FROM accounts`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		other, err := sqlitestore.Open(ctx, path, &sqlitestore.Options{Sealer: sealer})
		if err != nil {
			t.Fatal(err)
		}
		other.Close()
	}
	checkpoint := func() string {
		cmd := exec.Command(os.Args[0], "-test.run=^TestReadCacheKeepsThisProcessesLocks$")
		cmd.Env = append(os.Environ(), "SQLITESTORE_TEST_CHECKPOINT="+path)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("other process: %v\n%s", err, out)
		}
		return strings.Fields(string(out))[0]
	}
	if got := checkpoint(); got != "busy=1" {
		t.Fatalf("with a read transaction open here, another process's TRUNCATE checkpoint answered %s; want busy=1 (were this process's locks dropped?)", got)
	}
	tx.Rollback()
	if got := checkpoint(); got != "busy=0" {
		t.Fatalf("with no reader left, the checkpoint answered %s; want busy=0", got)
	}
}

// Under concurrent readers, commits to cached tables and unrelated commits
// (the job queue's), no read that starts after a commit has returned may
// answer from before it.
func TestReadCacheNeverAnswersFromBeforeACommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pb.db")
	server := openStore(t, path, &sqlitestore.Options{Sealer: storetest.NewSealer(t)})
	const uin = "800000000002"
	if err := server.CreateAccount(ctx, account.Account{UIN: uin, Role: account.RoleEndCustomer, Name: "0"}); err != nil {
		t.Fatal(err)
	}
	writer, err := sqlitestore.OpenPool(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	noise, err := sqlitestore.OpenPool(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer noise.Close()
	if _, err := noise.Exec(`CREATE TABLE unrelated (x)`); err != nil {
		t.Fatal(err)
	}

	var committed atomic.Int64 // the last name whose commit has returned
	done := make(chan struct{})
	var wg sync.WaitGroup
	// untilDone runs step on a goroutine of its own until done is closed
	// or step returns false.
	untilDone := func(step func() bool) {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if !step() {
					return
				}
			}
		})
	}
	untilDone(func() bool {
		noise.Exec(`INSERT INTO unrelated VALUES (1)`)
		return true
	})
	errs := make(chan error, 4)
	for range 4 {
		untilDone(func() bool {
			floor := committed.Load()
			a, err := server.GetAccount(ctx, uin)
			if err != nil {
				errs <- err
				return false
			}
			if n, _ := strconv.ParseInt(a.Name, 10, 64); n < floor {
				errs <- fmt.Errorf("read name %d after the commit of name %d had returned", n, floor)
				return false
			}
			return true
		})
	}
	for i := int64(1); i <= 300; i++ {
		if _, err := writer.Exec(`UPDATE accounts SET name = ? WHERE uin = ?`, strconv.FormatInt(i, 10), uin); err != nil {
			t.Fatal(err)
		}
		committed.Store(i)
	}
	close(done)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	if server.CacheHits() == 0 {
		t.Fatal("the cache never answered: the test proved nothing")
	}
}
