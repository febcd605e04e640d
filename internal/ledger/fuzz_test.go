package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Fuzz targets for the import parsers and the decimal grammar: what an
// operator feeds `ledger import` may come from anywhere. `go test` runs
// the seeds in testdata/fuzz/<Name>/; RELIABILITY.md says how long each
// was fuzzed. To fuzz one:
//
//	go test -run XXX -fuzz FuzzReadCSV -fuzztime 60s -parallel 1 ./internal/ledger/

// FuzzReadCSV: the CSV reader never panics and always terminates; every
// error is a *PosError inside the input; every row it yields passes
// Validate; and every row it yields, written by Writer, reads back equal.
func FuzzReadCSV(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, row := range checkReader(t, data, FormatCSV) {
			var buf bytes.Buffer
			w := NewWriter(&buf, true)
			if err := w.Write(&row); err != nil {
				t.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			back := checkReader(t, buf.Bytes(), FormatCSV)
			if len(back) != 1 {
				t.Fatalf("row %+v written as %q reads back as %d rows", row, buf.Bytes(), len(back))
			}
			if diff := cmp.Diff(row, back[0]); diff != "" {
				t.Fatalf("row written as %q reads back different (-read +reread):\n%s", buf.Bytes(), diff)
			}
		}
	})
}

// FuzzReadJSONL: as FuzzReadCSV for JSON Lines, where the round trip
// writes each row as one JSON object of strings.
func FuzzReadJSONL(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, row := range checkReader(t, data, FormatJSONL) {
			obj := map[string]string{billMonthName: row.BillMonth.String()}
			for i, v := range row.Values() {
				if v != "" {
					obj[Fields[i]] = v
				}
			}
			line, err := json.Marshal(obj)
			if err != nil {
				t.Fatal(err)
			}
			back := checkReader(t, line, FormatJSONL)
			if len(back) != 1 {
				t.Fatalf("row %+v written as %s reads back as %d rows", row, line, len(back))
			}
			if diff := cmp.Diff(row, back[0]); diff != "" {
				t.Fatalf("row written as %s reads back different (-read +reread):\n%s", line, diff)
			}
		}
	})
}

// checkReader reads data to the end, checking the reader's promises, and
// returns the rows it yielded.
func checkReader(t *testing.T, data []byte, f Format) []Row {
	t.Helper()
	lines := bytes.Count(data, []byte("\n")) + 1
	checkErr := func(err error) {
		t.Helper()
		var pe *PosError
		if !errors.As(err, &pe) {
			t.Fatalf("error %v (%T) is not a *PosError", err, err)
		}
		if pe.File != "fuzz" || pe.Line < 1 || pe.Column < 1 || pe.Line > lines || pe.Column > len(data)+1 {
			t.Fatalf("error %q: position %s:%d:%d is outside the input (%d lines, %d bytes)", err, pe.File, pe.Line, pe.Column, lines, len(data))
		}
		if !strings.HasPrefix(err.Error(), "fuzz:") {
			t.Fatalf("error %q does not start with its position", err)
		}
	}
	rd, err := NewReader("fuzz", bytes.NewReader(data), f)
	if err != nil {
		checkErr(err)
		return nil
	}
	var rows []Row
	var last error
	// Each call to Next consumes at least one line, or repeats a sticky
	// error: lines+1 calls reach the end.
	for range lines + 1 {
		row, err := rd.Next()
		switch {
		case err == io.EOF:
			return rows
		case err != nil:
			checkErr(err)
			if err == last {
				return rows // sticky: the reader cannot go on
			}
			last = err
			continue
		}
		if row.BillMonth.IsZero() {
			t.Fatalf("row without BillMonth: %+v", row)
		}
		again := row
		if err := again.Validate(); err != nil || again != row {
			t.Fatalf("row %+v does not pass Validate: %v", row, err)
		}
		rows = append(rows, row)
	}
	t.Fatalf("Next did not reach the end of %d lines", lines)
	return nil
}

// decimalGrammar is ParseDecimal's documented grammar, written
// independently of its hand-written scanner.
var decimalGrammar = regexp.MustCompile(`^-?[0-9]{1,20}(\.[0-9]{1,12})?$`)

// canonicalDecimal is the one spelling FormatDecimal must give a value
// written s: no leading zeros, no trailing fractional zeros, no "-0".
func canonicalDecimal(s string) string {
	neg := strings.HasPrefix(s, "-")
	whole, frac, _ := strings.Cut(strings.TrimPrefix(s, "-"), ".")
	whole = strings.TrimLeft(whole, "0")
	if whole == "" {
		whole = "0"
	}
	out := whole
	if frac = strings.TrimRight(frac, "0"); frac != "" {
		out += "." + frac
	}
	if neg && out != "0" {
		out = "-" + out
	}
	return out
}

// FuzzParseDecimal: ParseDecimal accepts exactly the grammar; an accepted
// value equals the exact rational the text names and formats to the
// canonical spelling (never an exponent), which parses back to the same
// value; a refusal says what is wanted, in a message of bounded size.
func FuzzParseDecimal(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDecimal(s)
		if want := decimalGrammar.MatchString(s); want != (err == nil) {
			t.Fatalf("ParseDecimal(%q) error = %v, grammar match = %v", s, err, want)
		}
		if err != nil {
			if !strings.HasSuffix(err.Error(), decimalWant) || len(err.Error()) > 400 {
				t.Fatalf("ParseDecimal(%q) error %q: want a short message ending in the grammar", s, err)
			}
			return
		}
		want, ok := new(big.Rat).SetString(s)
		if !ok || d.Rat().Cmp(want) != 0 {
			t.Fatalf("ParseDecimal(%q) = %s, want %s", s, d.Rat(), want)
		}
		got := FormatDecimal(d)
		if got != canonicalDecimal(s) || strings.ContainsAny(got, "eE+") {
			t.Fatalf("FormatDecimal(ParseDecimal(%q)) = %q, want %q", s, got, canonicalDecimal(s))
		}
		back, err := ParseDecimal(got)
		if err != nil || !back.Equal(d) {
			t.Fatalf("ParseDecimal(FormatDecimal(%q)) = %v, %v", s, back, err)
		}
	})
}
