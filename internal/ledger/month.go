package ledger

import (
	"fmt"
	"time"
)

// Month is a calendar month, the key of every bill: APIs take it as
// "YYYY-MM", files are built per month, and each [Row] belongs to one.
// It is a small comparable value, so it can be a map key or compared with ==.
// The zero Month means "not set".
type Month struct {
	Year int
	Mon  time.Month
}

// ParseMonth parses exactly "YYYY-MM" (four digits, a dash, 01 to 12).
// It checks only the shape: which months a caller may ask for (the API
// allows 2022-06 up to the current month) is the caller's rule.
func ParseMonth(s string) (Month, error) {
	if len(s) != 7 || s[4] != '-' || !allDigits(s[:4]) || !allDigits(s[5:]) {
		return Month{}, fmt.Errorf("parse month %s: want YYYY-MM, e.g. 2024-03", quoteShort(s))
	}
	year := atoiDigits(s[:4])
	mon := atoiDigits(s[5:])
	if mon < 1 || mon > 12 {
		return Month{}, fmt.Errorf("parse month %s: month must be 01 to 12", quoteShort(s))
	}
	return Month{Year: year, Mon: time.Month(mon)}, nil
}

// MonthOf returns the month t falls in, as seen in t's location. Bill
// timestamps are wall-clock text, so callers normally pass a time parsed in
// UTC from such text and get the month that text names.
func MonthOf(t time.Time) Month {
	return Month{Year: t.Year(), Mon: t.Month()}
}

// String returns "YYYY-MM", the form every API and file name uses.
func (m Month) String() string {
	var buf [7]byte
	return string(m.appendTo(buf[:0]))
}

// IsZero reports whether m is unset.
func (m Month) IsZero() bool { return m == Month{} }

// Compare returns -1, 0 or +1 as m is before, equal to or after o, for
// sorting and for range checks.
func (m Month) Compare(o Month) int {
	switch {
	case m.Year < o.Year || (m.Year == o.Year && m.Mon < o.Mon):
		return -1
	case m == o:
		return 0
	}
	return 1
}

// Before reports whether m is earlier than o.
func (m Month) Before(o Month) bool { return m.Compare(o) < 0 }

// After reports whether m is later than o.
func (m Month) After(o Month) bool { return m.Compare(o) > 0 }

// Contains reports whether a bill timestamp ("YYYY-MM-DD HH:MM:SS", or any
// text starting "YYYY-MM-") lies in m. It compares text, so it needs no
// parsing and works on rows straight from a file.
func (m Month) Contains(timestamp string) bool {
	if len(timestamp) < 8 || timestamp[7] != '-' {
		return false
	}
	var buf [7]byte
	return string(m.appendTo(buf[:0])) == timestamp[:7]
}

// first returns the first instant of m as wall-clock time in UTC.
func (m Month) first() time.Time {
	return time.Date(m.Year, m.Mon, 1, 0, 0, 0, 0, time.UTC)
}

// appendTo appends "YYYY-MM", without fmt in the usual case because
// readers and writers call it for every row.
func (m Month) appendTo(b []byte) []byte {
	y, mo := m.Year, int(m.Mon)
	if y < 0 || y > 9999 || mo < 0 || mo > 99 {
		return fmt.Appendf(b, "%04d-%02d", y, mo)
	}
	return append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-', byte('0'+mo/10), byte('0'+mo%10))
}

// allDigits reports whether s is non-empty and all ASCII digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// atoiDigits converts a short string of ASCII digits, already checked.
func atoiDigits(s string) int {
	n := 0
	for i := range len(s) {
		n = n*10 + int(s[i]-'0')
	}
	return n
}
