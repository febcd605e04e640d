package store

import (
	"fmt"

	"github.com/partnerbill/partnerbill/internal/ledger"
)

// RowFromValues rebuilds a line item from its stored columns: the fields in
// ledger.Fields order, then the bill month. Backends share it so every one
// reads rows back the same way.
func RowFromValues(vals [len(ledger.Fields) + 1]string) (ledger.Row, error) {
	var r ledger.Row
	for i, f := range ledger.Fields {
		if err := r.Set(f, vals[i]); err != nil {
			return r, fmt.Errorf("stored line item: %w", err)
		}
	}
	m, err := ledger.ParseMonth(vals[len(ledger.Fields)])
	if err != nil {
		return r, fmt.Errorf("stored line item %s: %w", r.Id, err)
	}
	r.BillMonth = m
	return r, nil
}

// SameLineItem checks that a re-imported row equals the one already in the
// ledger, field by field, and otherwise returns an ErrConflict that names
// the Id and the first field that differs.
func SameLineItem(old, new ledger.Row) error {
	if old.BillMonth != new.BillMonth {
		return fmt.Errorf("line item Id %s: %w: BillMonth is %s in the ledger, %s in this file",
			new.Id, ErrConflict, old.BillMonth, new.BillMonth)
	}
	ov, nv := old.Values(), new.Values()
	for i, f := range ledger.Fields {
		if ov[i] != nv[i] {
			return fmt.Errorf("line item Id %s: %w: %s is %q in the ledger, %q in this file",
				new.Id, ErrConflict, f, ov[i], nv[i])
		}
	}
	return nil
}

// RowError is an error about one row of an import: Row is its position in
// the rows given to ImportRows, counting from 1, so that the caller can
// name where it came from (a backend that checks rows in bulk meets a bad
// one after the caller has read on past it).
type RowError struct {
	Row int64
	Err error
}

func (e *RowError) Error() string { return e.Err.Error() }
func (e *RowError) Unwrap() error { return e.Err }
