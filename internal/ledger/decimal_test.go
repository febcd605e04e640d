package ledger

import (
	"math/big"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

func TestParseDecimal(t *testing.T) {
	t.Parallel()
	good := []string{
		"0", "-0", "10", "0.003585", "0.00000311", "-12.5", "007",
		"0.100000000000", // 12 fractional digits, trailing zeros kept in the text
		"99999999999999999999.999999999999",
		"-99999999999999999999.999999999999",
	}
	for _, s := range good {
		d, err := ParseDecimal(s)
		if err != nil {
			t.Errorf("ParseDecimal(%q): %v", s, err)
			continue
		}
		want, _ := new(big.Rat).SetString(s) // independent exact reference
		if got := d.Rat(); got.Cmp(want) != 0 {
			t.Errorf("ParseDecimal(%q) = %s, want %s", s, got, want)
		}
	}

	const want = "; " + decimalWant
	bad := []struct{ in, msg string }{
		{"", `invalid decimal "": empty`},
		{"+1", `invalid decimal "+1": a leading "+" is not allowed`},
		{"-", `invalid decimal "-": no digits`},
		{".5", `invalid decimal ".5": no digit before "."`},
		{"-.5", `invalid decimal "-.5": no digit before "."`},
		{"5.", `invalid decimal "5.": no digit after "."`},
		{"1e5", `invalid decimal "1e5": exponent notation is not allowed`},
		{"1.5E-3", `invalid decimal "1.5E-3": exponent notation is not allowed`},
		{"1,000", `invalid decimal "1,000": "," is not allowed (no thousands separators or decimal commas)`},
		{"1,5", `invalid decimal "1,5": "," is not allowed (no thousands separators or decimal commas)`},
		{" 1", `invalid decimal " 1": spaces are not allowed`},
		{"1 ", `invalid decimal "1 ": spaces are not allowed`},
		{"1\u00a0000", `invalid decimal "1\u00a0000": spaces are not allowed`},
		{"1.2.3", `invalid decimal "1.2.3": more than one "."`},
		{"1-2", `invalid decimal "1-2": unexpected sign '-' at byte 2`},
		{"--1", `invalid decimal "--1": unexpected sign '-' at byte 2`},
		{"0x10", `invalid decimal "0x10": unexpected 'x' at byte 2`},
		{"NaN", `invalid decimal "NaN": unexpected 'N' at byte 1`},
		{"1.x", `invalid decimal "1.x": unexpected 'x' at byte 3`},
		{"１", `invalid decimal "１": unexpected '１' at byte 1`},
		{"123456789012345678901234.5", `invalid decimal "123456789012345678901234.5": 24 digits before the decimal point, at most 20 allowed`},
		{"0.1234567890123", `invalid decimal "0.1234567890123": 13 digits after the decimal point, at most 12 allowed`},
	}
	for _, tt := range bad {
		_, err := ParseDecimal(tt.in)
		if err == nil || err.Error() != tt.msg+want {
			t.Errorf("ParseDecimal(%q) error =\n  %v\nwant\n  %s", tt.in, err, tt.msg+want)
		}
	}
}

func TestFormatDecimal(t *testing.T) {
	t.Parallel()
	huge := "1" + strings.Repeat("0", 60)
	tiny := "0." + strings.Repeat("0", 59) + "1"
	tests := []struct {
		in   decimal.Decimal
		want string
	}{
		{decimal.Zero, "0"},
		{decimal.New(0, -8), "0"},
		{decimal.New(150, -2), "1.5"},
		{decimal.New(-150, -2), "-1.5"},
		{decimal.New(10000, -2), "100"},
		{decimal.New(1, 60), huge},
		{decimal.New(-1, 60), "-" + huge},
		{decimal.New(1, -60), tiny},
		{decimal.New(12345, 3), "12345000"},
		{decimal.RequireFromString("1e-7"), "0.0000001"},
		{decimal.RequireFromString("0.044784"), "0.044784"},
		{mustDecimal("99999999999999999999.999999999999").Mul(mustDecimal("99999999999999999999.999999999999")),
			// (10^20 − 10^-12)² = 10^40 − 2·10^8 + 10^-24
			"9999999999999999999999999999999800000000.000000000000000000000001"},
	}
	for _, tt := range tests {
		if got := FormatDecimal(tt.in); got != tt.want {
			t.Errorf("FormatDecimal(%s) = %q, want %q", tt.in.Rat(), got, tt.want)
		}
		if strings.ContainsAny(FormatDecimal(tt.in), "eE") {
			t.Errorf("FormatDecimal(%s) has an exponent", tt.in.Rat())
		}
	}
}

// TestFormatDecimalIgnoresGlobals flips shopspring's package-level switches,
// so it must not run alongside other tests: it is deliberately not parallel
// (top-level parallel tests wait until the sequential ones are done).
func TestFormatDecimalIgnoresGlobals(t *testing.T) {
	sci, trim := decimal.UseScientificNotation, decimal.TrimTrailingZeros
	t.Cleanup(func() { decimal.UseScientificNotation, decimal.TrimTrailingZeros = sci, trim })
	decimal.UseScientificNotation, decimal.TrimTrailingZeros = true, false

	if got := FormatDecimal(decimal.New(15, 20)); got != "1500000000000000000000" {
		t.Errorf("FormatDecimal = %q with UseScientificNotation set", got)
	}
	if got := FormatDecimal(decimal.New(150, -4)); got != "0.015" {
		t.Errorf("FormatDecimal = %q with TrimTrailingZeros unset", got)
	}
}

// TestDecimalSum checks that adding millions of maximal amounts is exact:
// 2,000,000 × (10^20 − 10^-12) = 2·10^26 − 2·10^-6.
func TestDecimalSum(t *testing.T) {
	t.Parallel()
	const n = 2_000_000
	v, err := ParseDecimal("99999999999999999999.999999999999")
	if err != nil {
		t.Fatal(err)
	}
	sum := decimal.Zero
	for range n {
		sum = sum.Add(v)
	}
	const want = "199999999999999999999999999.999998"
	if got := FormatDecimal(sum); got != want {
		t.Fatalf("sum = %s, want %s", got, want)
	}
	if !sum.Equal(v.Mul(decimal.NewFromInt(n))) {
		t.Errorf("sum %s differs from the product", FormatDecimal(sum))
	}
	// Adding back the negatives returns exactly to zero.
	neg := v.Neg()
	for range n {
		sum = sum.Add(neg)
	}
	if !sum.IsZero() {
		t.Errorf("sum minus the same values = %s, want 0", FormatDecimal(sum))
	}
}
