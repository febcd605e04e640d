package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/partnerbill/partnerbill/internal/account"
	"github.com/partnerbill/partnerbill/internal/ledger"
	"github.com/partnerbill/partnerbill/internal/store"
)

func ledgerCommand(cfg *Config) *cobra.Command {
	cmd := &cobra.Command{Use: "ledger", Short: "Load and generate bill line items"}
	cmd.AddCommand(importCommand(cfg), synthCommand(cfg))
	return cmd
}

func importCommand(cfg *Config) *cobra.Command {
	return &cobra.Command{
		Use:   "import FILE...",
		Short: "Load bill line items from CSV or JSON Lines files, each file atomically",
		Long: `Load bill line items (BillDetailData fields, plus an optional BillMonth
column YYYY-MM) from .csv or .jsonl files. Each file loads completely or not
at all; a bad row names its file, line and column. Rows already in the
ledger with the same Id and content are skipped; the same Id with other
content is an error.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := cfg.openLedgerStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			out := cmd.OutOrStdout()
			failed := 0
			for _, name := range args {
				stats, err := importFile(cmd, st, name)
				if err != nil {
					failed++
					fmt.Fprintf(cmd.ErrOrStderr(), "%v\n", err)
					fmt.Fprintf(out, "not loaded %s: nothing stored\n", name)
					continue
				}
				fmt.Fprintf(out, "loaded %s: %d rows (%d added, %d already in the ledger)\n", name, stats.Rows, stats.Added, stats.Unchanged)
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d files not loaded", failed, len(args))
			}
			return nil
		},
	}
}

// importFile loads one file in one transaction.
func importFile(cmd *cobra.Command, st store.Store, name string) (store.ImportStats, error) {
	format, err := ledger.FormatOf(name)
	if err != nil {
		return store.ImportStats{}, err
	}
	f, err := os.Open(name)
	if err != nil {
		return store.ImportStats{}, err
	}
	defer f.Close()
	var src io.Reader = bufio.NewReaderSize(f, 1<<20)
	if isTerminal(cmd.OutOrStdout()) {
		var size int64 = -1
		if fi, err := f.Stat(); err == nil {
			size = fi.Size()
		}
		bar := progressbar.NewOptions64(size,
			progressbar.OptionSetWriter(cmd.ErrOrStderr()),
			progressbar.OptionSetDescription("importing "+name),
			progressbar.OptionShowBytes(true),
			progressbar.OptionThrottle(200_000_000),
			progressbar.OptionClearOnFinish(),
		)
		defer bar.Finish()
		src = io.TeeReader(src, bar)
	}
	rd, err := ledger.NewReader(name, src, format)
	if err != nil {
		return store.ImportStats{}, err
	}
	// The file is parsed and checked on a goroutine of its own while the
	// store writes, each row with its line number.
	type lineRow struct {
		row  ledger.Row
		line int
	}
	parsed := ledger.Readahead(func(yield func(lineRow, error) bool) {
		for r, err := range rd.All() {
			if !yield(lineRow{r, rd.Line()}, err) {
				return
			}
		}
	}, 512, 4)
	var lines lineIndex
	pos := int64(0)
	stats, err := st.ImportRows(cmd.Context(), func(yield func(ledger.Row, error) bool) {
		for lr, err := range parsed {
			if err == nil {
				pos++
				lines.add(pos, lr.line)
			}
			if !yield(lr.row, err) {
				return
			}
		}
	})
	var pe *ledger.PosError
	var re *store.RowError
	switch {
	case err == nil || errors.As(err, &pe):
		// A reader's error names its own line and column.
	case errors.As(err, &re):
		// A row that conflicts with the ledger: name where it stands.
		err = fmt.Errorf("%s:%d:1: %w", name, lines.lineOf(re.Row), err)
	default:
		err = fmt.Errorf("%s: %w", name, err)
	}
	return stats, err
}

// lineIndex maps a row's position in an import (from 1) to the line of the
// file it starts on. It records only the rows where that line is not the
// previous row's plus one (the first row, and rows after a blank line or a
// record spanning several lines), so for most files it holds one entry.
type lineIndex struct {
	pos  []int64
	line []int
}

func (x *lineIndex) add(pos int64, line int) {
	if n := len(x.pos); n > 0 && int64(line)-int64(x.line[n-1]) == pos-x.pos[n-1] {
		return
	}
	x.pos = append(x.pos, pos)
	x.line = append(x.line, line)
}

func (x *lineIndex) lineOf(pos int64) int {
	i := sort.Search(len(x.pos), func(i int) bool { return x.pos[i] > pos }) - 1
	if i < 0 {
		return 0
	}
	return x.line[i] + int(pos-x.pos[i])
}

// isTerminal reports whether w is a terminal, where progress is worth
// drawing.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func synthCommand(cfg *Config) *cobra.Command {
	var (
		customers, rowsPer int
		month, out, payer  string
		seed               int64
		createAccounts     bool
	)
	cmd := &cobra.Command{
		Use:   "synth --customers N --rows-per-customer N --month YYYY-MM [--seed S] [--out FILE] [--create-accounts]",
		Short: "Write realistic, deterministic synthetic line items as CSV",
		Long: `Write synthetic bill line items for demos, tests and benchmarks: real
product, region and component names, transaction types from the partner API,
amounts with up to 8 decimals and a few refunds. The same flags always give
the same file. With --create-accounts the matching end-customer accounts are
created (bound to the payer as their reseller) and their keys printed as JSON
lines: on stdout when --out is given, else on stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := ledger.ParseMonth(month)
			if err != nil {
				return fmt.Errorf("--month: %w", err)
			}
			if customers < 1 || rowsPer < 0 {
				return errors.New("--customers must be at least 1 and --rows-per-customer at least 0")
			}
			uins, rows, err := ledger.Synth(ledger.SynthOptions{Customers: customers, RowsPerCustomer: rowsPer, Month: m, Seed: seed, PayerUin: payer})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			keysOut := cmd.ErrOrStderr()
			if out != "" {
				f, err := os.Create(out)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
				keysOut = cmd.OutOrStdout()
			}
			bw := bufio.NewWriterSize(w, 1<<20)
			lw := ledger.NewWriter(bw, true)
			for r := range rows {
				if err := lw.Write(&r); err != nil {
					return err
				}
			}
			if err := lw.Flush(); err != nil {
				return err
			}
			if err := bw.Flush(); err != nil {
				return err
			}
			if !createAccounts {
				return nil
			}
			st, err := cfg.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			return createSynthAccounts(cmd, st, uins, payer, keysOut)
		},
	}
	f := cmd.Flags()
	f.IntVar(&customers, "customers", 1, "number of end customers")
	f.IntVar(&rowsPer, "rows-per-customer", 1000, "line items per customer")
	f.StringVar(&month, "month", "", "bill month YYYY-MM (required)")
	f.Int64Var(&seed, "seed", 1, "seed; the same seed gives the same data")
	f.StringVar(&out, "out", "", "write the CSV here instead of stdout")
	f.StringVar(&payer, "payer", "800000400309", "the reseller (payer) UIN of every line item")
	f.BoolVar(&createAccounts, "create-accounts", false, "create the end-customer accounts (and their reseller) and print their keys")
	cmd.MarkFlagRequired("month")
	return cmd
}

// createSynthAccounts makes sure the payer (as a reseller) and each
// customer exist, and prints a key for every customer created now.
func createSynthAccounts(cmd *cobra.Command, st store.Store, uins []string, payer string, out io.Writer) error {
	ctx := cmd.Context()
	if _, err := st.GetAccount(ctx, payer); errors.Is(err, store.ErrNotFound) {
		if err := st.CreateAccount(ctx, account.Account{UIN: payer, Role: account.RoleReseller, Name: "synthetic reseller"}); err != nil {
			return err
		}
	}
	for _, uin := range uins {
		_, err := st.GetAccount(ctx, uin)
		if err == nil {
			continue // already there: its keys were printed when it was made
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		k, err := createAccount(cmd, st, account.Account{UIN: uin, Role: account.RoleEndCustomer, ResellerUIN: payer, Name: "synthetic customer"})
		if err != nil {
			return err
		}
		if err := printJSON(out, k); err != nil {
			return err
		}
	}
	return nil
}
