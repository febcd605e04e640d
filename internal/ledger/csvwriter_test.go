package ledger

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// awkward is text that CSV tools commonly mangle.
var awkward = []string{
	"plain",
	"comma, inside",
	`quote " inside`,
	`"fully quoted"`,
	"line\nbreak",
	"windows\r\nbreak",
	"lone\rreturn",
	"trailing newline\n",
	"\r\n",
	" leading and trailing spaces ",
	"生产环境-数据库",
	"🚀 launch 👩‍💻",
	"East China\u00a0(Shanghai)",
	"\u00a0leading no-break space",
	`\.`,
	"#not a comment",
	"tab\tinside",
	"",
}

// awkwardRows returns valid rows whose text fields hold the awkward values.
func awkwardRows() []Row {
	var rows []Row
	for i, s := range awkward {
		r := validRow()
		r.Id = "id-" + strings.Repeat("x", i)
		r.ProductName, r.ProjectName, r.Region, r.InstanceName = s, s, s, s
		r.ComponentName, r.SubProductName, r.Currency = s+"!", s, "USD"
		r.BillMonth = Month{2023, time.Month(1 + i%12)}
		rows = append(rows, r)
	}
	return rows
}

func writeRows(t testing.TB, rows []Row, withMonth bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf, withMonth)
	for i := range rows {
		if err := w.Write(&rows[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestWriterHeader(t *testing.T) {
	t.Parallel()
	got := string(writeRows(t, nil, false))
	want := strings.Join(Fields[:], ",") + "\n"
	if got != want {
		t.Errorf("header = %q, want %q", got, want)
	}
	got = string(writeRows(t, nil, true))
	if want := strings.Join(Fields[:], ",") + ",BillMonth\n"; got != want {
		t.Errorf("header with month = %q, want %q", got, want)
	}
}

func TestWriterQuoting(t *testing.T) {
	t.Parallel()
	r := validRow()
	r.InstanceName = `a "b", c`
	r.Region = "x\r\ny"
	got := string(writeRows(t, []Row{r}, false))
	lines := strings.SplitN(got, "\n", 2)
	wantRow := `800000448722,800000448824,800000448824,cloud block storage,Pay-As-You-Go resources,default,"x` + "\r\n" +
		`y",Shanghai Zone 1,disk-ekoob7ok,"a ""b"", c",HDD cloud block storage,Hourly settlement,20230228722000247298552,` +
		`2023-02-28 13:01:23,2023-02-28 12:00:00,2023-02-28 12:59:59,volume size,HDD cloud block storage-volume size,` +
		`0.00000003,USD/GB/Second,250,GB,478,Second,0.003585,1,USD,0.003585,0,0.003585,4998689516778477313,1` + "\n"
	if lines[1] != wantRow {
		t.Errorf("row =\n%q\nwant\n%q", lines[1], wantRow)
	}
}

func TestWriterReaderRoundTrip(t *testing.T) {
	t.Parallel()
	for _, withMonth := range []bool{true, false} {
		rows := awkwardRows()
		data := writeRows(t, rows, withMonth)

		// Read it back whole and one byte at a time (which splits every
		// "\r\n" across reads).
		for _, src := range []io.Reader{bytes.NewReader(data), iotest.OneByteReader(bytes.NewReader(data))} {
			rd, err := NewReader("rt.csv", src, FormatCSV)
			if err != nil {
				t.Fatal(err)
			}
			var got []Row
			for row, err := range rd.All() {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, row)
			}
			want := awkwardRows()
			if !withMonth {
				for i := range want {
					want[i].BillMonth = Month{2023, time.February} // from TransactionTime
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("withMonth=%v: round trip (-want +got):\n%s", withMonth, diff)
			}
			// Writing what was read gives the same bytes.
			if again := writeRows(t, got, withMonth); !bytes.Equal(again, data) {
				t.Errorf("withMonth=%v: rewrite differs:\n%q\nvs\n%q", withMonth, again, data)
			}
		}
	}
}

// failWriter fails every write.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriterError(t *testing.T) {
	t.Parallel()
	w := NewWriter(failWriter{}, false)
	r := validRow()
	for range 2000 { // enough to overflow csv.Writer's buffer
		if err := w.Write(&r); err != nil {
			break
		}
	}
	if err := w.Flush(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Flush = %v, want the write error", err)
	}
}
