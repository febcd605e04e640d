package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/partnerbill/partnerbill/internal/account"
	"github.com/partnerbill/partnerbill/internal/store"
	"github.com/partnerbill/partnerbill/internal/store/pgstore"
	"github.com/partnerbill/partnerbill/internal/store/sqlitestore"
)

// Config holds the global settings every command shares; flags override
// their PARTNERBILL_* environment twins.
type Config struct {
	DataDir  string
	Database string
	Storage  string
	// MasterKey is PARTNERBILL_MASTER_KEY, hex. It has no flag, so that it
	// never shows in a process list or a shell history.
	MasterKey string
}

// env is how run reads the environment (os.Getenv in main, a map in tests).
type env func(string) string

// run is the whole program: main calls it with the process's arguments and
// streams, and end-to-end tests call it the same way.
func run(ctx context.Context, args []string, getenv env, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg := &Config{MasterKey: getenv("PARTNERBILL_MASTER_KEY")}
	root := &cobra.Command{
		Use:           "partnerbill",
		Short:         "Self-hosted Tencent Cloud International Partners billing API (intlpartnersmgt 2022-09-28)",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	pf := root.PersistentFlags()
	pf.StringVar(&cfg.DataDir, "data-dir", envOr(getenv, "PARTNERBILL_DATA_DIR", "./partnerbill-data"),
		"folder for the embedded database, bill files and keys (env PARTNERBILL_DATA_DIR)")
	pf.StringVar(&cfg.Database, "database", getenv("PARTNERBILL_DATABASE"),
		"database URL; empty means SQLite in the data folder (env PARTNERBILL_DATABASE)")
	pf.StringVar(&cfg.Storage, "storage", getenv("PARTNERBILL_STORAGE"),
		"bill file storage URL; empty means files under the data folder, or file:///PATH (env PARTNERBILL_STORAGE)")
	var cpuProfile, memProfile, traceFile string
	pf.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole command to this file")
	pf.StringVar(&memProfile, "memprofile", "", "write an allocation profile to this file when the command ends")
	pf.StringVar(&traceFile, "trace", "", "write a Go execution trace of the whole command to this file (go tool trace)")
	stopProfiles := func() {}
	defer func() { stopProfiles() }()
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		stop, err := startProfiles(cpuProfile, memProfile, traceFile)
		if err != nil {
			return err
		}
		stopProfiles = stop
		return nil
	}
	root.AddCommand(
		serveCommand(cfg, getenv),
		accountCommand(cfg),
		keyCommand(cfg),
		ledgerCommand(cfg),
		migrateCommand(cfg),
	)
	return root.ExecuteContext(ctx)
}

func envOr(getenv env, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

// dbKind is which database a Config names.
type dbKind int

const (
	dbSQLite dbKind = iota
	dbPostgres
)

// database checks the database setting: empty means SQLite in the data
// folder, postgres:// or postgresql:// a PostgreSQL server. Anything else
// is refused, never silently replaced by the default.
func (c *Config) database() (dbKind, error) {
	if c.DataDir == "" {
		return 0, errors.New("--data-dir must not be empty")
	}
	if c.Database == "" {
		return dbSQLite, nil
	}
	u, err := url.Parse(c.Database)
	if err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		return dbPostgres, nil
	}
	scheme := ""
	if err == nil {
		scheme = u.Scheme
	}
	return 0, fmt.Errorf("--database %q (scheme %q) is not supported: use postgres://USER@HOST:PORT/DB, or leave it empty for SQLite in the data folder", redact(c.Database), scheme)
}

// sqlitePath returns the embedded database file, creating the data folder.
func (c *Config) sqlitePath() (string, error) {
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return "", fmt.Errorf("data folder: %w", err)
	}
	return filepath.Join(c.DataDir, "partnerbill.db"), nil
}

// redact hides a password in a URL before it is printed.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

// masterKeyFile is where the embedded database's master key is kept,
// unless PARTNERBILL_MASTER_KEY is set.
const masterKeyFile = "master.key"

// sealer returns the Sealer of the master key that SecretKeys are sealed
// with: PARTNERBILL_MASTER_KEY, or else, on the embedded database,
// DATA_DIR/master.key, created on first use. On PostgreSQL the variable is
// required: every replica and admin command must share one master key,
// and a key file would give each machine its own.
func (c *Config) sealer() (*account.Sealer, error) {
	kind, err := c.database()
	if err != nil {
		return nil, err
	}
	if kind == dbPostgres && c.MasterKey == "" {
		return nil, errors.New("PARTNERBILL_MASTER_KEY is not set: on PostgreSQL every replica and admin command must seal and open SecretKeys " +
			"with the same master key; generate one once (openssl rand -hex 32) and set it, identically, everywhere")
	}
	k, err := account.LoadMasterKey(c.MasterKey, filepath.Join(c.DataDir, masterKeyFile))
	if err != nil {
		return nil, err
	}
	return account.NewSealer(k)
}

// masterKeyHint explains a store refused for its master key.
func (c *Config) masterKeyHint(err error) error {
	if !errors.Is(err, account.ErrWrongMasterKey) {
		return err
	}
	from := "PARTNERBILL_MASTER_KEY"
	if c.MasterKey == "" {
		from = filepath.Join(c.DataDir, masterKeyFile)
	}
	return fmt.Errorf("%w: the master key came from %s; use the one the database was first opened with "+
		"(every replica and admin command must share it, see SECURITY.md)", err, from)
}

// openStore opens the configured store for an admin command, applying
// migrations, with the master key.
func (c *Config) openStore(ctx context.Context) (store.Store, error) {
	return c.open(ctx, true)
}

// openLedgerStore opens the configured store, applying migrations, for a
// command that never reads or writes a key (ledger import): without the
// master key, so that an import job needs no access to it.
func (c *Config) openLedgerStore(ctx context.Context) (store.Store, error) {
	return c.open(ctx, false)
}

func (c *Config) open(ctx context.Context, keys bool) (store.Store, error) {
	kind, err := c.database()
	if err != nil {
		return nil, err
	}
	var sealer *account.Sealer
	if keys {
		if sealer, err = c.sealer(); err != nil {
			return nil, err
		}
	}
	if kind == dbPostgres {
		db, err := pgstore.Open(ctx, c.Database, &pgstore.Options{Sealer: sealer})
		if err != nil {
			return nil, c.masterKeyHint(err)
		}
		return db, nil
	}
	path, err := c.sqlitePath()
	if err != nil {
		return nil, err
	}
	// Admin commands read once: no read cache (serve has one).
	db, err := sqlitestore.Open(ctx, path, &sqlitestore.Options{Sealer: sealer, NoReadCache: true})
	if err != nil {
		return nil, c.masterKeyHint(err)
	}
	return db, nil
}
