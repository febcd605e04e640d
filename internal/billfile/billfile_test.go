package billfile

import (
	"bytes"
	"encoding/csv"
	"flag"
	"iter"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/partnerbill/partnerbill/internal/ledger"
	"github.com/partnerbill/partnerbill/internal/store/storetest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func seq(rows ...ledger.Row) iter.Seq2[ledger.Row, error] {
	return func(yield func(ledger.Row, error) bool) {
		for _, r := range rows {
			if !yield(r, nil) {
				return
			}
		}
	}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

// sample is a small ledger of one customer: two instances, one of them
// with two transaction types, awkward names, and amounts whose sum needs
// every digit.
func sample() []ledger.Row {
	const o = "800000000002"
	r1 := storetest.Row("1001", o, "2024-12-01 01:00:00")
	r1.InstanceId, r1.InstanceName = "ins-kxzoyw6c", `web, "primary"`
	r1.UsageStartTime, r1.UsageEndTime = "2024-12-01 00:00:00", "2024-12-01 00:59:59"
	r1.OriginalCost, r1.TotalAmountAfterDiscount, r1.VoucherDeduction, r1.TotalCost = "0.12345678", "0.11728394", "0", "0.11728394"
	r2 := r1
	r2.Id, r2.TransactionTime = "1002", "2024-12-01 02:00:00"
	r2.UsageStartTime, r2.UsageEndTime = "2024-12-01 01:00:00", "2024-12-01 01:59:59"
	r2.OriginalCost, r2.TotalAmountAfterDiscount, r2.VoucherDeduction, r2.TotalCost = "99999999999999999999.999999999999", "0.000000000001", "0.00000001", "-0.000000009999"
	r3 := r1
	r3.Id, r3.TransactionType, r3.TransactionTime = "1003", "Monthly subscription refund", "2024-12-15 10:00:00"
	r3.OriginalCost, r3.TotalAmountAfterDiscount, r3.VoucherDeduction, r3.TotalCost = "-30", "-28.5", "0", "-28.5"
	r4 := storetest.Row("1004", o, "2024-12-01 01:30:00")
	r4.InstanceName = "数据盘 🧾\nline two"
	return []ledger.Row{r1, r4, r2, r3}
}

func TestWriteL3Golden(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	st, err := WriteL3(&buf, seq(sample()...))
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 4 || st.Bytes != int64(buf.Len()) {
		t.Errorf("stats = %+v, want 4 rows and %d bytes", st, buf.Len())
	}
	golden(t, "l3.csv", buf.Bytes())
}

func TestL3RoundTripsThroughImport(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if _, err := WriteL3(&buf, seq(sample()...)); err != nil {
		t.Fatal(err)
	}
	rd, err := ledger.NewReader("l3.csv", &buf, ledger.FormatCSV)
	if err != nil {
		t.Fatal(err)
	}
	var got []ledger.Row
	for r, err := range rd.All() {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if diff := cmp.Diff(sample(), got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestWriteL2Golden(t *testing.T) {
	t.Parallel()
	rows := sample()
	// L2 needs its input in instance order: r4 (disk) < r1, r2 (Hourly) < r3 (refund).
	var buf bytes.Buffer
	st, err := WriteL2(&buf, seq(rows[1], rows[0], rows[2], rows[3]))
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 3 {
		t.Errorf("rows = %d, want 3", st.Rows)
	}
	golden(t, "l2.csv", buf.Bytes())
}

// TestL2TotalsEqualL3Sums checks that each L2 amount is, to the last
// digit, the sum of the L3 rows of its group.
func TestL2TotalsEqualL3Sums(t *testing.T) {
	t.Parallel()
	_, rows, err := ledger.Synth(ledger.SynthOptions{Customers: 1, RowsPerCustomer: 3000, Month: ledger.Month{Year: 2024, Mon: 12}, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	var all []ledger.Row
	for r := range rows {
		all = append(all, r)
	}
	sortByInstance(all)
	var buf bytes.Buffer
	if _, err := WriteL2(&buf, seq(all...)); err != nil {
		t.Fatal(err)
	}
	want := map[string][4]decimal.Decimal{}
	for _, r := range all {
		k := strings.Join(func() []string { k := instanceKey(&r); return k[:] }(), "\x00")
		s := want[k]
		for i, v := range []string{r.OriginalCost, r.TotalAmountAfterDiscount, r.VoucherDeduction, r.TotalCost} {
			s[i] = s[i].Add(decimal.RequireFromString(v))
		}
		want[k] = s
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs)-1 != len(want) {
		t.Fatalf("L2 has %d rows, want %d groups", len(recs)-1, len(want))
	}
	for _, rec := range recs[1:] {
		key := append(append([]string{}, rec[:11]...), rec[13])
		s, ok := want[strings.Join(key, "\x00")]
		if !ok {
			t.Fatalf("L2 row %v matches no group", key)
		}
		for i := range 4 {
			got := decimal.RequireFromString(rec[14+i])
			if !got.Equal(s[i]) {
				t.Errorf("group %v column %s = %s, want %s", key, L2Columns[14+i], rec[14+i], s[i])
			}
		}
	}
}

func TestL2RejectsUnsortedInput(t *testing.T) {
	t.Parallel()
	rows := sample()
	if _, err := WriteL2(&bytes.Buffer{}, seq(rows[0], rows[1])); err == nil {
		t.Fatal("WriteL2 accepted rows out of instance order")
	}
}

func TestEmptyMonthIsHeaderOnly(t *testing.T) {
	t.Parallel()
	for _, k := range []Kind{L2, L3} {
		var buf bytes.Buffer
		st, err := Write(&buf, k, seq())
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
		if st.Rows != 0 || len(lines) != 1 || !strings.HasPrefix(lines[0], "PayerAccountId,OwnerAccountId,") {
			t.Errorf("%s of an empty month = %q (%+v), want only the header", k, buf.String(), st)
		}
	}
}

func TestKindNames(t *testing.T) {
	t.Parallel()
	m := ledger.Month{Year: 2024, Mon: 12}
	if got := L3.FileName(m); got != "L3-bill_details-2024-12.csv" {
		t.Errorf("L3 file name %q", got)
	}
	if got := L2.FileName(m); got != "L2-bill_by_Instance-2024-12.csv" {
		t.Errorf("L2 file name %q", got)
	}
	for _, bad := range []string{"", "l3", "L1", "L3 ", "billDetail"} {
		if _, err := ParseKind(bad); err == nil {
			t.Errorf("ParseKind(%q) accepted", bad)
		}
	}
}

func sortByInstance(rows []ledger.Row) {
	less := func(a, b *ledger.Row) bool {
		ka, kb := instanceKey(a), instanceKey(b)
		if ka != kb {
			return lessKey(ka, kb)
		}
		if a.TransactionTime != b.TransactionTime {
			return a.TransactionTime < b.TransactionTime
		}
		return a.Id < b.Id
	}
	sort.Slice(rows, func(i, j int) bool { return less(&rows[i], &rows[j]) })
}
