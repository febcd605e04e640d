// Package storetest checks any store.Store against what partnerbill relies
// on. Every backend runs the same suite (Run) from its own test, so a
// behaviour the API needs is specified once.
package storetest

import (
	"context"
	"crypto/rand"
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
// cleanup. It opens it with a master key (NewSealer), and the store must
// implement RawKeys in its test build.
type Open func(t *testing.T) store.Store

// RawKeys looks under the seam: a backend's test build exposes it (from an
// export_test.go file), reading and writing the stored form of a key's
// SecretKey with SQL, so that the suite can check what the database
// actually holds.
type RawKeys interface {
	// RawSecretKey returns the SecretKey column of secretID as stored.
	RawSecretKey(ctx context.Context, secretID string) (string, error)
	// SetRawSecretKey overwrites it, as an attacker with write access to
	// the database, or a damaged backup, would.
	SetRawSecretKey(ctx context.Context, secretID, raw string) error
}

// NewSealer returns a Sealer under a fresh random master key, for opening
// stores in tests.
func NewSealer(t testing.TB) *account.Sealer {
	t.Helper()
	k := make([]byte, account.MasterKeySize)
	rand.Read(k)
	s, err := account.NewSealer(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Run runs the conformance suite against stores from open.
func Run(t *testing.T, open Open) {
	t.Run("Accounts", func(t *testing.T) { testAccounts(t, open) })
	t.Run("Keys", func(t *testing.T) { testKeys(t, open) })
	t.Run("KeyRotationExpiresTheOldKey", func(t *testing.T) { testKeyRotation(t, open) })
	t.Run("SecretKeysAreSealedAtRest", func(t *testing.T) { testSealedAtRest(t, open) })
	t.Run("SealedKeyIsBoundToItsRow", func(t *testing.T) { testSealedKeySwap(t, open) })
	t.Run("KeySealedUnderAnotherMasterKeyFails", func(t *testing.T) { testForeignMasterKey(t, open) })
	t.Run("PlaintextKeyIsNeverServed", func(t *testing.T) { testPlaintextKeyRefused(t, open) })
	t.Run("ImportIsIdempotent", func(t *testing.T) { testImportIdempotent(t, open) })
	t.Run("ImportConflictStoresNothing", func(t *testing.T) { testImportConflict(t, open) })
	t.Run("ImportErrorStoresNothing", func(t *testing.T) { testImportError(t, open) })
	t.Run("LedgerVersionMovesOnNewRows", func(t *testing.T) { testLedgerVersion(t, open) })
	t.Run("LineItemsByTimeAreBytewise", func(t *testing.T) { testOrderByTime(t, open) })
	t.Run("LineItemsByInstance", func(t *testing.T) { testOrderByInstance(t, open) })
	t.Run("LineItemsReadTheFieldsAsked", func(t *testing.T) { testLineItemFields(t, open) })
	t.Run("LineItemsKeepEveryFieldExactly", func(t *testing.T) { testRoundTrip(t, open) })
	t.Run("BillFiles", func(t *testing.T) { testBillFiles(t, open) })
	t.Run("CurrentBillFileFollowsTheLedgerVersion", func(t *testing.T) { testCurrentBillFile(t, open) })
	t.Run("ImportConflictNamesIdAndField", func(t *testing.T) { testConflictMessage(t, open) })
	t.Run("ImportRepeatedIdInOneFile", func(t *testing.T) { testRepeatedId(t, open) })
	t.Run("ImportSpansMonths", func(t *testing.T) { testImportSpansMonths(t, open) })
	t.Run("ImportMixesNewAndKnownRows", func(t *testing.T) { testImportMixed(t, open) })
	t.Run("ImportConflictNamesItsRow", func(t *testing.T) { testConflictPosition(t, open) })
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

	// Column by column, not the columns run together: "a" then "bz" comes
	// before "ab" then "", and "ab" then "" before "ab" then " ".
	const p = "800000000003"
	split := func(id, product, sub string) ledger.Row {
		r := Row(id, p, "2024-12-01 00:00:"+id)
		r.ProductName, r.SubProductName = product, sub
		return r
	}
	mustImport(t, s, split("11", "ab", " "), split("12", "ab", ""), split("13", "a", "bz"), split("14", "a\u00e9", ""))
	got = ids(collect(t, s, ledger.Query{OwnerUIN: p, Month: month, Order: ledger.OrderByInstance, Fields: []string{"Id"}}))
	if diff := cmp.Diff([]string{"13", "12", "11", "14"}, got); diff != "" {
		t.Errorf("order of keys that are prefixes of each other (-want +got):\n%s", diff)
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

// rawKeys returns s's RawKeys, failing the test if the backend does not
// expose them.
func rawKeys(t *testing.T, s store.Store) RawKeys {
	t.Helper()
	r, ok := s.(RawKeys)
	if !ok {
		t.Fatalf("%T does not implement storetest.RawKeys in its test build: the suite cannot check that SecretKeys are sealed at rest", s)
	}
	return r
}

// newKeyOf creates an end-customer account uin and one key of it.
func newKeyOf(t *testing.T, s store.Store, uin string) account.Key {
	t.Helper()
	ctx := context.Background()
	if err := s.CreateAccount(ctx, account.Account{UIN: uin, Role: account.RoleEndCustomer}); err != nil && !errors.Is(err, store.ErrDuplicate) {
		t.Fatal(err)
	}
	k := account.NewKey(uin, time.Now())
	if err := s.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	return k
}

// testKeyRotation checks RotateKey with an injected clock: the old key
// stays active until the grace period ends and is inactive from then on,
// exactly like a disabled key; a later rotation can shorten the grace but
// never extend it; and a rotation that fails stores nothing.
func testKeyRotation(t *testing.T, open Open) {
	t.Parallel()
	s := open(t)
	ctx := context.Background()
	old := newKeyOf(t, s, "800000000021")
	now := time.Date(2025, time.March, 1, 12, 0, 0, 0, time.UTC)
	get := func(id string) account.Key {
		t.Helper()
		k, err := s.GetKey(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	if k := get(old.SecretID); !k.ExpiresAt.IsZero() || !k.Active(now.AddDate(100, 0, 0)) {
		t.Fatalf("a new key expires at %v; want never", k.ExpiresAt)
	}

	next := account.NewKey(old.UIN, now)
	if err := s.RotateKey(ctx, old.SecretID, next, now.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	k := get(old.SecretID)
	if !k.ExpiresAt.Equal(now.Add(24 * time.Hour)) {
		t.Errorf("old key expires at %v, want %v", k.ExpiresAt, now.Add(24*time.Hour))
	}
	for _, c := range []struct {
		at   time.Time
		want bool
	}{
		{now, true},
		{now.Add(24*time.Hour - time.Microsecond), true},
		{now.Add(24 * time.Hour), false},
		{now.Add(25 * time.Hour), false},
	} {
		if got := k.Active(c.at); got != c.want {
			t.Errorf("old key active at %v = %v, want %v", c.at, got, c.want)
		}
	}
	if n := get(next.SecretID); n.SecretKey != next.SecretKey || n.UIN != old.UIN || !n.ExpiresAt.IsZero() || !n.Active(now.AddDate(1, 0, 0)) {
		t.Errorf("new key after rotation: %+v", n)
	}

	// A shorter grace moves the end earlier; a longer one leaves it.
	if err := s.RotateKey(ctx, old.SecretID, account.NewKey(old.UIN, now), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.RotateKey(ctx, old.SecretID, account.NewKey(old.UIN, now), now.Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if k := get(old.SecretID); !k.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Errorf("after a shorter then a longer grace the old key expires at %v, want %v", k.ExpiresAt, now.Add(time.Hour))
	}
	// A grace of zero ends the key at once.
	if err := s.RotateKey(ctx, next.SecretID, account.NewKey(old.UIN, now), now); err != nil {
		t.Fatal(err)
	}
	if k := get(next.SecretID); k.Active(now) {
		t.Errorf("a key rotated with no grace is still active: %+v", k)
	}
	// Disabled wins over any expiry.
	if err := s.DisableKey(ctx, old.SecretID); err != nil {
		t.Fatal(err)
	}
	if get(old.SecretID).Active(now) {
		t.Error("a disabled key within its grace period is active")
	}

	// Failed rotations store nothing.
	orphan := account.NewKey(old.UIN, now)
	if err := s.RotateKey(ctx, "AKIDnope", orphan, now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rotate an unknown key: err = %v, want ErrNotFound", err)
	}
	other := newKeyOf(t, s, "800000000022")
	stranger := account.NewKey(other.UIN, now)
	if err := s.RotateKey(ctx, next.SecretID, stranger, now); err == nil {
		t.Error("rotating a key into another account's key was accepted")
	}
	for _, id := range []string{orphan.SecretID, stranger.SecretID} {
		if _, err := s.GetKey(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a failed rotation stored its new key %s: err = %v", id, err)
		}
	}
	if k := get(other.SecretID); !k.ExpiresAt.IsZero() {
		t.Errorf("a refused rotation set another account's key to expire at %v", k.ExpiresAt)
	}
}

// testSealedAtRest checks that the database never holds a SecretKey in
// plaintext, and that every sealed value is fresh: the same SecretKey
// stored twice is stored differently.
func testSealedAtRest(t *testing.T, open Open) {
	t.Parallel()
	s := open(t)
	ctx := context.Background()
	raw := rawKeys(t, s)
	a := newKeyOf(t, s, "800000000031")
	b := account.NewKey(a.UIN, time.Now())
	b.SecretKey = a.SecretKey
	if err := s.CreateKey(ctx, b); err != nil {
		t.Fatal(err)
	}
	var stored []string
	for _, k := range []account.Key{a, b} {
		v, err := raw.RawSecretKey(ctx, k.SecretID)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(v, k.SecretKey) || !account.IsSealed(v) {
			t.Fatalf("the database holds %q for a SecretKey, not a sealed value", v)
		}
		stored = append(stored, v)
		got, err := s.GetKey(ctx, k.SecretID)
		if err != nil || got.SecretKey != k.SecretKey {
			t.Fatalf("GetKey(%s) = %q, %v; want the plaintext key back", k.SecretID, got.SecretKey, err)
		}
	}
	if stored[0] == stored[1] {
		t.Error("one SecretKey sealed twice gave the same stored value: nonces are not fresh")
	}
}

// testSealedKeySwap moves sealed values between two keys' rows: neither
// opens on the other's row, whatever the master key.
func testSealedKeySwap(t *testing.T, open Open) {
	t.Parallel()
	s := open(t)
	ctx := context.Background()
	raw := rawKeys(t, s)
	a, b := newKeyOf(t, s, "800000000041"), newKeyOf(t, s, "800000000042")
	va, err := raw.RawSecretKey(ctx, a.SecretID)
	if err != nil {
		t.Fatal(err)
	}
	vb, err := raw.RawSecretKey(ctx, b.SecretID)
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.SetRawSecretKey(ctx, a.SecretID, vb); err != nil {
		t.Fatal(err)
	}
	if err := raw.SetRawSecretKey(ctx, b.SecretID, va); err != nil {
		t.Fatal(err)
	}
	for _, k := range []account.Key{a, b} {
		got, err := s.GetKey(ctx, k.SecretID)
		if !errors.Is(err, account.ErrCannotUnseal) {
			t.Errorf("GetKey(%s) with the other row's sealed key: %q, %v; want ErrCannotUnseal", k.SecretID, got.SecretKey, err)
		}
		if err != nil && (strings.Contains(err.Error(), a.SecretKey) || strings.Contains(err.Error(), b.SecretKey)) {
			t.Errorf("the error shows a SecretKey: %v", err)
		}
	}
	// Put back, both open again.
	raw.SetRawSecretKey(ctx, a.SecretID, va)
	raw.SetRawSecretKey(ctx, b.SecretID, vb)
	if got, err := s.GetKey(ctx, a.SecretID); err != nil || got.SecretKey != a.SecretKey {
		t.Errorf("after putting the sealed values back: %v", err)
	}
}

// testForeignMasterKey stores a value sealed under another master key, as
// a replica with a different PARTNERBILL_MASTER_KEY would: GetKey fails
// with ErrCannotUnseal, whose message names the likely cause.
func testForeignMasterKey(t *testing.T, open Open) {
	t.Parallel()
	s := open(t)
	ctx := context.Background()
	k := newKeyOf(t, s, "800000000051")
	if err := rawKeys(t, s).SetRawSecretKey(ctx, k.SecretID, NewSealer(t).SealSecretKey(k.SecretID, k.SecretKey)); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetKey(ctx, k.SecretID)
	if !errors.Is(err, account.ErrCannotUnseal) || !strings.Contains(err.Error(), "PARTNERBILL_MASTER_KEY") {
		t.Fatalf("GetKey of a key sealed under another master key: %v; want ErrCannotUnseal naming PARTNERBILL_MASTER_KEY", err)
	}
	if strings.Contains(err.Error(), k.SecretKey) {
		t.Errorf("the error shows the SecretKey: %v", err)
	}
}

// testPlaintextKeyRefused writes a plaintext SecretKey straight into the
// database, as a partnerbill from before sealing did: GetKey refuses it
// rather than serve a key nobody sealed.
func testPlaintextKeyRefused(t *testing.T, open Open) {
	t.Parallel()
	s := open(t)
	ctx := context.Background()
	k := newKeyOf(t, s, "800000000061")
	if err := rawKeys(t, s).SetRawSecretKey(ctx, k.SecretID, k.SecretKey); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetKey(ctx, k.SecretID); !errors.Is(err, account.ErrCannotUnseal) {
		t.Errorf("GetKey of a plaintext row: %q, %v; want ErrCannotUnseal", got.SecretKey, err)
	}
}

func testCurrentBillFile(t *testing.T, open Open) {
	t.Parallel()
	s := open(t)
	ctx := context.Background()
	const o = "800000000002"
	current := func() store.BillFile {
		t.Helper()
		f, err := s.CurrentBillFile(ctx, o, month, "L3")
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	if f := current(); f.Version != 0 || f.State != "" || f.OwnerUIN != o || f.Month != month || f.Kind != "L3" {
		t.Fatalf("empty ledger: %+v, want version 0 and no record", f)
	}
	// A month without line items can have a (header-only) file.
	empty := store.BillFile{FileKey: store.FileKey{OwnerUIN: o, Month: month, Kind: "L3", Version: 0}, State: store.FileReady, ObjectKey: "v0.csv"}
	if err := s.PutBillFile(ctx, empty); err != nil {
		t.Fatal(err)
	}
	if f := current(); f.State != store.FileReady || f.ObjectKey != "v0.csv" {
		t.Fatalf("after recording version 0: %+v", f)
	}
	mustImport(t, s, Row("1", o, "2024-12-01 00:00:00"))
	f := current()
	if f.Version == 0 || f.State != "" || f.ObjectKey != "" {
		t.Fatalf("after an import the version-0 file is still current: %+v", f)
	}
	v := f.Version
	for _, other := range []store.BillFile{
		{FileKey: store.FileKey{OwnerUIN: o, Month: month, Kind: "L2", Version: v}, State: store.FileReady, ObjectKey: "l2.csv"},
		{FileKey: store.FileKey{OwnerUIN: "800000000003", Month: month, Kind: "L3", Version: v}, State: store.FileReady, ObjectKey: "other.csv"},
	} {
		if err := s.PutBillFile(ctx, other); err != nil {
			t.Fatal(err)
		}
	}
	if f := current(); f.State != "" {
		t.Fatalf("another kind's or owner's file counts as current: %+v", f)
	}
	ready := store.BillFile{FileKey: store.FileKey{OwnerUIN: o, Month: month, Kind: "L3", Version: v}, State: store.FileReady, ObjectKey: "v1.csv", Rows: 1, Bytes: 99}
	if err := s.PutBillFile(ctx, ready); err != nil {
		t.Fatal(err)
	}
	got := current()
	if diff := cmp.Diff(ready, got, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".UpdatedAt" }, cmp.Ignore())); diff != "" || got.UpdatedAt.IsZero() {
		t.Errorf("current file (-want +got):\n%s", diff)
	}
}

func testLineItemFields(t *testing.T, open Open) {
	t.Parallel()
	s := open(t)
	const o = "800000000002"
	a, b := Row("1", o, "2024-12-01 00:00:00"), Row("2", o, "2024-12-02 00:00:00")
	b.TotalCost, b.InstanceId = "-7.5", "ins-zzz"
	mustImport(t, s, a, b)
	fields := []string{"Id", "TotalCost", "InstanceId"}
	got := collect(t, s, ledger.Query{OwnerUIN: o, Month: month, Order: ledger.OrderByInstance, Fields: fields})
	want := []ledger.Row{a, b}
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	// The fields asked for are exact; the others may be empty or full.
	for i := range want {
		for _, f := range fields {
			if g, w := got[i].Get(f), want[i].Get(f); g != w {
				t.Errorf("row %d %s = %q, want %q", i, f, g, w)
			}
		}
		if got[i].BillMonth != month {
			t.Errorf("row %d BillMonth = %v, want %v", i, got[i].BillMonth, month)
		}
	}
	var refused bool
	for _, err := range s.LineItems(context.Background(), ledger.Query{OwnerUIN: o, Month: month, Fields: []string{"NoSuchField"}}) {
		refused = err != nil
		break
	}
	if !refused {
		t.Error("an unknown field name was accepted")
	}
}

// testImportMixed imports a file holding rows the ledger has, new rows and
// a repeat of a new row: only the new rows are added (once), the rest
// count as unchanged, and the version moves once.
func testImportMixed(t *testing.T, open Open) {
	t.Parallel()
	s := open(t)
	ctx := context.Background()
	const o = "800000000002"
	r1, r2 := Row("1", o, "2024-12-01 00:00:00"), Row("2", o, "2024-12-02 00:00:00")
	mustImport(t, s, r1, r2)
	r3, r4 := Row("3", o, "2024-12-03 00:00:00"), Row("4", o, "2024-11-30 23:00:00")
	if got := mustImport(t, s, r4, r1, r3, r3, r2); got != (store.ImportStats{Rows: 5, Added: 2, Unchanged: 3}) {
		t.Errorf("mixed import: %+v, want 5 rows, 2 added, 3 unchanged", got)
	}
	if got := ids(collect(t, s, ledger.Query{OwnerUIN: o, Month: month})); !cmp.Equal(got, []string{"4", "1", "2", "3"}) {
		t.Errorf("ledger holds %v, want [4 1 2 3]", got)
	}
	if v, err := s.LedgerVersion(ctx, o, month); err != nil || v != 2 {
		t.Errorf("version after two imports that added rows = %d, %v; want 2", v, err)
	}
	if got := mustImport(t, s, r4, r3); got != (store.ImportStats{Rows: 2, Unchanged: 2}) {
		t.Errorf("repeated import: %+v, want 2 rows, 2 unchanged", got)
	}
	if v, _ := s.LedgerVersion(ctx, o, month); v != 2 {
		t.Errorf("an import that added nothing moved the version to %d", v)
	}
}

// testConflictPosition checks that a conflict says which row of the
// import it is (its position, from 1), whether the row conflicts with the
// ledger or with an earlier row of the same file, and whichever comes
// first in the primary key's order.
func testConflictPosition(t *testing.T, open Open) {
	t.Parallel()
	s := open(t)
	const o = "800000000002"
	old := Row("1", o, "2024-12-01 00:00:00")
	mustImport(t, s, old)
	changed := old
	changed.TotalCost = "0.003586"
	r9 := Row("9", o, "2024-12-09 00:00:00")
	r9b := r9
	r9b.TransactionTime = "2024-12-08 00:00:00" // sorts before the first r9
	r9b.InstanceName = "renamed"
	for _, tc := range []struct {
		name string
		rows []ledger.Row
		row  int64
		want error
	}{
		{"with the ledger", []ledger.Row{Row("5", o, "2024-12-05 00:00:00"), Row("6", o, "2024-12-06 00:00:00"), changed}, 3, store.SameLineItem(old, changed)},
		{"with an earlier row", []ledger.Row{r9, Row("10", o, "2024-12-10 00:00:00"), old, r9b, changed}, 4, store.SameLineItem(r9, r9b)},
	} {
		_, err := s.ImportRows(context.Background(), seq(tc.rows...))
		var re *store.RowError
		if !errors.As(err, &re) || !errors.Is(err, store.ErrConflict) {
			t.Fatalf("%s: err = %v, want a RowError with ErrConflict", tc.name, err)
		}
		if re.Row != tc.row || !strings.Contains(err.Error(), tc.want.Error()) {
			t.Errorf("%s: row %d, %q; want row %d, %q", tc.name, re.Row, err, tc.row, tc.want)
		}
	}
	if got := ids(collect(t, s, ledger.Query{OwnerUIN: o, Month: month})); !cmp.Equal(got, []string{"1"}) {
		t.Errorf("after conflicting imports the ledger holds %v, want only [1]", got)
	}
}
