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
	)
	return root.ExecuteContext(ctx)
}

func envOr(getenv env, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

// databasePath checks the database setting and returns the SQLite file to
// open. Only the embedded database exists in this build; anything else is
// refused, never silently replaced by it.
func (c *Config) databasePath() (string, error) {
	if c.DataDir == "" {
		return "", errors.New("--data-dir must not be empty")
	}
	if c.Database != "" {
		u, err := url.Parse(c.Database)
		scheme := ""
		if err == nil {
			scheme = u.Scheme
		}
		return "", fmt.Errorf("--database %q (scheme %q) is not supported by this build: leave it empty to use SQLite in the data folder", redact(c.Database), scheme)
	}
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

// openStore opens the configured store, applying migrations.
func (c *Config) openStore(ctx context.Context) (*sqlitestore.DB, error) {
	path, err := c.databasePath()
	if err != nil {
		return nil, err
	}
	return sqlitestore.Open(ctx, path, nil)
}
