package ledger

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// Limits of an imported amount. Tencent's detail lines carry up to 8
// decimal places; 12 leaves room for unit prices and rates, and 20 integral
// digits cover any plausible sum of money or usage. Keeping them bounded
// keeps error messages and arithmetic cost predictable.
const (
	maxIntDigits  = 20
	maxFracDigits = 12
)

// decimalWant is appended to every rejection so the operator learns the
// accepted form from any single error.
const decimalWant = `want a plain decimal: optional "-", 1 to 20 digits, then optionally "." and 1 to 12 digits`

// ParseDecimal parses an amount, price, usage or rate from a bill field.
// Only plain decimals are accepted: an optional leading "-", 1 to 20
// integral digits, and optionally "." followed by 1 to 12 fractional digits.
// There is no "+", no exponent, no spaces, no thousands separator, and no
// bare leading or trailing ".". One spelling per value keeps imported text
// and computed sums comparable, and it keeps float-style text ("1e5") out of
// customers' bills. Leading zeros ("007") are allowed; the spec says nothing
// against them and the text is kept as imported anyway.
func ParseDecimal(s string) (decimal.Decimal, error) {
	if err := checkDecimal(s); err != nil {
		return decimal.Decimal{}, err
	}
	d, err := decimal.NewFromString(s)
	if err != nil { // cannot happen after checkDecimal; kept for safety
		return decimal.Decimal{}, fmt.Errorf("parse decimal %s: %w", quoteShort(s), err)
	}
	return d, nil
}

// checkDecimal is ParseDecimal's syntax check without building the value;
// validation runs it on nine fields of every imported row.
func checkDecimal(s string) error {
	fail := func(why string) error {
		return fmt.Errorf("invalid decimal %s: %s; %s", quoteShort(s), why, decimalWant)
	}
	if s == "" {
		return fail("empty")
	}
	i := 0
	switch s[0] {
	case '-':
		i = 1
	case '+':
		return fail(`a leading "+" is not allowed`)
	}
	start := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	switch n := i - start; {
	case n == 0 && i < len(s) && s[i] == '.':
		return fail(`no digit before "."`)
	case n == 0 && i == len(s):
		return fail("no digits")
	case n == 0:
		return fail(unexpected(s, i))
	case n > maxIntDigits:
		return fail(fmt.Sprintf("%d digits before the decimal point, at most %d allowed", n, maxIntDigits))
	}
	if i == len(s) {
		return nil
	}
	if s[i] != '.' {
		return fail(unexpected(s, i))
	}
	i++
	start = i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	switch n := i - start; {
	case n == 0 && i == len(s):
		return fail(`no digit after "."`)
	case n == 0:
		return fail(unexpected(s, i))
	case n > maxFracDigits:
		return fail(fmt.Sprintf("%d digits after the decimal point, at most %d allowed", n, maxFracDigits))
	}
	if i == len(s) {
		return nil
	}
	return fail(unexpected(s, i))
}

// unexpected describes the character at s[i] that ended a decimal early,
// naming the common mistakes.
func unexpected(s string, i int) string {
	r, _ := utf8.DecodeRuneInString(s[i:])
	switch {
	case r == 'e' || r == 'E':
		return "exponent notation is not allowed"
	case r == ',':
		return `"," is not allowed (no thousands separators or decimal commas)`
	case r == '.':
		return `more than one "."`
	case r == '-' || r == '+':
		return fmt.Sprintf("unexpected sign %q at byte %d", r, i+1)
	case strings.ContainsRune(" \t\r\n\u00a0", r):
		return "spaces are not allowed"
	}
	return fmt.Sprintf("unexpected %q at byte %d", r, i+1)
}

// isDigit reports whether c is an ASCII digit.
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// FormatDecimal prints d the one way partnerbill writes computed amounts:
// plain notation, never an exponent, no trailing fractional zeros, "0" for
// zero. It does not use d.String, whose output depends on the shopspring
// package-level switches (UseScientificNotation, TrimTrailingZeros) that
// any other code in the binary could flip.
func FormatDecimal(d decimal.Decimal) string {
	exp := d.Exponent()
	if exp >= 0 {
		return d.StringFixed(0)
	}
	s := d.StringFixed(-exp) // exact: no rounding at the value's own scale
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}
