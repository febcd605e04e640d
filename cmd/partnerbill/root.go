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
}

// env is how run reads the environment (os.Getenv in main, a map in tests).
type env func(string) string

// run is the whole program: main calls it with the process's arguments and
// streams, and end-to-end tests call it the same way.
func run(ctx context.Context, args []string, getenv env, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg := &Config{}
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

// openStore opens the configured store for an admin command, applying
// migrations.
func (c *Config) openStore(ctx context.Context) (store.Store, error) {
	kind, err := c.database()
	if err != nil {
		return nil, err
	}
	if kind == dbPostgres {
		return pgstore.Open(ctx, c.Database, nil)
	}
	path, err := c.sqlitePath()
	if err != nil {
		return nil, err
	}
	return sqlitestore.Open(ctx, path, nil)
}
