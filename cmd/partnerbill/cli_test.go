package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestImportIsAtomicPerFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.csv")
	cli(t, dir, "ledger", "synth", "--customers", "1", "--rows-per-customer", "20", "--month", "2024-12", "--out", good)

	// bad.csv: three good rows, then a malformed amount on line 5.
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	header := strings.Split(strings.TrimSpace(lines[0]), ",")
	col := 0
	for i, h := range header {
		if h == "TotalCost" {
			col = i
		}
	}
	badLines := []string{lines[0]}
	for i, l := range lines[1:5] {
		// New Ids so the good file's rows do not collide with these.
		fields := strings.Split(l, ",")
		for j, h := range header {
			if h == "Id" {
				fields[j] = "55500" + string(rune('0'+i))
			}
			if i == 3 && j == col {
				fields[j] = "1.5e3"
			}
		}
		badLines = append(badLines, strings.Join(fields, ","))
	}
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte(strings.Join(badLines, "")), 0o644)

	jsonl := filepath.Join(dir, "items.jsonl")
	os.WriteFile(jsonl, []byte(`{"Id":"j1","PayerAccountId":800000400309,"OwnerAccountId":"800000000777","TransactionTime":"2024-12-05 10:00:00","Currency":"USD","OriginalCost":1.000000000001,"TotalAmountAfterDiscount":"1","VoucherDeduction":0,"TotalCost":"1","InstanceName":"名前"}`+"\n"), 0o644)

	out, errOut, err := cliResult(dir, "ledger", "import", bad, good, jsonl)
	if err == nil {
		t.Fatal("import with a bad file exited 0")
	}
	if !regexp.MustCompile(regexp.QuoteMeta(bad) + `:5:\d+: TotalCost`).MatchString(errOut) {
		t.Errorf("error does not name file, line 5, column and field:\n%s", errOut)
	}
	for _, want := range []string{"not loaded " + bad, "loaded " + good + ": 20 rows", "loaded " + jsonl + ": 1 rows"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	db := openDB(t, dir)
	if n := countRows(t, db, `SELECT count(*) FROM line_items WHERE Id LIKE '55500%'`); n != 0 {
		t.Errorf("the bad file left %d rows behind", n)
	}
	if n := countRows(t, db, `SELECT count(*) FROM line_items`); n != 21 {
		t.Errorf("ledger holds %d rows, want 21", n)
	}
	var cost string
	db.QueryRow(`SELECT OriginalCost FROM line_items WHERE Id = 'j1'`).Scan(&cost)
	if cost != "1.000000000001" {
		t.Errorf("JSON number stored as %q", cost)
	}

	// Importing again changes nothing; the same Id with new content is refused.
	out = cli(t, dir, "ledger", "import", good)
	if !strings.Contains(out, "0 added, 20 already in the ledger") {
		t.Errorf("re-import: %s", out)
	}
	changed := strings.Replace(string(data), ",USD,", ",EUR,", 1)
	os.WriteFile(bad, []byte(changed), 0o644)
	_, errOut, err = cliResult(dir, "ledger", "import", bad)
	if err == nil || !strings.Contains(errOut, "Currency") || !regexp.MustCompile(regexp.QuoteMeta(bad)+`:2:`).MatchString(errOut) {
		t.Errorf("conflicting re-import: err %v, stderr %s", err, errOut)
	}
	if n := countRows(t, db, `SELECT count(*) FROM line_items`); n != 21 {
		t.Errorf("after a refused import the ledger holds %d rows, want 21", n)
	}
}

func TestCLIErrorsSayWhatIsWrong(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"account", "create", "--role", "admin"}, "unknown role"},
		{[]string{"account", "create", "--role", "end-customer", "--uin", "12a"}, "--uin"},
		{[]string{"account", "create", "--role", "end-customer", "--reseller", "800000000001"}, "no such account"},
		{[]string{"account", "create", "--role", "reseller", "--reseller", "800000000001"}, "cannot have one"},
		{[]string{"key", "create", "--uin", "800000000001"}, "no such account"},
		{[]string{"key", "disable", "AKIDnope"}, "no key"},
		{[]string{"--database", "mysql://u:secret@db/x", "account", "list"}, "not supported"},
		{[]string{"serve", "--storage", "gs://bucket", "--addr", "127.0.0.1:0"}, "not supported"},
		{[]string{"serve", "--storage", "s3://AKIDsecret:secret@bucket", "--addr", "127.0.0.1:0"}, "credentials"},
		{[]string{"ledger", "import", "x.xlsx"}, ".csv"},
		{[]string{"ledger", "synth", "--month", "2024-13"}, "--month"},
	}
	for _, c := range cases {
		_, errOut, err := cliResult(dir, c.args...)
		if err == nil || !strings.Contains(err.Error()+errOut, c.want) {
			t.Errorf("partnerbill %v: err %v, want one mentioning %q", c.args, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("partnerbill %v: the error shows a password: %v", c.args, err)
		}
	}
}

func TestGlobalFlagsAnywhereAndEnvTwins(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var o, e strings.Builder
	// The flag after the subcommand.
	if err := run(context.Background(), []string{"account", "create", "--role", "reseller", "--data-dir", dir}, testEnv, nil, &o, &e); err != nil {
		t.Fatal(err)
	}
	var k key
	if err := json.Unmarshal([]byte(o.String()), &k); err != nil || !regexp.MustCompile(`^AKID[A-Za-z0-9]{32}$`).MatchString(k.SecretId) || len(k.SecretKey) != 32 || k.Role != "reseller" {
		t.Fatalf("account create printed %q", o.String())
	}
	// The environment twin.
	o.Reset()
	env := func(name string) string {
		if name == "PARTNERBILL_DATA_DIR" {
			return dir
		}
		return testEnv(name)
	}
	if err := run(context.Background(), []string{"account", "list"}, env, nil, &o, &e); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(o.String(), k.Uin) {
		t.Errorf("account list via PARTNERBILL_DATA_DIR: %q", o.String())
	}
	if strings.Contains(o.String(), k.SecretKey) {
		t.Error("account list shows a SecretKey")
	}
}

func TestSecondServerOnOneFolderIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	startServer(t, dir)
	_, _, err := cliResult(dir, "serve", "--addr", "127.0.0.1:0")
	if err == nil || !strings.Contains(err.Error(), "another partnerbill serve") {
		t.Fatalf("second serve: %v", err)
	}
}

func TestSynthCreatesAccountsThatCanFetchTheirBills(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "synth.csv")
	srv := startServer(t, dir)
	// Accounts and line items made while the server runs are seen at once.
	keys := cli(t, dir, "ledger", "synth", "--customers", "3", "--rows-per-customer", "10", "--month", "2024-12", "--out", out, "--create-accounts")
	lines := strings.Split(strings.TrimSpace(keys), "\n")
	if len(lines) != 3 {
		t.Fatalf("--create-accounts printed %d keys, want 3:\n%s", len(lines), keys)
	}
	cli(t, dir, "ledger", "import", out)
	for _, l := range lines {
		var k key
		if err := json.Unmarshal([]byte(l), &k); err != nil || k.Role != "end-customer" {
			t.Fatalf("key line %q: %v", l, err)
		}
		_, recs := download(t, waitReady(t, srv.Host, k, "2024-12", "L3"))
		if len(recs) != 11 {
			t.Errorf("customer %s: %d records, want header + 10", k.Uin, len(recs))
		}
	}
	// Running it again creates nobody new.
	if again := cli(t, dir, "ledger", "synth", "--customers", "3", "--rows-per-customer", "10", "--month", "2024-12", "--out", out, "--create-accounts"); strings.TrimSpace(again) != "" {
		t.Errorf("second --create-accounts printed %q", again)
	}
}

// A row that conflicts with the ledger is named by file and line, even
// though the file is parsed ahead of the inserts.
func TestImportConflictNamesItsLine(t *testing.T) {
	t.Parallel()
	t.Run("SQLite", func(t *testing.T) { t.Parallel(); testImportConflictNamesItsLine(t, nil) })
	t.Run("PostgreSQL", func(t *testing.T) {
		t.Parallel()
		testImportConflictNamesItsLine(t, []string{"--database", pgSchemaURL(t)})
	})
}

// testImportConflictNamesItsLine imports a file, then the same file with
// one row changed and a quoted field spanning two lines before it: the
// error names the changed row's line, though both stores check the rows
// in bulk after reading the whole file.
func testImportConflictNamesItsLine(t *testing.T, global []string) {
	dir := t.TempDir()
	first := filepath.Join(dir, "first.csv")
	cli(t, dir, append(global, "ledger", "synth", "--customers", "1", "--rows-per-customer", "3000", "--month", "2024-12", "--out", first)...)
	data, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	header := strings.Split(strings.TrimSpace(lines[0]), ",")
	// Row 1000 gets an instance name spanning two lines, in both files.
	name := slices.Index(header, "InstanceName")
	fields := strings.Split(strings.TrimSuffix(lines[1000], "\n"), ",")
	fields[name] = "\"two\nlines\""
	lines[1000] = strings.Join(fields, ",") + "\n"
	os.WriteFile(first, []byte(strings.Join(lines, "")), 0o644)
	cli(t, dir, append(global, "ledger", "import", first)...)
	// second.csv: the same rows, but the row on file line 2501 (line 2500
	// before the two-line field) charges another amount.
	const at = 2500
	col := slices.Index(header, "TotalCost")
	fields = strings.Split(strings.TrimSuffix(lines[at-1], "\n"), ",")
	fields[col] = "12345.678"
	lines[at-1] = strings.Join(fields, ",") + "\n"
	second := filepath.Join(dir, "second.csv")
	os.WriteFile(second, []byte(strings.Join(lines, "")), 0o644)
	_, errOut, err := cliResult(dir, append(global, "ledger", "import", second)...)
	if err == nil {
		t.Fatal("a conflicting import succeeded")
	}
	want := fmt.Sprintf("%s:%d:1: line item Id %s", second, at+1, fields[slices.Index(header, "Id")])
	if !strings.Contains(errOut, want) || !strings.Contains(errOut, "TotalCost") {
		t.Fatalf("error %q; want it to contain %q and name TotalCost", errOut, want)
	}
}
