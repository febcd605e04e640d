package ledger

import (
	"encoding/csv"
	"fmt"
	"io"
)

// Writer writes rows as CSV: the L3 bill file format, and with a BillMonth
// column the format of `partnerbill ledger synth`. Its output reads back
// through [Reader] byte for byte, so a file can go from the ledger to a
// customer and back into another ledger unchanged.
//
// Quoting follows RFC 4180 (encoding/csv decides when a field needs quotes)
// and lines end in "\n". A "\r\n" inside a field is written as is.
type Writer struct {
	cw        *csv.Writer
	withMonth bool
	rec       []string // reused between rows
	err       error    // from writing the header
}

// NewWriter returns a Writer on w and writes the header: the 32
// [Fields], plus BillMonth last when withMonth is set. Output is buffered;
// call Flush at the end.
func NewWriter(w io.Writer, withMonth bool) *Writer {
	cw := csv.NewWriter(w)
	cw.UseCRLF = false
	wr := &Writer{cw: cw, withMonth: withMonth, rec: make([]string, 0, numFields+1)}
	rec := append(wr.rec[:0], Fields[:]...)
	if withMonth {
		rec = append(rec, billMonthName)
	}
	if err := cw.Write(rec); err != nil {
		wr.err = fmt.Errorf("write CSV header: %w", err)
	}
	return wr
}

// Write writes one row. It does not validate the row; a zero BillMonth is
// written as an empty cell, which the Reader fills in from TransactionTime.
func (w *Writer) Write(r *Row) error {
	if w.err != nil {
		return w.err
	}
	rec := w.rec[:0]
	for i := range numFields {
		rec = append(rec, *r.ref(i))
	}
	if w.withMonth {
		month := ""
		if !r.BillMonth.IsZero() {
			month = r.BillMonth.String()
		}
		rec = append(rec, month)
	}
	w.rec = rec
	if err := w.cw.Write(rec); err != nil {
		return fmt.Errorf("write CSV row with Id %s: %w", quoteShort(r.Id), err)
	}
	return nil
}

// Flush writes any buffered data and reports the first error met while
// writing, so callers need check only Flush for I/O failures.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	w.cw.Flush()
	if err := w.cw.Error(); err != nil {
		return fmt.Errorf("flush CSV: %w", err)
	}
	return nil
}
