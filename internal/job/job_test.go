package job

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/partnerbill/partnerbill/internal/billfile"
	"github.com/partnerbill/partnerbill/internal/filestore"
	"github.com/partnerbill/partnerbill/internal/ledger"
	"github.com/partnerbill/partnerbill/internal/store"
	"github.com/partnerbill/partnerbill/internal/store/pgstore"
	"github.com/partnerbill/partnerbill/internal/store/sqlitestore"
	"github.com/partnerbill/partnerbill/internal/store/storetest"
	"github.com/partnerbill/partnerbill/internal/testenv"
)

// bundle is a build queue on one backend, with what the tests need to
// look inside it.
type bundle struct {
	dir   string
	store store.Store
	files *filestore.Store
	ff    *Files
	queue interface {
		Start(context.Context) error
		Stop(context.Context) error
	}
	// list returns the build jobs River holds.
	list func(ctx context.Context) ([]*rivertype.JobRow, error)
	// sqlite is the SQLite queue, for tests of the embedded server alone.
	sqlite *Queue[*sql.Tx]
}

// fastRetry retries at once, so a test sees a build fail for good quickly.
type fastRetry struct{}

func (fastRetry) NextRetry(*rivertype.JobRow) time.Time { return time.Now().Add(10 * time.Millisecond) }

func openFiles(t *testing.T, dir string) *filestore.Store {
	t.Helper()
	files, err := filestore.Open(context.Background(), "", filestore.Options{DataDir: dir, PublicURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { files.Close() })
	return files
}

func setupSQLite(t *testing.T) *bundle {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "pb.db")
	st, err := sqlitestore.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	riverDB, err := sqlitestore.OpenQueuePool(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { riverDB.Close() })
	files := openFiles(t, dir)
	q, err := NewSQLiteQueue(ctx, riverDB, st, files, Options{RetryPolicy: fastRetry{}})
	if err != nil {
		t.Fatal(err)
	}
	return &bundle{dir: dir, store: st, files: files, queue: q, ff: &Files{Store: st, Queue: q}, list: q.list, sqlite: q}
}

func setupPostgres(t *testing.T) *bundle {
	t.Helper()
	ctx := context.Background()
	url := testenv.PostgresURL(t)
	schema := testenv.NewSchema(t, url)
	st, err := pgstore.Open(ctx, url, &pgstore.Options{Schema: schema, MaxConns: 6})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	dir := t.TempDir()
	files := openFiles(t, dir)
	q, err := NewPostgresQueue(ctx, st.Pool(), schema, st, files, Options{RetryPolicy: fastRetry{}})
	if err != nil {
		t.Fatal(err)
	}
	return &bundle{dir: dir, store: st, files: files, queue: q, ff: &Files{Store: st, Queue: q}, list: q.list}
}

// eachBackend runs test on the embedded SQLite queue and on PostgreSQL:
// the queue's behaviour is the same contract on both.
func eachBackend(t *testing.T, test func(t *testing.T, b *bundle)) {
	for name, setup := range map[string]func(*testing.T) *bundle{"sqlite": setupSQLite, "postgres": setupPostgres} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, setup(t))
		})
	}
}

func (b *bundle) start(t *testing.T) {
	t.Helper()
	if err := b.queue.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		b.queue.Stop(ctx)
	})
}

var dec2024 = ledger.Month{Year: 2024, Mon: time.December}

// waitReady polls Ensure the way a client polls the API.
func (b *bundle) waitReady(t *testing.T, owner string, k billfile.Kind) (Status, error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		st, err := b.ff.Ensure(context.Background(), owner, dec2024, k)
		if err != nil || st.Ready {
			return st, err
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("file not ready after 30s")
	return Status{}, nil
}

func (b *bundle) jobs(t *testing.T) []*rivertype.JobRow {
	t.Helper()
	jobs, err := b.list(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return jobs
}

// list returns the build jobs River holds.
func (q *Queue[TTx]) list(ctx context.Context) ([]*rivertype.JobRow, error) {
	res, err := q.client.JobList(ctx, river.NewJobListParams().Kinds(BuildArgs{}.Kind()).First(1000))
	if err != nil {
		return nil, err
	}
	return res.Jobs, nil
}

func importRows(t *testing.T, s store.Store, rows ...ledger.Row) {
	t.Helper()
	if _, err := s.ImportRows(context.Background(), func(yield func(ledger.Row, error) bool) {
		for _, r := range rows {
			if !yield(r, nil) {
				return
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
}

func readObject(t *testing.T, b *bundle, key string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(b.dir, "files", filepath.FromSlash(key)))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestFiftyFirstRequestsQueueOneBuild(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *bundle) {
		importRows(t, b.store, storetest.Row("1", "800000000002", "2024-12-01 00:00:00"))
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for range 50 {
			wg.Go(func() {
				st, err := b.ff.Ensure(context.Background(), "800000000002", dec2024, billfile.L3)
				if err == nil && st.Ready {
					err = errors.New("ready before any build ran")
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if n := len(b.jobs(t)); n != 1 {
			t.Fatalf("50 first requests queued %d builds, want 1", n)
		}
		b.start(t)
		st, err := b.waitReady(t, "800000000002", billfile.L3)
		if err != nil {
			t.Fatal(err)
		}
		if got := readObject(t, b, st.ObjectKey); strings.Count(got, "\n") != 2 {
			t.Errorf("file has %d lines, want header + 1 row:\n%s", strings.Count(got, "\n"), got)
		}
		if n := len(b.jobs(t)); n != 1 {
			t.Errorf("%d builds ran, want 1", n)
		}
	})
}

func TestNewImportMeansNewFile(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *bundle) {
		b.start(t)
		const o = "800000000002"
		importRows(t, b.store, storetest.Row("1", o, "2024-12-01 00:00:00"))
		first, err := b.waitReady(t, o, billfile.L3)
		if err != nil {
			t.Fatal(err)
		}
		importRows(t, b.store, storetest.Row("2", o, "2024-12-02 00:00:00"))
		st, err := b.ff.Ensure(context.Background(), o, dec2024, billfile.L3)
		if err != nil {
			t.Fatal(err)
		}
		if st.Ready {
			t.Fatal("after an import the old file was handed out as current")
		}
		second, err := b.waitReady(t, o, billfile.L3)
		if err != nil {
			t.Fatal(err)
		}
		if second.ObjectKey == first.ObjectKey {
			t.Fatal("the new file overwrote the old one's key")
		}
		if got := readObject(t, b, second.ObjectKey); !strings.Contains(got, ",2,") && strings.Count(got, "\n") != 3 {
			t.Errorf("new file lacks the new row:\n%s", got)
		}
		if got := readObject(t, b, first.ObjectKey); strings.Count(got, "\n") != 2 {
			t.Errorf("old file changed:\n%s", got)
		}
	})
}

func TestEmptyMonthIsReadyHeaderOnly(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *bundle) {
		b.start(t)
		st, err := b.waitReady(t, "800000000077", billfile.L2)
		if err != nil {
			t.Fatal(err)
		}
		if got := readObject(t, b, st.ObjectKey); got != strings.Join(billfile.L2Columns, ",")+"\n" {
			t.Errorf("empty month file = %q, want the header alone", got)
		}
	})
}

func TestBuildFailingForGoodIsReportedOnceThenRetried(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *bundle) {
		const o = "800000000002"
		importRows(t, b.store, storetest.Row("1", o, "2024-12-01 00:00:00"))
		// A file where the customer's folder should be: every write fails.
		blocker := filepath.Join(b.dir, "files", "bills", o)
		if err := os.MkdirAll(filepath.Dir(blocker), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(blocker, []byte("in the way"), 0o644); err != nil {
			t.Fatal(err)
		}
		b.start(t)
		_, err := b.waitReady(t, o, billfile.L3)
		if !errors.Is(err, ErrBuildFailed) {
			t.Fatalf("err = %v, want ErrBuildFailed", err)
		}
		// River finalizes the job just after Work returns its last error.
		var jobs []*rivertype.JobRow
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if jobs = b.jobs(t); len(jobs) == 1 && jobs[0].State == rivertype.JobStateDiscarded {
				break
			}
		}
		if len(jobs) != 1 || jobs[0].State != rivertype.JobStateDiscarded || jobs[0].Attempt != MaxAttempts {
			t.Fatalf("jobs = %d, first state %s after %d attempts; want 1 discarded after %d", len(jobs), jobs[0].State, jobs[0].Attempt, MaxAttempts)
		}
		// The fault is gone: the next request queues a fresh build that works.
		if err := os.Remove(blocker); err != nil {
			t.Fatal(err)
		}
		st, err := b.waitReady(t, o, billfile.L3)
		if err != nil || !st.Ready {
			t.Fatalf("after the fault cleared: %+v, %v", st, err)
		}
		if n := len(b.jobs(t)); n != 2 {
			t.Errorf("%d builds, want 2 (the failed one and the fresh one)", n)
		}
	})
}

func TestRescueOrphansResumesABuildLeftRunning(t *testing.T) {
	t.Parallel()
	b := setupSQLite(t)
	const o = "800000000002"
	importRows(t, b.store, storetest.Row("1", o, "2024-12-01 00:00:00"))
	if _, err := b.ff.Ensure(context.Background(), o, dec2024, billfile.L3); err != nil {
		t.Fatal(err)
	}
	// Mark the queued build running, as a process killed mid-build leaves it.
	exec := b.sqlite.driver.GetExecutor()
	if err := exec.Exec(context.Background(), `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = datetime('now')`); err != nil {
		t.Fatal(err)
	}
	n, err := b.sqlite.RescueOrphans(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("RescueOrphans = %d, %v; want 1", n, err)
	}
	b.start(t)
	if _, err := b.waitReady(t, o, billfile.L3); err != nil {
		t.Fatal(err)
	}
}
