// Package storetest checks any store.Store against what partnerbill relies
// on. Every backend runs the same suite (Run) from its own test, so a
// behaviour the API needs is specified once.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/partnerbill/partnerbill/internal/account"
	"github.com/partnerbill/partnerbill/internal/ledger"
	"github.com/partnerbill/partnerbill/internal/store"
)

// Open returns a fresh, migrated, empty store that is closed at test
// cleanup.
type Open func(t *testing.T) store.Store

// Run runs the conformance suite against stores from open.
func Run(t *testing.T, open Open) {
	t.Run("Accounts", func(t *testing.T) { testAccounts(t, open) })
	t.Run("Keys", func(t *testing.T) { testKeys(t, open) })
	t.Run("ImportIsIdempotent", func(t *testing.T) { testImportIdempotent(t, open) })
	t.Run("ImportConflictStoresNothing", func(t *testing.T) { testImportConflict(t, open) })
	t.Run("ImportErrorStoresNothing", func(t *testing.T) { testImportError(t, open) })
	t.Run("LedgerVersionMovesOnNewRows", func(t *testing.T) { testLedgerVersion(t, open) })
	t.Run("LineItemsByTimeAreBytewise", func(t *testing.T) { testOrderByTime(t, open) })
	t.Run("LineItemsByInstance", func(t *testing.T) { testOrderByInstance(t, open) })
	t.Run("LineItemsKeepEveryFieldExactly", func(t *testing.T) { testRoundTrip(t, open) })
	t.Run("BillFiles", func(t *testing.T) { testBillFiles(t, open) })
	t.Run("ImportConflictNamesIdAndField", func(t *testing.T) { testConflictMessage(t, open) })
	t.Run("ImportRepeatedIdInOneFile", func(t *testing.T) { testRepeatedId(t, open) })
	t.Run("ImportSpansMonths", func(t *testing.T) { testImportSpansMonths(t, open) })
	t.Run("LineItemsStopEarly", func(t *testing.T) { testLineItemsStopEarly(t, open) })
}

var month = ledger.Month{Year: 2024, Mon: time.December}

// Row returns a valid line item of owner in month 2024-12 with the given Id
// and TransactionTime.
func Row(id, owner, txTime string) ledger.Row {
	return ledger.Row{
		BillMonth:                     month,
		PayerAccountId:                "800000400309",
		OwnerAccountId:                owner,
		OperatorAccountId:             owner,
		ProductName:                   "cloud block storage",
		BillingMode:                   "Pay-As-You-Go resources",
		ProjectName:                   "default",
		Region:                        "East China\u00a0(Shanghai)",
		AvailabilityZone:              "Shanghai Zone 1",
		InstanceId:                    "disk-ekoob7ok",
		InstanceName:                  "HDD cloud",
		SubProductName:                "HDD cloud block storage",
		TransactionType:               "Hourly settlement",
		TransactionId:                 "20241228722000247298552",
		TransactionTime:               txTime,
		UsageStartTime:                "2024-12-28 12:00:00",
		UsageEndTime:                  "2024-12-28 12:59:59",
		ComponentType:                 "volume size",
		ComponentName:                 "HDD cloud block storage-volume size",
		ComponentListPrice:            "0.00000003",
		ComponentPriceMeasurementUnit: "USD/GB/Second",
		ComponentUsage:                "250",
		ComponentUsageUnit:            "GB",
		UsageDuration:                 "478",
		DurationUnit:                  "Second",
		OriginalCost:                  "0.003585",
		DiscountRate:                  "1",
		Currency:                      "USD",
		TotalAmountAfterDiscount:      "0.003585",
		VoucherDeduction:              "0",
		TotalCost:                     "0.003585",
		Id:                            id,
		CustomerDiscountRate:          "1",
	}
}

func seq(rows ...ledger.Row) iter.Seq2[ledger.Row, error] {
	return func(yield func(ledger.Row, error) bool) {
		for _, r := range rows {
			if !yield(r, nil) {
				return
			}
		}
	}
}

func mustImport(t *testing.T, s store.Store, rows ...ledger.Row) store.ImportStats {
	t.Helper()
	st, err := s.ImportRows(context.Background(), seq(rows...))
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return st
}

func collect(t *testing.T, s store.Store, q ledger.Query) []ledger.Row {
	t.Helper()
	var out []ledger.Row
	for r, err := range s.LineItems(context.Background(), q) {
		if err != nil {
			t.Fatalf("line items: %v", err)
		}
		out = append(out, r)
	}
	return out
}

func ids(rows []ledger.Row) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.Id)
	}
	return out
}

func testAccounts(t *testing.T, open Open) {
	t.Parallel()
	s := open(t)
	ctx := context.Background()
	a := account.Account{UIN: "800000000002", Role: account.RoleEndCustomer, Name: "Ünïcode, \"quoted\"", ResellerUIN: "800000000001"}
	if err := s.CreateAccount(ctx, account.Account{UIN: "800000000001", Role: account.RoleReseller}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAccount(ctx, a); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("second create: err = %v, want ErrDuplicate", err)
	}
	got, err := s.GetAccount(ctx, a.UIN)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, got, cmpIgnoreTime); diff != "" {
		t.Errorf("GetAccount (-want +got):\n%s", diff)
	}
	if _, err := s.GetAccount(ctx, "1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing account: err = %v, want ErrNotFound", err)
	}
	list, err := s.ListAccounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var uins []string
	for _, x := range list {
		uins = append(uins, x.UIN)
	}
	if diff := cmp.Diff([]string{"800000000001", "800000000002"}, uins); diff != "" {
		t.Errorf("ListAccounts (-want +got):\n%s", diff)
	}
}

var cmpIgnoreTime = cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".CreatedAt" }, cmp.Ignore())

func testKeys(t *testing.T, open Open) {
	t.Parallel()
	s := open(t)
	ctx := context.Background()
	if err := s.CreateKey(ctx, account.NewKey("800000000009", time.Now())); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("key for a missing account: err = %v, want ErrNotFound", err)
	}
	if err := s.CreateAccount(ctx, account.Account{UIN: "800000000009", Role: account.RoleEndCustomer}); err != nil {
		t.Fatal(err)
	}
	k := account.NewKey("800000000009", time.Now())
	if err := s.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetKey(ctx, k.SecretID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(k, got, cmpIgnoreTime); diff != "" {
		t.Errorf("GetKey (-want +got):\n%s", diff)
	}
	if err := s.DisableKey(ctx, k.SecretID); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetKey(ctx, k.SecretID); !got.Disabled {
		t.Error("key still enabled after DisableKey")
	}
	if err := s.DisableKey(ctx, "AKIDnope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("disable unknown key: err = %v, want ErrNotFound", err)
	}
	if _, err := s.GetKey(ctx, "AKIDnope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown key: err = %v, want ErrNotFound", err)
	}
}

func testImportIdempotent(t *testing.T, open Open) {
	t.Parallel()
	s := open(t)
	rows := []ledger.Row{Row("1", "800000000002", "2024-12-01 00:00:00"), Row("2", "800000000002", "2024-12-02 00:00:00")}
	if got := mustImport(t, s, rows...); got != (store.ImportStats{Rows: 2, Added: 2}) {
		t.Errorf("first import: %+v", got)
	}
	if got := mustImport(t, s, rows...); got != (store.ImportStats{Rows: 2, Unchanged: 2}) {
		t.Errorf("second import: %+v", got)
	}
	if n := len(collect(t, s, ledger.Query{OwnerUIN: "800000000002", Month: month})); n != 2 {
		t.Errorf("rows = %d, want 2", n)
	}
}

func testImportConflict(t *testing.T, open Open) {
	t.Parallel()
	s := open(t)
	mustImport(t, s, Row("1", "800000000002", "2024-12-01 00:00:00"))
	changed := Row("1", "800000000002", "2024-12-01 00:00:00")
	changed.TotalCost = "0.003586"
	_, err := s.ImportRows(context.Background(), seq(Row("5", "800000000002", "2024-12-05 00:00:00"), changed))
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("err = %v, want ErrConflict", err)
	}
	if got := ids(collect(t, s, ledger.Query{OwnerUIN: "800000000002", Month: month})); !cmp.Equal(got, []string{"1"}) {
		t.Errorf("after a conflicting import the ledger holds %v, want only [1]", got)
	}
}

func testImportError(t *testing.T, open Open) {
	t.Parallel()
	s := open(t)
	boom := errors.New("bad row 3")
	rows := func(yield func(ledger.Row, error) bool) {
		_ = yield(Row("1", "800000000002", "2024-12-01 00:00:00"), nil) &&
			yield(Row("2", "800000000002", "2024-12-02 00:00:00"), nil) &&
			yield(ledger.Row{}, boom)
	}
	if _, err := s.ImportRows(context.Background(), rows); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the reader's error", err)
	}
	if got := collect(t, s, ledger.Query{OwnerUIN: "800000000002", Month: month}); len(got) != 0 {
		t.Errorf("a failed import left %d rows", len(got))
	}
	if v, _ := s.LedgerVersion(context.Background(), "800000000002", month); v != 0 {
		t.Errorf("a failed import moved the version to %d", v)
	}
}

func testLedgerVersion(t *testing.T, open Open) {
	t.Parallel()
	s := open(t)
	ctx := context.Background()
	version := func(owner string) int64 {
		t.Helper()
		v, err := s.LedgerVersion(ctx, owner, month)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := version("800000000002"); v != 0 {
		t.Fatalf("empty ledger version = %d, want 0", v)
	}
	mustImport(t, s, Row("1", "800000000002", "2024-12-01 00:00:00"))
	v1 := version("800000000002")
	mustImport(t, s, Row("1", "800000000002", "2024-12-01 00:00:00")) // nothing new
	if v := version("800000000002"); v != v1 {
		t.Errorf("re-import of the same rows moved the version %d → %d", v1, v)
	}
	mustImport(t, s, Row("2", "800000000002", "2024-12-02 00:00:00"), Row("3", "800000000003", "2024-12-02 00:00:00"))
	if v := version("800000000002"); v <= v1 {
		t.Errorf("new rows left the version at %d", v)
	}
	if v := version("800000000003"); v == 0 {
		t.Error("other owner's version did not move")
	}
	if v, _ := s.LedgerVersion(ctx, "800000000002", ledger.Month{Year: 2024, Mon: time.November}); v != 0 {
		t.Errorf("other month's version = %d, want 0", v)
	}
}

func testOrderByTime(t *testing.T, open Open) {
	t.Parallel()
	s := open(t)
	const o = "800000000002"
	// Ids that sort differently byte-wise than in most locales.
	mustImport(t, s,
		Row("b", o, "2024-12-02 00:00:00"),
		Row("a", o, "2024-12-02 00:00:00"),
		Row("B", o, "2024-12-02 00:00:00"),
		Row("é", o, "2024-12-02 00:00:00"),
		Row("z", o, "2024-12-01 23:59:59"),
		Row("x", "800000000003", "2024-12-01 00:00:00"),
	)
	got := ids(collect(t, s, ledger.Query{OwnerUIN: o, Month: month, Order: ledger.OrderByTime}))
	if diff := cmp.Diff([]string{"z", "B", "a", "b", "é"}, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

func testOrderByInstance(t *testing.T, open Open) {
	t.Parallel()
	s := open(t)
	const o = "800000000002"
	row := func(id, product, instance, txType string) ledger.Row {
		r := Row(id, o, "2024-12-0"+id+" 00:00:00")
		r.ProductName, r.InstanceId, r.TransactionType = product, instance, txType
		return r
	}
	mustImport(t, s,
		row("1", "cvm", "ins-b", "Hourly settlement"),
		row("2", "cbs", "disk-a", "Hourly settlement"),
		row("3", "cvm", "ins-a", "Purchase"),
		row("4", "cvm", "ins-b", "Hourly settlement"),
		row("5", "CVM", "ins-z", "Hourly settlement"),
		row("6", "cvm", "ins-a", "Hourly settlement"),
	)
	got := ids(collect(t, s, ledger.Query{OwnerUIN: o, Month: month, Order: ledger.OrderByInstance}))
	if diff := cmp.Diff([]string{"5", "2", "6", "3", "1", "4"}, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

func testRoundTrip(t *testing.T, open Open) {
	t.Parallel()
	s := open(t)
	r := Row("6383749774386128833", "800000000002", "2024-12-31 23:59:59")
	r.InstanceName = "  spaces kept , \"quotes\"\nnewline 账单 🧾 "
	r.OriginalCost = "99999999999999999999.999999999999"
	r.TotalCost = "-0.000000000001"
	r.OperatorAccountId = ""
	r.UsageStartTime = ""
	mustImport(t, s, r)
	got := collect(t, s, ledger.Query{OwnerUIN: r.OwnerAccountId, Month: month})
	if diff := cmp.Diff([]ledger.Row{r}, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func testBillFiles(t *testing.T, open Open) {
	t.Parallel()
	s := open(t)
	ctx := context.Background()
	key := store.FileKey{OwnerUIN: "800000000002", Month: month, Kind: "L3", Version: 3}
	if _, err := s.GetBillFile(ctx, key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing file: err = %v, want ErrNotFound", err)
	}
	for _, f := range []store.BillFile{
		{FileKey: key, State: store.FileFailed, Error: "disk full"},
		{FileKey: key, State: store.FileReady, ObjectKey: "bills/x.csv", Rows: 10, Bytes: 1234},
	} {
		if err := s.PutBillFile(ctx, f); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetBillFile(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(f, got, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".UpdatedAt" }, cmp.Ignore())); diff != "" {
			t.Errorf("bill file (-want +got):\n%s", diff)
		}
	}
	other := key
	other.Version = 4
	if _, err := s.GetBillFile(ctx, other); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another version: err = %v, want ErrNotFound", err)
	}
	if err := s.DeleteBillFile(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteBillFile(ctx, key); err != nil {
		t.Fatalf("deleting twice: %v", err)
	}
	if _, err := s.GetBillFile(ctx, key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after delete: err = %v, want ErrNotFound", err)
	}
}

// testConflictMessage checks that a conflicting import names the Id and the
// first field that differs, in store.SameLineItem's words, both for a
// changed field and for a line item moved to another bill month.
func testConflictMessage(t *testing.T, open Open) {
	t.Parallel()
	s := open(t)
	old := Row("1", "800000000002", "2024-12-01 00:00:00")
	mustImport(t, s, old)
	changed := old
	changed.ComponentUsage, changed.TotalCost = "251", "0.003586"
	moved := old
	moved.BillMonth = ledger.Month{Year: 2025, Mon: time.January}
	for _, r := range []ledger.Row{changed, moved} {
		_, err := s.ImportRows(context.Background(), seq(Row("2", "800000000002", "2024-12-02 00:00:00"), r))
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("err = %v, want ErrConflict", err)
		}
		if want := store.SameLineItem(old, r).Error(); !strings.Contains(err.Error(), want) {
			t.Errorf("err = %q, want it to say %q", err, want)
		}
	}
	if got := ids(collect(t, s, ledger.Query{OwnerUIN: "800000000002", Month: month})); !cmp.Equal(got, []string{"1"}) {
		t.Errorf("after conflicting imports the ledger holds %v, want only [1]", got)
	}
	if got := collect(t, s, ledger.Query{OwnerUIN: "800000000002", Month: moved.BillMonth}); len(got) != 0 {
		t.Errorf("a conflicting import left %d rows in %s", len(got), moved.BillMonth)
	}
}

// testRepeatedId checks an Id given twice in one file: the first occurrence
// is added and an identical repeat counts as unchanged, as if the file had
// been imported in two parts; a repeat with other content conflicts with
// the first and nothing is stored.
func testRepeatedId(t *testing.T, open Open) {
	t.Parallel()
	s := open(t)
	const o = "800000000002"
	r7 := Row("7", o, "2024-12-07 00:00:00")
	if got := mustImport(t, s, r7, Row("8", o, "2024-12-08 00:00:00"), r7); got != (store.ImportStats{Rows: 3, Added: 2, Unchanged: 1}) {
		t.Errorf("repeated identical row: %+v, want 3 rows, 2 added, 1 unchanged", got)
	}
	r9 := Row("9", o, "2024-12-09 00:00:00")
	r9b := r9
	r9b.InstanceName = "renamed"
	_, err := s.ImportRows(context.Background(), seq(r9, Row("10", o, "2024-12-10 00:00:00"), r9b))
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("repeated Id with other content: err = %v, want ErrConflict", err)
	}
	if want := store.SameLineItem(r9, r9b).Error(); !strings.Contains(err.Error(), want) {
		t.Errorf("err = %q, want it to say %q", err, want)
	}
	if got := ids(collect(t, s, ledger.Query{OwnerUIN: o, Month: month})); !cmp.Equal(got, []string{"7", "8"}) {
		t.Errorf("ledger holds %v, want [7 8]", got)
	}
}

// testImportSpansMonths checks one import carrying two bill months: each
// month's query sees only its rows, and both months' versions move.
func testImportSpansMonths(t *testing.T, open Open) {
	t.Parallel()
	s := open(t)
	ctx := context.Background()
	const o = "800000000002"
	nov := ledger.Month{Year: 2024, Mon: time.November}
	late := Row("n2", o, "2024-12-01 00:30:00") // settled after midnight, billed in November
	late.BillMonth = nov
	early := Row("n1", o, "2024-11-30 23:00:00")
	early.BillMonth = nov
	if got := mustImport(t, s, Row("d1", o, "2024-12-01 00:00:00"), late, early); got != (store.ImportStats{Rows: 3, Added: 3}) {
		t.Errorf("import: %+v", got)
	}
	if got := ids(collect(t, s, ledger.Query{OwnerUIN: o, Month: nov})); !cmp.Equal(got, []string{"n1", "n2"}) {
		t.Errorf("November holds %v, want [n1 n2]", got)
	}
	if got := ids(collect(t, s, ledger.Query{OwnerUIN: o, Month: month})); !cmp.Equal(got, []string{"d1"}) {
		t.Errorf("December holds %v, want [d1]", got)
	}
	for _, m := range []ledger.Month{nov, month} {
		if v, err := s.LedgerVersion(ctx, o, m); err != nil || v == 0 {
			t.Errorf("version of %s = %d, %v; want > 0", m, v, err)
		}
	}
}

// testLineItemsStopEarly checks that a consumer may stop reading line items
// at any row and then use the store again.
func testLineItemsStopEarly(t *testing.T, open Open) {
	t.Parallel()
	s := open(t)
	const o = "800000000002"
	var rows []ledger.Row
	for i := range 300 {
		rows = append(rows, Row(fmt.Sprintf("%03d", i), o, "2024-12-01 00:00:00"))
	}
	mustImport(t, s, rows...)
	q := ledger.Query{OwnerUIN: o, Month: month}
	for range 3 { // more than a small pool's connections, were one leaked
		for r, err := range s.LineItems(context.Background(), q) {
			if err != nil {
				t.Fatal(err)
			}
			if r.Id != "000" {
				t.Fatalf("first row %s, want 000", r.Id)
			}
			break
		}
	}
	if n := len(collect(t, s, q)); n != len(rows) {
		t.Errorf("after early stops: %d rows, want %d", n, len(rows))
	}
}
