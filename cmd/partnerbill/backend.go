package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/partnerbill/partnerbill/internal/filestore"
	"github.com/partnerbill/partnerbill/internal/job"
	"github.com/partnerbill/partnerbill/internal/store"
	"github.com/partnerbill/partnerbill/internal/store/pgstore"
	"github.com/partnerbill/partnerbill/internal/store/sqlitestore"
)

// buildQueue is the part of job.Queue the server drives, whichever
// database it runs on.
type buildQueue interface {
	job.Enqueuer
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	RescueOrphans(ctx context.Context) (int, error)
}

// backend is the database side of a running server: the store and the
// build queue on the same database.
type backend struct {
	store store.Store
	queue buildQueue
	// exclusive is true for the embedded database, whose data folder serve
	// has locked: builds an earlier process left running are its own to
	// resume at once. Replicas sharing PostgreSQL leave that to River's
	// rescuer.
	exclusive bool
	// keyCacheTTL is how long the gateway may reuse a caller's key: the
	// embedded store's own read cache is exact (it sees every commit at
	// once), so there it is zero; PostgreSQL is read once a second.
	keyCacheTTL time.Duration
	closers     []func()
}

func (b *backend) close() {
	for i := len(b.closers) - 1; i >= 0; i-- {
		b.closers[i]()
	}
}

// openBackend opens the configured database, its store and its build
// queue, migrating both unless noMigrate.
func (c *Config) openBackend(ctx context.Context, files *filestore.Store, jo job.Options, noMigrate bool) (*backend, error) {
	kind, err := c.database()
	if err != nil {
		return nil, err
	}
	sealer, err := c.sealer()
	if err != nil {
		return nil, err
	}
	jo.NoMigrate = noMigrate
	b := &backend{}
	if kind == dbPostgres {
		db, err := pgstore.Open(ctx, c.Database, &pgstore.Options{NoMigrate: noMigrate, MaxConns: pgPoolSize, Sealer: sealer})
		if err != nil {
			return nil, c.masterKeyHint(err)
		}
		b.closers = append(b.closers, func() { db.Close() })
		q, err := job.NewPostgresQueue(ctx, db.Pool(), "", db, files, jo)
		if err != nil {
			b.close()
			return nil, err
		}
		b.store, b.queue, b.keyCacheTTL = db, q, time.Second
		return b, nil
	}
	path, err := c.sqlitePath()
	if err != nil {
		return nil, err
	}
	st, err := sqlitestore.Open(ctx, path, &sqlitestore.Options{MaxConns: 4, Sealer: sealer})
	if err != nil {
		return nil, c.masterKeyHint(err)
	}
	b.closers = append(b.closers, func() { st.Close() })
	// River gets a pool of its own: a long build streams the ledger through
	// the store's pool and never holds River's only connection.
	riverDB, err := sqlitestore.OpenQueuePool(path)
	if err != nil {
		b.close()
		return nil, err
	}
	b.closers = append(b.closers, func() { riverDB.Close() })
	q, err := job.NewSQLiteQueue(ctx, riverDB, st, files, jo)
	if err != nil {
		b.close()
		return nil, err
	}
	b.store, b.queue, b.exclusive = st, q, true
	return b, nil
}

func migrateCommand(cfg *Config) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply the database migrations (partnerbill's and the job queue's) and exit",
		Long: `Apply the embedded schema migrations of the configured database and of
its job queue, then exit. serve does the same at start unless --no-migrate;
run this from a deploy pipeline before starting replicas with --no-migrate.
Replicas migrating at once take turns (an advisory lock on PostgreSQL).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			kind, err := cfg.database()
			if err != nil {
				return err
			}
			// The master key too: migrating seals the SecretKeys that
			// versions before sealing stored in plaintext.
			sealer, err := cfg.sealer()
			if err != nil {
				return err
			}
			if kind == dbPostgres {
				db, err := pgstore.Open(ctx, cfg.Database, &pgstore.Options{Sealer: sealer})
				if err != nil {
					return cfg.masterKeyHint(err)
				}
				defer db.Close()
				if err := job.MigratePostgres(ctx, db.Pool(), "", logger); err != nil {
					return err
				}
			} else {
				path, err := cfg.sqlitePath()
				if err != nil {
					return err
				}
				st, err := sqlitestore.Open(ctx, path, &sqlitestore.Options{Sealer: sealer, NoReadCache: true})
				if err != nil {
					return cfg.masterKeyHint(err)
				}
				defer st.Close()
				riverDB, err := sqlitestore.OpenQueuePool(path)
				if err != nil {
					return err
				}
				defer riverDB.Close()
				if err := job.MigrateSQLite(ctx, riverDB, logger); err != nil {
					return err
				}
			}
			fmt.Fprintln(cmd.OutOrStdout(), "migrations applied")
			return nil
		},
	}
}

// pgPoolSize is a replica's PostgreSQL connection pool: River keeps one
// for notifications and a few for fetching and completing jobs, each
// running build streams the ledger through one, and requests need the
// rest.
const pgPoolSize = 16
