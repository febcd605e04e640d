package main

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// The 32 BillDetailData fields in the SDK's order: the L3 header.
var l3Header = []string{"PayerAccountId", "OwnerAccountId", "OperatorAccountId", "ProductName", "BillingMode",
	"ProjectName", "Region", "AvailabilityZone", "InstanceId", "InstanceName", "SubProductName", "TransactionType",
	"TransactionId", "TransactionTime", "UsageStartTime", "UsageEndTime", "ComponentType", "ComponentName",
	"ComponentListPrice", "ComponentPriceMeasurementUnit", "ComponentUsage", "ComponentUsageUnit", "UsageDuration",
	"DurationUnit", "OriginalCost", "DiscountRate", "Currency", "TotalAmountAfterDiscount", "VoucherDeduction",
	"TotalCost", "Id", "CustomerDiscountRate"}

var l2Key = []string{"PayerAccountId", "OwnerAccountId", "ProductName", "SubProductName", "BillingMode", "ProjectName",
	"Region", "AvailabilityZone", "InstanceId", "InstanceName", "TransactionType", "Currency"}

var l2Header = []string{"PayerAccountId", "OwnerAccountId", "ProductName", "SubProductName", "BillingMode", "ProjectName",
	"Region", "AvailabilityZone", "InstanceId", "InstanceName", "TransactionType", "UsageStartTime", "UsageEndTime",
	"Currency", "OriginalCost", "TotalAmountAfterDiscount", "VoucherDeduction", "TotalCost"}

var amountColumns = map[string]bool{"ComponentListPrice": true, "ComponentUsage": true, "UsageDuration": true,
	"OriginalCost": true, "DiscountRate": true, "TotalAmountAfterDiscount": true, "VoucherDeduction": true,
	"TotalCost": true, "CustomerDiscountRate": true}

const payer = "800000400309"

// world is a data folder with a reseller, two end customers and their
// December 2024 ledger, loaded through the CLI.
type world struct {
	dir    string
	a, b   key
	ledger []map[string]string // every imported row
}

func setupWorld(t *testing.T, rowsPerCustomer int) *world {
	t.Helper()
	dir := t.TempDir()
	synth := filepath.Join(dir, "synth.csv")
	cli(t, dir, "ledger", "synth", "--customers", "2", "--rows-per-customer", fmt.Sprint(rowsPerCustomer), "--month", "2024-12", "--seed", "11", "--out", synth)
	rows := csvRows(t, synth)
	var uins []string
	for _, r := range rows {
		if !slices.Contains(uins, r["OwnerAccountId"]) {
			uins = append(uins, r["OwnerAccountId"])
		}
	}
	if len(uins) != 2 {
		t.Fatalf("synth made customers %v, want 2", uins)
	}
	awkward := filepath.Join(dir, "awkward.csv")
	writeAwkward(t, awkward, uins[0])
	newAccount(t, dir, "--role", "reseller", "--uin", payer, "--name", "Reseller, Inc.")
	w := &world{dir: dir}
	w.a = newAccount(t, dir, "--role", "end-customer", "--uin", uins[0], "--reseller", payer)
	w.b = newAccount(t, dir, "--role", "end-customer", "--uin", uins[1], "--reseller", payer)
	out := cli(t, dir, "ledger", "import", synth, awkward)
	if !strings.Contains(out, "loaded "+synth) || !strings.Contains(out, "loaded "+awkward) {
		t.Fatalf("import summary: %s", out)
	}
	w.ledger = append(rows, csvRows(t, awkward)...)
	return w
}

// writeAwkward writes line items whose text and amounts are hard to carry
// through unchanged: quoting, newlines, CJK, emoji, U+00A0, 20 integral
// and 12 fractional digits, negative amounts.
func writeAwkward(t *testing.T, path, owner string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := csv.NewWriter(f)
	w.Write(append([]string{"BillMonth"}, l3Header...)) // columns in another order than the file's
	row := func(id, instanceName, txType, txTime, orig, afterDisc, voucher, total string) {
		v := map[string]string{
			"PayerAccountId": payer, "OwnerAccountId": owner, "OperatorAccountId": owner,
			"ProductName": "Cloud Object Storage", "BillingMode": "Pay-As-You-Go resources", "ProjectName": "財務, \"core\"",
			"Region": "Southeast Asia\u00a0(Singapore)", "AvailabilityZone": "Singapore Zone 1", "InstanceId": "cos-账单-01",
			"InstanceName": instanceName, "SubProductName": "COS Standard", "TransactionType": txType,
			"TransactionId": "2024123" + id, "TransactionTime": txTime, "UsageStartTime": "2024-12-03 00:00:00",
			"UsageEndTime": "2024-12-30 23:59:59", "ComponentType": "storage", "ComponentName": "Standard storage",
			"ComponentListPrice": "0.000000000001", "ComponentPriceMeasurementUnit": "USD/GB/Second", "ComponentUsage": "1",
			"ComponentUsageUnit": "GB", "UsageDuration": "1", "DurationUnit": "Second", "OriginalCost": orig,
			"DiscountRate": "1", "Currency": "USD", "TotalAmountAfterDiscount": afterDisc, "VoucherDeduction": voucher,
			"TotalCost": total, "Id": "9" + id, "CustomerDiscountRate": "1",
		}
		rec := []string{"2024-12"}
		for _, h := range l3Header {
			rec = append(rec, v[h])
		}
		w.Write(rec)
	}
	row("000000000000000001", "bucket, \"logs\"\nline two 🧾", "Hourly settlement", "2024-12-31 23:59:59",
		"99999999999999999999.999999999999", "99999999999999999999.999999999999", "0.000000000001", "99999999999999999999.999999999998")
	row("000000000000000002", "bucket, \"logs\"\nline two 🧾", "Hourly settlement", "2024-12-01 00:00:00",
		"0.000000000001", "0.000000000001", "0", "0.000000000001")
	row("000000000000000003", "  leading and trailing spaces  ", "Monthly subscription refund", "2024-12-15 12:00:00",
		"-12.5", "-11.875", "0", "-11.875")
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
}

func (w *world) rowsOf(owner string) []map[string]string {
	var out []map[string]string
	for _, r := range w.ledger {
		if r["OwnerAccountId"] == owner {
			out = append(out, r)
		}
	}
	return out
}

// compareRecords checks a downloaded file against expected rows: the
// header exactly, every text field byte for byte, every amount as an exact
// decimal.
func compareRecords(t *testing.T, header []string, got [][]string, want []map[string]string) {
	t.Helper()
	if len(got) == 0 || !slices.Equal(got[0], header) {
		t.Fatalf("header = %v\nwant     %v", got[:min(len(got), 1)], header)
	}
	if len(got)-1 != len(want) {
		t.Fatalf("file has %d rows, want %d", len(got)-1, len(want))
	}
	for i, rec := range got[1:] {
		for j, col := range header {
			g, w := rec[j], want[i][col]
			if amountColumns[col] && w != "" {
				gd, err := decimal.NewFromString(g)
				if err != nil || !gd.Equal(decimal.RequireFromString(w)) || strings.ContainsAny(g, "eE") {
					t.Fatalf("row %d %s = %q, want %s", i+1, col, g, w)
				}
				continue
			}
			if g != w {
				t.Fatalf("row %d %s = %q, want %q", i+1, col, g, w)
			}
		}
	}
}

// expectedL2 aggregates rows the way an L2 file must.
func expectedL2(rows []map[string]string) []map[string]string {
	groups := map[string]map[string]string{}
	var order []map[string]string
	for _, r := range rows {
		var kv []string
		for _, k := range l2Key {
			kv = append(kv, r[k])
		}
		k := strings.Join(kv, "\x00")
		g := groups[k]
		if g == nil {
			g = map[string]string{}
			for _, c := range l2Key {
				g[c] = r[c]
			}
			for _, c := range []string{"OriginalCost", "TotalAmountAfterDiscount", "VoucherDeduction", "TotalCost"} {
				g[c] = "0"
			}
			groups[k] = g
			order = append(order, g)
		}
		if s := r["UsageStartTime"]; s != "" && (g["UsageStartTime"] == "" || s < g["UsageStartTime"]) {
			g["UsageStartTime"] = s
		}
		if e := r["UsageEndTime"]; e > g["UsageEndTime"] {
			g["UsageEndTime"] = e
		}
		for _, c := range []string{"OriginalCost", "TotalAmountAfterDiscount", "VoucherDeduction", "TotalCost"} {
			g[c] = decimal.RequireFromString(g[c]).Add(decimal.RequireFromString(r[c])).String()
		}
	}
	sortRows(order, l2Key...)
	return order
}

func TestSDKFetchesExactL3AndL2(t *testing.T) {
	t.Parallel()
	w := setupWorld(t, 150)
	srv := startServer(t, w.dir)

	for _, fileType := range []string{"L3", "L2"} {
		first, err := describe(t, srv.Host, w.a, "2024-12", fileType)
		if err != nil {
			t.Fatal(err)
		}
		if *first.Response.Ready != 0 || *first.Response.DownloadUrl != "" {
			t.Fatalf("%s first answer: Ready %d %q, want Ready 0 and no link while the file is built", fileType, *first.Response.Ready, *first.Response.DownloadUrl)
		}
		link := waitReady(t, srv.Host, w.a, "2024-12", fileType)
		resp, recs := download(t, link)
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
			t.Errorf("Content-Type %q", ct)
		}
		wantName := map[string]string{"L3": "L3-bill_details-2024-12.csv", "L2": "L2-bill_by_Instance-2024-12.csv"}[fileType]
		if cd := resp.Header.Get("Content-Disposition"); !strings.Contains(cd, wantName) {
			t.Errorf("Content-Disposition %q, want file name %s", cd, wantName)
		}
		mine := w.rowsOf(w.a.Uin)
		if fileType == "L3" {
			sortRows(mine, "TransactionTime", "Id")
			compareRecords(t, l3Header, recs, mine)
		} else {
			compareRecords(t, l2Header, recs, expectedL2(mine))
		}
		// A fresh link is minted on every call.
		time.Sleep(1100 * time.Millisecond)
		if again := waitReady(t, srv.Host, w.a, "2024-12", fileType); again == link {
			t.Error("the same link was handed out twice")
		}
	}
	// The other customer gets its own rows only.
	link := waitReady(t, srv.Host, w.b, "2024-12", "L3")
	_, recs := download(t, link)
	theirs := w.rowsOf(w.b.Uin)
	sortRows(theirs, "TransactionTime", "Id")
	compareRecords(t, l3Header, recs, theirs)

	// A month with no line items is a header-only file.
	_, recs = download(t, waitReady(t, srv.Host, w.a, "2024-11", "L3"))
	if len(recs) != 1 {
		t.Errorf("empty month: %d records, want the header alone", len(recs))
	}
}

func TestFiftyConcurrentFirstRequestsBuildOneFile(t *testing.T) {
	t.Parallel()
	w := setupWorld(t, 50)
	srv := startServer(t, w.dir)
	// 50 at once is over the documented 20 per second: the SDK client
	// retries on RequestLimitExceeded.
	client := sdk(srv.Host, w.a)
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			_, err := describeWith(t, client, "2024-12", "L3")
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("one of 50 concurrent requests: %v", err)
		}
	}
	waitReady(t, srv.Host, w.a, "2024-12", "L3")
	db := openDB(t, w.dir)
	if n := countRows(t, db, `SELECT count(*) FROM river_job WHERE kind = 'build_bill_file'`); n != 1 {
		t.Errorf("%d builds queued, want 1", n)
	}
	files, _ := filepath.Glob(filepath.Join(w.dir, "files", "bills", w.a.Uin, "2024-12", "*.csv"))
	if len(files) != 1 {
		t.Errorf("files built: %v, want one", files)
	}
}

func TestImportWhileServingNeverServesAStaleFile(t *testing.T) {
	t.Parallel()
	w := setupWorld(t, 40)
	srv := startServer(t, w.dir)
	old := waitReady(t, srv.Host, w.a, "2024-12", "L3")
	_, before := download(t, old)

	// The operator imports one more line item while the server runs.
	extra := filepath.Join(w.dir, "extra.csv")
	f, _ := os.Create(extra)
	cw := csv.NewWriter(f)
	cw.Write(l3Header)
	rec := slices.Clone(before[1])
	rec[slices.Index(l3Header, "Id")] = "777"
	rec[slices.Index(l3Header, "TransactionTime")] = "2024-12-31 23:59:59"
	cw.Write(rec)
	cw.Flush()
	f.Close()
	cli(t, w.dir, "ledger", "import", extra)

	r, err := describe(t, srv.Host, w.a, "2024-12", "L3")
	if err != nil {
		t.Fatal(err)
	}
	if *r.Response.Ready == 1 {
		_, recs := download(t, *r.Response.DownloadUrl)
		if len(recs) == len(before) {
			t.Fatal("after an import the old file was handed out as current")
		}
	}
	_, after := download(t, waitReady(t, srv.Host, w.a, "2024-12", "L3"))
	ids := func(recs [][]string) []string {
		var out []string
		for _, r := range recs[1:] {
			out = append(out, r[slices.Index(l3Header, "Id")])
		}
		return out
	}
	if len(after) != len(before)+1 || !slices.Contains(ids(after), "777") {
		t.Fatalf("new file has %d records (want %d), Ids %v", len(after), len(before)+1, ids(after))
	}
}
