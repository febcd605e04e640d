package ledger

import (
	"bytes"
	"flag"
	"iter"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// synthBytes renders a Synth run as a synth CSV file.
func synthBytes(t testing.TB, opts SynthOptions) []byte {
	t.Helper()
	_, rows, err := Synth(opts)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := NewWriter(&buf, true)
	for r := range rows {
		if err := w.Write(&r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSynthDeterministic(t *testing.T) {
	t.Parallel()
	opts := SynthOptions{Customers: 5, RowsPerCustomer: 300, Month: Month{2024, time.February}, Seed: 42}
	a, b := synthBytes(t, opts), synthBytes(t, opts)
	if !bytes.Equal(a, b) {
		t.Fatal("two runs with the same options differ")
	}

	// Iterating the same sequence twice gives the same rows too.
	_, rows, err := Synth(opts)
	if err != nil {
		t.Fatal(err)
	}
	var first, second []Row
	for r := range rows {
		first = append(first, r)
	}
	for r := range rows {
		second = append(second, r)
	}
	if diff := cmp.Diff(first, second); diff != "" {
		t.Fatalf("second iteration differs (-first +second):\n%s", diff)
	}

	other := opts
	other.Seed = 43
	if bytes.Equal(a, synthBytes(t, other)) {
		t.Error("a different seed gave the same rows")
	}

	// Another month: same customers and instances, other settlements and ids.
	next := opts
	next.Month = Month{2024, time.March}
	uins1, rows1, _ := Synth(opts)
	uins2, rows2, _ := Synth(next)
	if diff := cmp.Diff(uins1, uins2); diff != "" {
		t.Errorf("customer UINs changed with the month:\n%s", diff)
	}
	ids := map[string]bool{}
	instances := map[string]bool{}
	for r := range rows1 {
		ids[r.Id] = true
		instances[r.InstanceId] = true
	}
	shared := 0
	for r := range rows2 {
		if ids[r.Id] {
			t.Fatalf("Id %s used in both months", r.Id)
		}
		if instances[r.InstanceId] {
			shared++
		}
	}
	if shared == 0 {
		t.Error("no instance of February is billed in March")
	}
}

// TestSynthRows checks that every synthetic row validates and obeys the
// bill's formulas exactly, and that the data looks like a real bill.
func TestSynthRows(t *testing.T) {
	t.Parallel()
	opts := SynthOptions{Customers: 20, RowsPerCustomer: 1000, Month: Month{2024, time.February}, Seed: 7}
	uins, rows, err := Synth(opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(uins) != opts.Customers {
		t.Fatalf("%d UINs, want %d", len(uins), opts.Customers)
	}
	uinRE := regexp.MustCompile(`^8000\d{8}$`)
	owners := map[string]bool{}
	for _, u := range uins {
		if !uinRE.MatchString(u) || owners[u] {
			t.Errorf("bad or duplicate derived UIN %q", u)
		}
		owners[u] = true
	}

	var (
		n, refunds, vouchers int
		ids                  = map[string]bool{}
		txTypes              = map[string]int{}
		instRows             = map[string]int{}
		idRE                 = regexp.MustCompile(`^[1-9]\d{18}$`)
		txIDRE               = regexp.MustCompile(`^\d{23}$`)
		round8               = func(d decimal.Decimal) decimal.Decimal { return d.Round(8) }
	)
	for r := range rows {
		n++
		row := r
		if err := row.Validate(); err != nil {
			t.Fatalf("row %d: %v", n, err)
		}
		if row != r {
			t.Fatalf("row %d changed by Validate", n)
		}
		if r.BillMonth != opts.Month || !opts.Month.Contains(r.TransactionTime) {
			t.Fatalf("row %d: bill month %v, transaction time %s", n, r.BillMonth, r.TransactionTime)
		}
		if !owners[r.OwnerAccountId] || r.PayerAccountId != DefaultPayerUin || r.Currency != "USD" || r.DiscountRate != "1" {
			t.Fatalf("row %d: wrong accounts or constants: %+v", n, r)
		}
		if !idRE.MatchString(r.Id) || ids[r.Id] {
			t.Fatalf("row %d: bad or duplicate Id %q", n, r.Id)
		}
		ids[r.Id] = true
		if !txIDRE.MatchString(r.TransactionId) || !strings.HasPrefix(r.TransactionId, strings.ReplaceAll(r.TransactionTime[:10], "-", "")) {
			t.Fatalf("row %d: TransactionId %q for time %s", n, r.TransactionId, r.TransactionTime)
		}

		price, usage, dur := mustDecimal(r.ComponentListPrice), mustDecimal(r.ComponentUsage), mustDecimal(r.UsageDuration)
		orig, disc := mustDecimal(r.OriginalCost), mustDecimal(r.CustomerDiscountRate)
		after, voucher, total := mustDecimal(r.TotalAmountAfterDiscount), mustDecimal(r.VoucherDeduction), mustDecimal(r.TotalCost)
		if !orig.Equal(round8(price.Mul(usage).Mul(dur))) {
			t.Fatalf("row %d: OriginalCost %s ≠ %s × %s × %s", n, r.OriginalCost, r.ComponentListPrice, r.ComponentUsage, r.UsageDuration)
		}
		if !after.Equal(round8(orig.Mul(disc))) {
			t.Fatalf("row %d: TotalAmountAfterDiscount %s ≠ %s × %s", n, r.TotalAmountAfterDiscount, r.OriginalCost, r.CustomerDiscountRate)
		}
		if !total.Equal(after.Sub(voucher)) {
			t.Fatalf("row %d: TotalCost %s ≠ %s − %s", n, r.TotalCost, r.TotalAmountAfterDiscount, r.VoucherDeduction)
		}
		for _, f := range NumericFields {
			if s := r.Get(f); s != FormatDecimal(mustDecimal(s)) {
				t.Fatalf("row %d: %s %q is not in canonical form", n, f, s)
			}
		}

		txTypes[r.TransactionType]++
		instRows[r.InstanceId]++
		switch r.TransactionType {
		case "Hourly settlement", "Daily settlement":
			if r.BillingMode != "Pay-As-You-Go resources" {
				t.Fatalf("row %d: %s with billing mode %s", n, r.TransactionType, r.BillingMode)
			}
		case "Purchase", "Renewal":
			if r.BillingMode != "Monthly subscription" {
				t.Fatalf("row %d: %s with billing mode %s", n, r.TransactionType, r.BillingMode)
			}
		case "Monthly subscription refund":
			refunds++
			if r.BillingMode != "Monthly subscription" || !orig.IsNegative() || !total.IsNegative() {
				t.Fatalf("row %d: refund %+v", n, r)
			}
		default:
			t.Fatalf("row %d: unexpected transaction type %q", n, r.TransactionType)
		}
		if r.TransactionType == "Hourly settlement" &&
			(!strings.HasSuffix(r.UsageStartTime, ":00:00") || !strings.HasSuffix(r.UsageEndTime, ":59:59") || r.TransactionTime <= r.UsageEndTime) {
			t.Fatalf("row %d: hourly window %s – %s settled %s", n, r.UsageStartTime, r.UsageEndTime, r.TransactionTime)
		}
		if !voucher.IsZero() {
			vouchers++
		}
		if r.Region != "" && !strings.Contains(r.Region, "\u00a0(") {
			t.Fatalf("row %d: region %q lacks the no-break space", n, r.Region)
		}
	}
	if n != opts.Customers*opts.RowsPerCustomer {
		t.Fatalf("%d rows, want %d", n, opts.Customers*opts.RowsPerCustomer)
	}
	// Realism: every kind of settlement occurs, refunds are rare, and
	// instances recur so L2 groups several rows.
	for _, tt := range []string{"Hourly settlement", "Daily settlement", "Purchase", "Renewal"} {
		if txTypes[tt] == 0 {
			t.Errorf("no %q rows in %d", tt, n)
		}
	}
	if refunds == 0 || refunds > n/50 {
		t.Errorf("%d refund rows in %d, want about 1 in 200", refunds, n)
	}
	if vouchers == 0 || vouchers > n/10 {
		t.Errorf("%d rows with vouchers in %d", vouchers, n)
	}
	if len(instRows) > n/20 {
		t.Errorf("%d instances for %d rows: instances are not reused", len(instRows), n)
	}
}

// TestSynthReadsBack checks that `ledger synth` output imports as is.
func TestSynthReadsBack(t *testing.T) {
	t.Parallel()
	opts := SynthOptions{Customers: 3, RowsPerCustomer: 200, Month: Month{2023, time.December}, Seed: -1,
		PayerUin: "800000950266", CustomerUins: []string{"800000425835", "800001608331", "42"}}
	data := synthBytes(t, opts)
	rd, err := NewReader("synth.csv", bytes.NewReader(data), FormatCSV)
	if err != nil {
		t.Fatal(err)
	}
	_, rows, _ := Synth(opts)
	next, stop := iter.Pull(rows)
	defer stop()
	for got, err := range rd.All() {
		if err != nil {
			t.Fatal(err)
		}
		want, ok := next()
		if !ok {
			t.Fatal("more rows read than generated")
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("row read back (-want +got):\n%s", diff)
		}
	}
	if _, ok := next(); ok {
		t.Fatal("fewer rows read than generated")
	}
}

func TestSynthOptions(t *testing.T) {
	t.Parallel()
	feb := Month{2024, time.February}
	uins, _, err := Synth(SynthOptions{CustomerUins: []string{"1", "2"}, Month: feb})
	if err != nil || len(uins) != 2 {
		t.Errorf("Customers taken from CustomerUins: %v, %v", uins, err)
	}
	bad := []struct {
		name string
		opts SynthOptions
		msg  string
	}{
		{"no month", SynthOptions{Customers: 1}, "synth: Month is required"},
		{"negative customers", SynthOptions{Customers: -1, Month: feb}, "synth: Customers = -1, want 0 or more"},
		{"negative rows", SynthOptions{Customers: 1, RowsPerCustomer: -1, Month: feb}, "synth: RowsPerCustomer = -1, want 0 or more"},
		{"bad month", SynthOptions{Customers: 1, Month: Month{2024, 13}}, "synth: Month 2024-13 out of range"},
		{"too many rows", SynthOptions{Customers: 1_000_000, RowsPerCustomer: 10_000_000, Month: feb}, "more than 1000000000000 rows"},
		{"bad payer", SynthOptions{Customers: 1, Month: feb, PayerUin: "abc"}, `synth: PayerUin "abc" is not a UIN`},
		{"bad customer", SynthOptions{Month: feb, CustomerUins: []string{"8000x"}}, `synth: customer UIN "8000x" is not a UIN`},
		{"duplicate customer", SynthOptions{Month: feb, CustomerUins: []string{"1", "1"}}, "synth: customer UIN 1 listed twice"},
		{"count mismatch", SynthOptions{Customers: 3, Month: feb, CustomerUins: []string{"1"}}, "synth: 1 CustomerUins for 3 Customers"},
	}
	for _, tt := range bad {
		if _, _, err := Synth(tt.opts); err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: error = %v, want %q", tt.name, err, tt.msg)
		}
	}
}

// TestSynthIDUnique checks the id permutation on a dense range of row
// numbers: no two map to the same id.
func TestSynthIDUnique(t *testing.T) {
	t.Parallel()
	seen := make(map[string]uint64, 300_000)
	for _, key := range []uint64{0, 1, 1<<63 | 12345} {
		clear(seen)
		for n := range uint64(100_000) {
			id := synthID(key, n)
			if len(id) != 19 {
				t.Fatalf("synthID(%d, %d) = %q, want 19 digits", key, n, id)
			}
			if m, dup := seen[id]; dup {
				t.Fatalf("synthID(%d, ·): rows %d and %d share id %s", key, m, n, id)
			}
			seen[id] = n
		}
	}
}

// TestSynthGolden pins Synth's output: other packages' golden files and
// demos are built from synthetic data, so a change to the generator must be
// deliberate. Refresh with go test -run TestSynthGolden -update.
func TestSynthGolden(t *testing.T) {
	t.Parallel()
	got := synthBytes(t, SynthOptions{Customers: 2, RowsPerCustomer: 15, Month: Month{2024, time.February}, Seed: 1})
	path := filepath.Join("testdata", "synth-2024-02.csv")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("Synth output changed (-%s +got):\n%s", path, diff)
	}
}
