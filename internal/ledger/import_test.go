package ledger

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// A CSV header with just the required columns, and a row that fits it.
// Column numbers in the tests below are byte offsets in these lines:
// "r0001," is 6 bytes, so OriginalCost starts in column 7.
const (
	csvHeader = "Id,OriginalCost,PayerAccountId,OwnerAccountId,TransactionTime,Currency,TotalAmountAfterDiscount,VoucherDeduction,TotalCost"
	csvGood   = "r0001,1.5,800000400309,800000448824,2024-03-01 10:00:00,USD,1.5,0,1.5"
	csvGood2  = "r0002,2.5,800000400309,800000448824,2024-03-02 10:00:00,USD,2.5,0,2.5"
)

// posErr is the part of a *PosError the tests compare, plus a fragment of
// its message.
type posErr struct {
	File         string
	Line, Column int
	Field        string
	Msg          string // must occur in Error()
}

// readAll reads rows until the first error (or EOF, returned as nil).
func readAll(t testing.TB, f Format, input string) ([]Row, error) {
	t.Helper()
	rd, err := NewReader("in", strings.NewReader(input), f)
	if err != nil {
		return nil, err
	}
	var rows []Row
	for row, err := range rd.All() {
		if err != nil {
			return rows, err
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// checkPosErr fails unless err is a *PosError matching want.
func checkPosErr(t testing.TB, err error, want posErr) {
	t.Helper()
	var pe *PosError
	if !errors.As(err, &pe) {
		t.Fatalf("error = %v, want a *PosError", err)
	}
	got := posErr{File: pe.File, Line: pe.Line, Column: pe.Column, Field: pe.Field, Msg: want.Msg}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("position of %q (-want +got):\n%s", err, diff)
	}
	if !strings.Contains(err.Error(), want.Msg) {
		t.Errorf("error %q does not contain %q", err, want.Msg)
	}
}

func TestFormatOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		want    Format
		wantErr string
	}{
		{name: "bills/2024-03.csv", want: FormatCSV},
		{name: "EXPORT.CSV", want: FormatCSV},
		{name: "items.jsonl", want: FormatJSONL},
		{name: "items.ndjson", want: FormatJSONL},
		{name: "items.json", wantErr: `import items.json: unsupported extension ".json"; want .csv, .jsonl or .ndjson`},
		{name: "items.csv.gz", wantErr: `import items.csv.gz: unsupported extension ".gz"; want .csv, .jsonl or .ndjson`},
		{name: "items", wantErr: `import items: unsupported extension ""; want .csv, .jsonl or .ndjson`},
	}
	for _, tt := range tests {
		got, err := FormatOf(tt.name)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("FormatOf(%q) error = %v, want %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("FormatOf(%q) = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
}

func TestCSVReader(t *testing.T) {
	t.Parallel()
	rows, err := readAll(t, FormatCSV, csvHeader+"\n"+csvGood+"\n\n"+csvGood2) // blank line, no final newline
	if err != nil {
		t.Fatal(err)
	}
	want := []Row{
		{Id: "r0001", OriginalCost: "1.5", PayerAccountId: "800000400309", OwnerAccountId: "800000448824",
			TransactionTime: "2024-03-01 10:00:00", Currency: "USD", TotalAmountAfterDiscount: "1.5",
			VoucherDeduction: "0", TotalCost: "1.5", BillMonth: Month{2024, time.March}},
		{Id: "r0002", OriginalCost: "2.5", PayerAccountId: "800000400309", OwnerAccountId: "800000448824",
			TransactionTime: "2024-03-02 10:00:00", Currency: "USD", TotalAmountAfterDiscount: "2.5",
			VoucherDeduction: "0", TotalCost: "2.5", BillMonth: Month{2024, time.March}},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}

	// The same file with CRLF line ends, a BOM, and a BillMonth column.
	in := "\ufeff" + csvHeader + ",BillMonth\r\n" + csvGood + ",2024-02\r\n" + csvGood2 + ",\r\n"
	rows, err = readAll(t, FormatCSV, in)
	if err != nil {
		t.Fatal(err)
	}
	want[0].BillMonth = Month{2024, time.February} // explicit
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("CRLF+BOM rows (-want +got):\n%s", diff)
	}

	// A header alone is a valid, empty import.
	rows, err = readAll(t, FormatCSV, csvHeader+"\n")
	if err != nil || len(rows) != 0 {
		t.Errorf("header only: %d rows, err %v", len(rows), err)
	}
}

func TestCSVReaderErrors(t *testing.T) {
	t.Parallel()
	bad := func(s string) string { return csvHeader + "\n" + csvGood + "\n" + s + "\n" }
	tests := []struct {
		name  string
		input string
		want  posErr
	}{
		{"empty file", "",
			posErr{"in", 1, 1, "", "in:1:1: empty file; want a header line"}},
		{"only a BOM", "\ufeff",
			posErr{"in", 1, 1, "", "empty file"}},
		{"unknown column", "Id,OriginalCost,Bogus,PayerAccountId\n",
			posErr{"in", 1, 17, "", `in:1:17: header column 3: unknown column "Bogus"; want the BillDetailData field names`}},
		{"unknown column after a BOM", "\ufeffId,Bogus\n",
			posErr{"in", 1, 4, "", `header column 2: unknown column "Bogus"`}},
		{"wrong case", "Id,totalcost\n",
			posErr{"in", 1, 4, "", `unknown column "totalcost" (names are case-sensitive: did you mean "TotalCost"?)`}},
		{"invalid UTF-8 in header", "Id,Tot\xffalCost\n",
			posErr{"in", 1, 4, "", `unknown column "Tot\xffalCost"`}},
		{"duplicate column", csvHeader + ",OriginalCost\n",
			posErr{"in", 1, len(csvHeader) + 2, "", `header column 10: duplicate column "OriginalCost" (also column 2)`}},
		{"missing required columns", "Id,OriginalCost,PayerAccountId,OwnerAccountId,Currency,TotalAmountAfterDiscount,VoucherDeduction\n",
			posErr{"in", 1, 1, "", "in:1:1: header: missing required column(s) TransactionTime, TotalCost"}},
		{"too many fields", bad(csvGood + ",extra"),
			posErr{"in", 3, len(csvGood) + 2, "", "in:3:71: 10 fields, but the header has 9"}},
		{"too few fields", bad("r0002,2.5,800000400309"),
			posErr{"in", 3, 1, "", "in:3:1: 3 fields, but the header has 9 (first missing: OwnerAccountId)"}},
		{"bad amount", bad(strings.Replace(csvGood2, "2.5", "2.5.0", 1)),
			posErr{"in", 3, 7, "OriginalCost", `in:3:7: OriginalCost: invalid decimal "2.5.0": more than one "."`}},
		{"empty required value", bad(strings.Replace(csvGood2, "r0002", "", 1)),
			posErr{"in", 3, 1, "Id", "in:3:1: Id: required, but empty"}},
		{"bad date", bad(strings.Replace(csvGood2, "2024-03-02", "2024-02-30", 1)),
			posErr{"in", 3, 37, "TransactionTime", `in:3:37: TransactionTime: "2024-02-30 10:00:00" is not a valid time`}},
		{"bad UIN", bad(strings.Replace(csvGood2, "800000448824", "8000 0448824", 1)),
			posErr{"in", 3, 24, "OwnerAccountId", `"8000 0448824" is not a UIN`}},
		{"bad month", csvHeader + ",BillMonth\n" + csvGood + ",2024-13\n",
			posErr{"in", 2, len(csvGood) + 2, "BillMonth", `in:2:71: BillMonth: parse month "2024-13": month must be 01 to 12`}},
		{"invalid UTF-8 in a field", csvHeader + ",InstanceName\n" + csvGood + ",web\xff01\n",
			posErr{"in", 2, len(csvGood) + 2, "InstanceName", "InstanceName: not valid UTF-8"}},
		{"position after a multi-line field", csvHeader + ",InstanceName\n" + csvGood + ",\"a\nb\"\n" + strings.Replace(csvGood2, "2.5", "x", 1) + ",\n",
			posErr{"in", 4, 7, "OriginalCost", `in:4:7: OriginalCost: invalid decimal "x"`}},
		{"quoted field in the middle of a line", csvHeader + ",InstanceName\n" + `r0001,"1.5x",800000400309,800000448824,2024-03-01 10:00:00,USD,1.5,0,1.5,` + "\n",
			posErr{"in", 2, 7, "OriginalCost", `in:2:7: OriginalCost: invalid decimal "1.5x"`}},
		{"bare quote", bad(`r0"002,2.5`),
			posErr{"in", 3, 3, "", `in:3:3: bare " in non-quoted-field; quote a field`}},
		{"unterminated quote", bad(`r0002,"2.5,`),
			posErr{"in", 3, 13, "", `in:3:13: extraneous or missing " in quoted-field`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := readAll(t, FormatCSV, tt.input)
			checkPosErr(t, err, tt.want)
		})
	}
}

// TestReaderContinuesAfterRowError checks that a bad row does not end the
// import for a caller that wants every error, but a syntax error does.
func TestReaderContinuesAfterRowError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		f     Format
		input string
	}{
		{"CSV", FormatCSV, csvHeader + "\n" + csvGood + "\n" + "r0x,1,2\n" + csvGood2 + "\n"},
		{"JSONL", FormatJSONL, jsonGood + "\n" + `{"Id":` + "\n" + strings.Replace(jsonGood, "r1", "r2", 1) + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rd, err := NewReader("in", strings.NewReader(tt.input), tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for {
				row, err := rd.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					got = append(got, "error at line "+strconv.Itoa(rd.Line()))
					continue
				}
				got = append(got, row.Id+" at line "+strconv.Itoa(rd.Line()))
			}
			want := []string{"r1 at line 2", "error at line 3", "r2 at line 4"}
			if tt.f == FormatJSONL {
				want = []string{"r1 at line 1", "error at line 2", "r2 at line 3"}
			}
			if tt.f == FormatCSV {
				want[0], want[2] = "r0001 at line 2", "r0002 at line 4"
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	// A quoting error is sticky: the next row's start is unknown.
	rd, err := NewReader("in", strings.NewReader(csvHeader+"\n"+`r0"01,1`+"\n"+csvGood+"\n"), FormatCSV)
	if err != nil {
		t.Fatal(err)
	}
	_, err1 := rd.Next()
	_, err2 := rd.Next()
	if err1 == nil || err1 != err2 {
		t.Errorf("after a quoting error Next returned %v, then %v; want the same error twice", err1, err2)
	}

	// All stops at the first error.
	rd, err = NewReader("in", strings.NewReader(csvHeader+"\n"+"bad\n"+csvGood+"\n"), FormatCSV)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, err := range rd.All() {
		n++
		if err == nil {
			t.Errorf("All yielded a row after the first error")
		}
	}
	if n != 1 {
		t.Errorf("All yielded %d items, want 1 error", n)
	}
}

// jsonGood is a valid JSON Lines record with numbers as JSON numbers and
// as strings.
const jsonGood = `{"Id":"r1","PayerAccountId":"800000400309","OwnerAccountId":800000448824,` +
	`"TransactionTime":"2024-03-01 10:00:00","Currency":"USD","OriginalCost":1.5,` +
	`"TotalAmountAfterDiscount":"1.5","VoucherDeduction":0,"TotalCost":"1.5"}`

// jsonRow is the row jsonGood holds.
func jsonRow() Row {
	return Row{Id: "r1", PayerAccountId: "800000400309", OwnerAccountId: "800000448824",
		TransactionTime: "2024-03-01 10:00:00", Currency: "USD", OriginalCost: "1.5",
		TotalAmountAfterDiscount: "1.5", VoucherDeduction: "0", TotalCost: "1.5",
		BillMonth: Month{2024, time.March}}
}

// withJSON returns jsonGood with extra members inserted after "{".
func withJSON(members string) string { return "{" + members + "," + jsonGood[1:] }

func TestJSONLReader(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("長い名前🚀,\"x\" ", 60_000) // about 1.2 MiB once escaped
	longJSON := strings.ReplaceAll(long, `"`, `\"`)
	tests := []struct {
		name   string
		input  string
		change func(r *Row) // applied to jsonRow() for each expected row
		n      int          // rows expected
	}{
		{"numbers and strings", jsonGood + "\n", func(r *Row) {}, 1},
		{"no final newline, CRLF, blank lines", "\r\n  \n" + jsonGood + "\r\n\n" + jsonGood, func(r *Row) {}, 2},
		{"BOM", "\ufeff" + jsonGood + "\n", func(r *Row) {}, 1},
		{"amount text kept as a number", withJSON(`"ComponentListPrice":0.100000000000`),
			func(r *Row) { r.ComponentListPrice = "0.100000000000" }, 1},
		{"amount text kept as a string", withJSON(`"ComponentListPrice":"0.100000000000"`),
			func(r *Row) { r.ComponentListPrice = "0.100000000000" }, 1},
		{"negative and large numbers", withJSON(`"DiscountRate":-0.5,"ComponentUsage":99999999999999999999.999999999999`),
			func(r *Row) { r.DiscountRate, r.ComponentUsage = "-0.5", "99999999999999999999.999999999999" }, 1},
		{"escapes", withJSON(`"Region":"East China\u00a0(Shanghai)","InstanceName":"\ud83d\ude80 \"a\",\\b\/c\r\n"`),
			func(r *Row) { r.Region, r.InstanceName = "East China\u00a0(Shanghai)", "🚀 \"a\",\\b/c\r\n" }, 1},
		{"raw UTF-8", withJSON(`"InstanceName":"生产环境 🚀"`),
			func(r *Row) { r.InstanceName = "生产环境 🚀" }, 1},
		{"BillMonth", withJSON(`"BillMonth":"2024-02"`),
			func(r *Row) { r.BillMonth = Month{2024, time.February} }, 1},
		{"empty BillMonth", withJSON(`"BillMonth":""`), func(r *Row) {}, 1},
		{"spaces around tokens", ` { "Id" : "r1" ,	"PayerAccountId":"800000400309" , "OwnerAccountId" :800000448824,` +
			` "TransactionTime":"2024-03-01 10:00:00","Currency":"USD","OriginalCost": 1.5 ,` +
			` "TotalAmountAfterDiscount":"1.5","VoucherDeduction":0 ,"TotalCost":"1.5" } `, func(r *Row) {}, 1},
		{"line longer than 1 MiB", withJSON(`"InstanceName":"`+longJSON+`"`) + "\n" + jsonGood,
			func(r *Row) {}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rows, err := readAll(t, FormatJSONL, tt.input)
			if err != nil {
				t.Fatal(err)
			}
			var want []Row
			for range tt.n {
				r := jsonRow()
				tt.change(&r)
				want = append(want, r)
			}
			if tt.name == "line longer than 1 MiB" {
				if n := strings.IndexByte(tt.input, '\n'); n <= 1<<20 {
					t.Fatalf("test line is only %d bytes", n)
				}
				want[0].InstanceName = long
			}
			if diff := cmp.Diff(want, rows); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
}

func TestJSONLReaderErrors(t *testing.T) {
	t.Parallel()
	// valueCol returns the column of the value of key in line.
	valueCol := func(line, key string) int {
		return strings.Index(line, `"`+key+`":`) + len(key) + 4
	}
	expLine := withJSON(`"ComponentListPrice":1e5`)
	bigLine := withJSON(`"ComponentUsage":123456789012345678901234.5`)
	uinLine := strings.Replace(jsonGood, "800000448824", "-5", 1)
	timeLine := strings.Replace(jsonGood, "2024-03-01 10:00:00", "2024-03-01", 1)
	// After "invalid JSON value: " the text of a syntax error is
	// encoding/json's own, which differs between its v1 and v2
	// (GOEXPERIMENT=jsonv2) implementations, so those cases pin only the
	// position and our part of the message.
	tests := []struct {
		name  string
		input string
		want  posErr
	}{
		{"exponent", expLine,
			posErr{"in", 1, valueCol(expLine, "ComponentListPrice"), "ComponentListPrice", `ComponentListPrice: invalid decimal "1e5": exponent notation is not allowed`}},
		{"too many integral digits", bigLine,
			posErr{"in", 1, valueCol(bigLine, "ComponentUsage"), "ComponentUsage", "24 digits before the decimal point, at most 20 allowed"}},
		{"UIN not digits", uinLine,
			posErr{"in", 1, valueCol(uinLine, "OwnerAccountId"), "OwnerAccountId", `OwnerAccountId: "-5" is not a UIN`}},
		{"bad time", timeLine,
			posErr{"in", 1, valueCol(timeLine, "TransactionTime"), "TransactionTime", `"2024-03-01" is not a valid time`}},
		{"missing required key", `{"Currency":"USD"}`,
			posErr{"in", 1, 1, "PayerAccountId", "in:1:1: PayerAccountId: required, but empty"}},
		{"missing Id", strings.Replace(jsonGood, `"Id":"r1",`, "", 1),
			posErr{"in", 1, 1, "Id", "in:1:1: Id: required, but empty"}},
		{"unknown key", `{"Id":"a","Foo":1}`,
			posErr{"in", 1, 11, "", `in:1:11: unknown key "Foo"; want the BillDetailData field names`}},
		{"wrong-case key", `{"totalCost":"1"}`,
			posErr{"in", 1, 2, "", `did you mean "TotalCost"?`}},
		{"duplicate key", `{"Id":"a","Id":"b"}`,
			posErr{"in", 1, 11, "", `in:1:11: duplicate key "Id"`}},
		{"null text", `{"Id":null}`,
			posErr{"in", 1, 7, "Id", "in:1:7: Id: got null; want a JSON string"}},
		{"null amount", `{"TotalCost":null}`,
			posErr{"in", 1, 14, "TotalCost", "in:1:14: TotalCost: got null; want a JSON string or number"}},
		{"number for text", `{"Currency":840}`,
			posErr{"in", 1, 13, "Currency", "Currency: got 840; want a JSON string"}},
		{"number for BillMonth", `{"BillMonth":202402}`,
			posErr{"in", 1, 14, "BillMonth", "BillMonth: got 202402; want a JSON string"}},
		{"bad BillMonth", `{"BillMonth":"2024-2"}`,
			posErr{"in", 1, 14, "BillMonth", `BillMonth: parse month "2024-2": want YYYY-MM`}},
		{"boolean", `{"Id":true}`,
			posErr{"in", 1, 7, "Id", "Id: got true; want a JSON string"}},
		{"object", `{"Region":{"name":"x"}}`,
			posErr{"in", 1, 11, "Region", "Region: got an object; want a JSON string"}},
		{"array", `{"TotalCost":[1]}`,
			posErr{"in", 1, 14, "TotalCost", "TotalCost: got an array; want a JSON string or number"}},
		{"invalid UTF-8", `{"InstanceName":"a` + "\xff" + `"}`,
			posErr{"in", 1, 17, "InstanceName", "InstanceName: invalid JSON value: string is not valid UTF-8"}},
		{"not an object", `[1,2]`,
			posErr{"in", 1, 1, "", "in:1:1: want a JSON object on each line"}},
		{"unterminated object", `{"Id":"a"`,
			posErr{"in", 1, 10, "", `in:1:10: invalid JSON: want "," or "}" after a value`}},
		{"unterminated string", `{"Id":"a}`,
			posErr{"in", 1, 7, "Id", "Id: invalid JSON value: unterminated string"}},
		{"bad escape", `{"Id":"a\q"}`,
			posErr{"in", 1, 7, "Id", "in:1:7: Id: invalid JSON value: "}},
		{"raw control character", "{\"Id\":\"a\tb\"}",
			posErr{"in", 1, 7, "Id", "in:1:7: Id: invalid JSON value: "}},
		{"leading zero", `{"TotalCost":01}`,
			posErr{"in", 1, 14, "TotalCost", "number with a leading zero"}},
		{"bad literal", `{"Id":nul}`,
			posErr{"in", 1, 7, "Id", "in:1:7: Id: invalid JSON value: "}},
		{"bad number", `{"TotalCost":-}`,
			posErr{"in", 1, 14, "TotalCost", "in:1:14: TotalCost: invalid JSON value: "}},
		{"missing value", `{"Id":}`,
			posErr{"in", 1, 7, "Id", "in:1:7: Id: invalid JSON value: "}},
		{"line ends after the colon", `{"Id":`,
			posErr{"in", 1, 7, "Id", "Id: invalid JSON value: unexpected end of line"}},
		{"unterminated key", `{"Id`,
			posErr{"in", 1, 2, "", "in:1:2: invalid JSON key: unterminated string"}},
		{"invalid UTF-8 in a key", `{"I` + "\xff" + `d":"a"}`,
			posErr{"in", 1, 2, "", "in:1:2: invalid JSON key: string is not valid UTF-8"}},
		{"invalid UTF-8 outside a string", `{"Id":"a"` + "\xff}",
			posErr{"in", 1, 10, "", `in:1:10: invalid JSON: want "," or "}" after a value`}},
		{"missing comma", `{"Id":"a" "Currency":"USD"}`,
			posErr{"in", 1, 11, "", `in:1:11: invalid JSON: want "," or "}" after a value`}},
		{"trailing comma", `{"Id":"a",}`,
			posErr{"in", 1, 11, "", "in:1:11: invalid JSON: want a key in double quotes"}},
		{"negative leading zero", `{"TotalCost":-01}`,
			posErr{"in", 1, 14, "TotalCost", "number with a leading zero"}},
		{"missing colon", `{"Id" "a"}`,
			posErr{"in", 1, 7, "Id", `want ":" after the key`}},
		{"unquoted key", `{Id:"a"}`,
			posErr{"in", 1, 2, "", "want a key in double quotes"}},
		{"trailing text", `{"Id":"a"} {}`,
			posErr{"in", 1, 12, "", "in:1:12: unexpected text after the JSON object"}},
		{"second object", `{"Id":"a"}}`,
			posErr{"in", 1, 11, "", "in:1:11: unexpected text after the JSON object"}},
		{"error on a later line", "\n" + jsonGood + "\n\n" + `{"Id":1}`,
			posErr{"in", 4, 7, "Id", "in:4:7: Id: got 1; want a JSON string"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := readAll(t, FormatJSONL, tt.input)
			checkPosErr(t, err, tt.want)
		})
	}
}

func TestNewReaderUnknownFormat(t *testing.T) {
	t.Parallel()
	if _, err := NewReader("x", strings.NewReader(""), Format(0)); err == nil {
		t.Error("NewReader accepted Format(0)")
	}
}

// TestReaderReadErrors checks that an I/O error surfaces as a sticky
// *PosError wrapping the cause.
func TestReaderReadErrors(t *testing.T) {
	t.Parallel()
	boom := errors.New("disk on fire")
	for _, f := range []Format{FormatCSV, FormatJSONL} {
		src := io.MultiReader(strings.NewReader(csvHeader+"\n"), iotest.ErrReader(boom))
		if f == FormatJSONL {
			src = io.MultiReader(strings.NewReader(jsonGood+"\n"), iotest.ErrReader(boom))
		}
		rd, err := NewReader("in", src, f)
		if err != nil {
			if !errors.Is(err, boom) {
				t.Fatalf("%v: NewReader: %v", f, err)
			}
			continue
		}
		var last error
		for _, err := range rd.All() {
			last = err
		}
		var pe *PosError
		if !errors.Is(last, boom) || !errors.As(last, &pe) {
			t.Errorf("%v: last error = %v, want a *PosError wrapping %v", f, last, boom)
		}
		if _, again := rd.Next(); again != last {
			t.Errorf("%v: error not sticky: %v then %v", f, last, again)
		}
	}
}
