// Package job builds bill files in the background with River: a request
// for a file that does not exist yet queues one build, unique per
// (customer, month, file type, ledger version), and the worker streams the
// ledger into the file store.
package job

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/partnerbill/partnerbill/internal/billfile"
	"github.com/partnerbill/partnerbill/internal/filestore"
	"github.com/partnerbill/partnerbill/internal/ledger"
	"github.com/partnerbill/partnerbill/internal/metrics"
	"github.com/partnerbill/partnerbill/internal/store"
)

// BuildArgs names one bill file build. River's uniqueness by args makes
// any number of concurrent first requests queue one build.
type BuildArgs struct {
	OwnerUIN string `json:"owner_uin"`
	Month    string `json:"month"`
	FileType string `json:"file_type"`
	Version  int64  `json:"version"`
}

// Kind implements river.JobArgs.
func (BuildArgs) Kind() string { return "build_bill_file" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (BuildArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		MaxAttempts: MaxAttempts,
		UniqueOpts:  river.UniqueOpts{ByArgs: true},
	}
}

// MaxAttempts is how many times a build is tried before it fails for good.
const MaxAttempts = 5

// RetryPolicy spaces a failed build's attempts 2 s, 10 s, 30 s and 60 s
// apart, so a build that keeps failing is reported (FailedOperation) about
// two minutes after its first failure instead of River's default of hours.
type RetryPolicy struct{}

// NextRetry implements river.ClientRetryPolicy.
func (RetryPolicy) NextRetry(j *rivertype.JobRow) time.Time {
	delays := []time.Duration{2 * time.Second, 10 * time.Second, 30 * time.Second, 60 * time.Second}
	i := min(max(j.Attempt-1, 0), len(delays)-1)
	return time.Now().Add(delays[i])
}

// Builder is the River worker that writes bill files.
type Builder struct {
	river.WorkerDefaults[BuildArgs]
	store   store.Store
	files   *filestore.Store
	timeout time.Duration
	logger  *slog.Logger
	metrics *metrics.Metrics
}

// Timeout implements river.Worker: a large file may take a while.
func (b *Builder) Timeout(*river.Job[BuildArgs]) time.Duration { return b.timeout }

// ObjectKey is where the file of one build is stored. The ledger version
// in the name means a newer build never overwrites a file that a link
// already points at.
func ObjectKey(a BuildArgs) string {
	return fmt.Sprintf("bills/%s/%s/%s-v%d.csv", a.OwnerUIN, a.Month, a.FileType, a.Version)
}

// Work implements river.Worker.
func (b *Builder) Work(ctx context.Context, j *river.Job[BuildArgs]) error {
	a := j.Args
	start := time.Now()
	done := b.metrics.BuildStarted(a.FileType)
	rows, err := b.build(ctx, a)
	final := j.Attempt >= j.MaxAttempts && ctx.Err() == nil
	done(rows, err, final)
	if err == nil {
		return nil
	}
	b.logger.Error("bill file build failed", "owner_uin", a.OwnerUIN, "month", a.Month, "file_type", a.FileType,
		"version", a.Version, "attempt", j.Attempt, "max_attempts", j.MaxAttempts, "seconds", time.Since(start).Seconds(), "err", err)
	if final {
		// Out of retries: record the failure so the next request reports it
		// and queues a fresh build.
		m, _ := ledger.ParseMonth(a.Month)
		if perr := b.store.PutBillFile(context.WithoutCancel(ctx), store.BillFile{
			FileKey: store.FileKey{OwnerUIN: a.OwnerUIN, Month: m, Kind: a.FileType, Version: a.Version},
			State:   store.FileFailed,
			Error:   err.Error(),
		}); perr != nil {
			b.logger.Error("record failed build", "err", perr)
		}
	}
	return err
}

// A build reads ahead at most this many rows per batch and batches: about
// a megabyte of line items, whatever the file's size.
const readaheadBatch, readaheadDepth = 512, 4

// build writes the file and records it; it returns the rows written.
func (b *Builder) build(ctx context.Context, a BuildArgs) (int64, error) {
	m, err := ledger.ParseMonth(a.Month)
	if err != nil {
		return 0, river.JobCancel(fmt.Errorf("job args: %w", err))
	}
	kind, err := billfile.ParseKind(a.FileType)
	if err != nil {
		return 0, river.JobCancel(fmt.Errorf("job args: %w", err))
	}
	start := time.Now()
	key := ObjectKey(a)
	var st billfile.Stats
	err = b.files.Put(ctx, key, filestore.Meta{ContentType: "text/csv; charset=utf-8", FileName: kind.FileName(m)}, func(w io.Writer) error {
		// Reading the ledger and encoding the file run side by side.
		rows := ledger.Readahead(b.store.LineItems(ctx, ledger.Query{OwnerUIN: a.OwnerUIN, Month: m, Order: kind.Order(), Fields: kind.Fields()}),
			readaheadBatch, readaheadDepth)
		var werr error
		st, werr = billfile.Write(w, kind, rows)
		return werr
	})
	if err != nil {
		return st.Rows, err
	}
	if err := b.store.PutBillFile(ctx, store.BillFile{
		FileKey:   store.FileKey{OwnerUIN: a.OwnerUIN, Month: m, Kind: a.FileType, Version: a.Version},
		State:     store.FileReady,
		ObjectKey: key,
		Rows:      st.Rows,
		Bytes:     st.Bytes,
	}); err != nil {
		return st.Rows, fmt.Errorf("record built file: %w", err)
	}
	b.logger.Info("bill file built", "owner_uin", a.OwnerUIN, "month", a.Month, "file_type", a.FileType,
		"version", a.Version, "rows", st.Rows, "bytes", st.Bytes, "seconds", time.Since(start).Seconds())
	return st.Rows, nil
}

// Options tunes a Queue; the zero value means the defaults.
type Options struct {
	// BuildTimeout bounds one build attempt; default 30 minutes. A build
	// still marked running five minutes past that (its process died) is
	// retried by River's rescuer.
	BuildTimeout time.Duration
	// Workers is how many builds run at once in this process; default 2.
	Workers int
	// RetryPolicy replaces RetryPolicy{}, for tests.
	RetryPolicy river.ClientRetryPolicy
	// Logger receives build outcomes; nil discards them.
	Logger *slog.Logger
	// Metrics counts builds; nil records nothing.
	Metrics *metrics.Metrics
	// NoMigrate skips River's migrations (run them with MigrateSQLite or
	// MigratePostgres beforehand).
	NoMigrate bool
}

func (o *Options) defaults() {
	if o.BuildTimeout <= 0 {
		o.BuildTimeout = 30 * time.Minute
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.RetryPolicy == nil {
		o.RetryPolicy = RetryPolicy{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Queue queues and runs builds with River, on the database of TTx: SQLite
// (*sql.Tx) embedded, PostgreSQL (pgx.Tx) scaled out.
type Queue[TTx any] struct {
	client  *river.Client[TTx]
	driver  riverdriver.Driver[TTx]
	logger  *slog.Logger
	metrics *metrics.Metrics
}

// NewSQLiteQueue sets up River on riverDB, a pool with a single connection
// reserved for River (long builds stream the ledger through the store's
// own pool and never hold it), migrating River's tables unless
// opts.NoMigrate.
func NewSQLiteQueue(ctx context.Context, riverDB *sql.DB, st store.Store, files *filestore.Store, opts Options) (*Queue[*sql.Tx], error) {
	opts.defaults()
	driver := riversqlite.New(riverDB)
	if !opts.NoMigrate {
		if err := MigrateSQLite(ctx, riverDB, opts.Logger); err != nil {
			return nil, err
		}
	}
	return newQueue(driver, "", st, files, opts)
}

// MigrateSQLite applies River's migrations to the SQLite database.
func MigrateSQLite(ctx context.Context, riverDB *sql.DB, logger *slog.Logger) error {
	migrator, err := rivermigrate.New(riversqlite.New(riverDB), &rivermigrate.Config{Logger: quiet(logger)})
	if err != nil {
		return err
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrate job queue: %w", err)
	}
	return nil
}

// NewPostgresQueue sets up River on the PostgreSQL pool the store uses, in
// schema ("" for the search path), migrating River's tables unless
// opts.NoMigrate. Every replica runs one; River spreads the builds over
// them.
func NewPostgresQueue(ctx context.Context, pool *pgxpool.Pool, schema string, st store.Store, files *filestore.Store, opts Options) (*Queue[pgx.Tx], error) {
	opts.defaults()
	if !opts.NoMigrate {
		if err := MigratePostgres(ctx, pool, schema, opts.Logger); err != nil {
			return nil, err
		}
	}
	return newQueue(riverpgxv5.New(pool), schema, st, files, opts)
}

// MigratePostgres applies River's migrations while holding a session
// advisory lock, so replicas starting at once migrate one at a time. (Each
// River migration runs in its own transaction: some add enum values that a
// later one uses, which PostgreSQL refuses within one transaction.)
func MigratePostgres(ctx context.Context, pool *pgxpool.Pool, schema string, logger *slog.Logger) error {
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: quiet(logger), Schema: schema})
	if err != nil {
		return err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate job queue: %w", err)
	}
	defer conn.Release()
	const lock = `hashtext('partnerbill river migrate ' || $1)`
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+lock+`)`, schema); err != nil {
		return fmt.Errorf("migrate job queue: lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+lock+`)`, schema)
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrate job queue: %w", err)
	}
	return nil
}

func newQueue[TTx any](driver riverdriver.Driver[TTx], schema string, st store.Store, files *filestore.Store, opts Options) (*Queue[TTx], error) {
	workers := river.NewWorkers()
	river.AddWorker(workers, &Builder{store: st, files: files, timeout: opts.BuildTimeout, logger: opts.Logger, metrics: opts.Metrics})
	client, err := river.NewClient(driver, &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: opts.Workers}},
		Workers:           workers,
		Schema:            schema,
		FetchPollInterval: 200 * time.Millisecond,
		// The queue fetches at most Workers jobs at a time and at most once
		// per cooldown, so Workers/FetchCooldown caps how many builds a
		// second one process starts, however short they are. At River's
		// default (100 ms) that was 20 a second: 2,000 customers asking at
		// the start of a month waited up to 100 s for files that take
		// milliseconds each. Idle polling is set by FetchPollInterval; the
		// cooldown only spaces fetches while jobs keep coming.
		FetchCooldown: 10 * time.Millisecond,
		JobTimeout:    opts.BuildTimeout,
		// A build still "running" this long after it started belongs to a
		// process that died: River's rescuer retries it.
		RescueStuckJobsAfter: opts.BuildTimeout + 5*time.Minute,
		RetryPolicy:          opts.RetryPolicy,
		Logger:               quiet(opts.Logger),
	})
	if err != nil {
		return nil, err
	}
	return &Queue[TTx]{client: client, driver: driver, logger: opts.Logger, metrics: opts.Metrics}, nil
}

// quiet passes River's own logging on at warning level and above.
func quiet(l *slog.Logger) *slog.Logger {
	return slog.New(levelFilter{l.Handler(), slog.LevelWarn})
}

type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (f levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.Handler.Enabled(ctx, l)
}

// Enqueue queues a build unless an identical one is already queued,
// running or done.
func (q *Queue[TTx]) Enqueue(ctx context.Context, a BuildArgs) error {
	res, err := q.client.Insert(ctx, a, nil)
	if err != nil {
		return fmt.Errorf("queue build: %w", err)
	}
	if !res.UniqueSkippedAsDuplicate {
		q.metrics.BuildQueued(a.FileType)
	}
	return nil
}

// RescueOrphans makes builds that a previous process left marked running
// available again at once (available, not retryable: a retryable job waits
// for River's scheduler, which runs on the leader, and the dead process may
// still hold the leadership for a while). Only safe while no other process works this
// queue: the embedded server holds the data folder's lock when it calls
// this. (River's own rescuer would do the same, but only RescueAfter
// later.)
func (q *Queue[TTx]) RescueOrphans(ctx context.Context) (int, error) {
	exec := q.driver.GetExecutor()
	now := time.Now()
	stuck, err := exec.JobGetStuck(ctx, &riverdriver.JobGetStuckParams{Max: 10_000, StuckHorizon: now.Add(time.Second), Schema: q.client.Schema()})
	if err != nil {
		return 0, fmt.Errorf("find orphaned builds: %w", err)
	}
	if len(stuck) == 0 {
		return 0, nil
	}
	p := &riverdriver.JobRescueManyParams{StuckHorizon: now.Add(time.Second), Schema: q.client.Schema()}
	for _, j := range stuck {
		e, _ := json.Marshal(rivertype.AttemptError{At: now, Attempt: j.Attempt, Error: "partnerbill stopped during this build; retried after restart"})
		p.ID = append(p.ID, j.ID)
		p.Error = append(p.Error, e)
		p.FinalizedAt = append(p.FinalizedAt, nil)
		p.ScheduledAt = append(p.ScheduledAt, now)
		p.State = append(p.State, string(rivertype.JobStateAvailable))
	}
	if _, err := exec.JobRescueMany(ctx, p); err != nil {
		return 0, fmt.Errorf("rescue orphaned builds: %w", err)
	}
	return len(stuck), nil
}

// Start starts working builds in the background.
func (q *Queue[TTx]) Start(ctx context.Context) error { return q.client.Start(ctx) }

// Stop cancels running builds (they are retried after a restart) and
// waits for the workers to return, or for ctx.
func (q *Queue[TTx]) Stop(ctx context.Context) error {
	err := q.client.StopAndCancel(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("job queue did not stop in time: %w", err)
	}
	return err
}
