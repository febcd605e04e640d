// Package billfile writes the bill files customers download: L3 (bill
// details, one row per line item) and L2 (bills by instance, one row per
// instance and transaction type with exact sums). Writers are pure
// functions from a stream of rows to CSV bytes; memory does not grow with
// the number of rows.
package billfile

import (
	"encoding/csv"
	"fmt"
	"io"
	"iter"

	"github.com/shopspring/decimal"

	"github.com/partnerbill/partnerbill/internal/ledger"
)

// Kind is the type of a bill file, as the FileType parameter names it.
type Kind string

// The file types an end customer can ask for.
const (
	L2 Kind = "L2" // bills by instance
	L3 Kind = "L3" // bill details
)

// ParseKind accepts exactly "L2" or "L3".
func ParseKind(s string) (Kind, error) {
	switch Kind(s) {
	case L2, L3:
		return Kind(s), nil
	}
	return "", fmt.Errorf("must be L2 (bills by instance) or L3 (bill details), not %q", s)
}

// FileName is the name a downloaded file gets, for example
// L3-bill_details-2024-12.csv (the real service's names, with the month
// the file covers).
func (k Kind) FileName(m ledger.Month) string {
	if k == L2 {
		return "L2-bill_by_Instance-" + m.String() + ".csv"
	}
	return "L3-bill_details-" + m.String() + ".csv"
}

// Order is the order in which a kind's writer needs its rows.
func (k Kind) Order() ledger.Order {
	if k == L2 {
		return ledger.OrderByInstance
	}
	return ledger.OrderByTime
}

// Fields are the line item fields the writer of k reads, for
// ledger.Query.Fields: nil (all) for L3.
func (k Kind) Fields() []string {
	if k == L2 {
		return l2Fields
	}
	return nil
}

// l2Fields are what WriteL2 reads: the grouping key, the usage window, the
// four summed amounts, and Id for error messages.
var l2Fields = append(append([]string{}, ledger.InstanceKeyFields...),
	"UsageStartTime", "UsageEndTime", "OriginalCost", "TotalAmountAfterDiscount", "VoucherDeduction", "TotalCost", "Id")

// Stats counts what a writer wrote.
type Stats struct {
	// Rows is the number of data rows (header excluded).
	Rows int64
	// Bytes is the size of the file.
	Bytes int64
}

// Write writes the file of kind k from rows, which must come in k.Order().
func Write(w io.Writer, k Kind, rows iter.Seq2[ledger.Row, error]) (Stats, error) {
	if k == L2 {
		return WriteL2(w, rows)
	}
	return WriteL3(w, rows)
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// WriteL3 writes a bill details file: the 32 BillDetailData columns in the
// SDK's order, one row per line item, in the order rows come.
func WriteL3(w io.Writer, rows iter.Seq2[ledger.Row, error]) (Stats, error) {
	cw := &countingWriter{w: w}
	lw := ledger.NewWriter(cw, false)
	var st Stats
	for r, err := range rows {
		if err != nil {
			return st, err
		}
		if err := lw.Write(&r); err != nil {
			return st, err
		}
		st.Rows++
	}
	if err := lw.Flush(); err != nil {
		return st, err
	}
	st.Bytes = cw.n
	return st, nil
}

// L2Columns is the header of a bills-by-instance file.
var L2Columns = []string{
	"PayerAccountId", "OwnerAccountId", "ProductName", "SubProductName",
	"BillingMode", "ProjectName", "Region", "AvailabilityZone", "InstanceId",
	"InstanceName", "TransactionType", "UsageStartTime", "UsageEndTime",
	"Currency", "OriginalCost", "TotalAmountAfterDiscount", "VoucherDeduction",
	"TotalCost",
}

// instanceGroup accumulates the line items of one L2 row.
type instanceGroup struct {
	key        [12]string
	start, end string
	sums       [4]decimal.Decimal
}

func instanceKey(r *ledger.Row) [12]string {
	return [12]string{
		r.PayerAccountId, r.OwnerAccountId, r.ProductName, r.SubProductName,
		r.BillingMode, r.ProjectName, r.Region, r.AvailabilityZone, r.InstanceId,
		r.InstanceName, r.TransactionType, r.Currency,
	}
}

func (g *instanceGroup) add(r *ledger.Row) error {
	// Times share one fixed layout, so byte order is time order. Empty
	// usage times (allowed on import) take no part.
	if r.UsageStartTime != "" && (g.start == "" || r.UsageStartTime < g.start) {
		g.start = r.UsageStartTime
	}
	if r.UsageEndTime > g.end {
		g.end = r.UsageEndTime
	}
	for i, s := range [4]string{r.OriginalCost, r.TotalAmountAfterDiscount, r.VoucherDeduction, r.TotalCost} {
		d, err := ledger.ParseDecimal(s)
		if err != nil {
			return fmt.Errorf("line item %s: %w", r.Id, err)
		}
		g.sums[i] = g.sums[i].Add(d)
	}
	return nil
}

func (g *instanceGroup) record() []string {
	k := g.key
	rec := append(k[:11:11], g.start, g.end, k[11])
	for _, s := range g.sums {
		rec = append(rec, ledger.FormatDecimal(s))
	}
	return rec
}

// WriteL2 writes a bills-by-instance file: one row per
// ledger.InstanceKeyFields group with the earliest usage start, the latest
// usage end and the exact sums of the four amount columns. rows must come
// sorted by that key (ledger.OrderByInstance), so only one group is held in
// memory at a time.
func WriteL2(w io.Writer, rows iter.Seq2[ledger.Row, error]) (Stats, error) {
	cw := &countingWriter{w: w}
	out := csv.NewWriter(cw)
	var st Stats
	if err := out.Write(L2Columns); err != nil {
		return st, err
	}
	var cur *instanceGroup
	flush := func() error {
		if cur == nil {
			return nil
		}
		st.Rows++
		return out.Write(cur.record())
	}
	for r, err := range rows {
		if err != nil {
			return st, err
		}
		k := instanceKey(&r)
		if cur == nil || k != cur.key {
			if cur != nil && lessKey(k, cur.key) {
				return st, fmt.Errorf("line item %s arrived out of instance order", r.Id)
			}
			if err := flush(); err != nil {
				return st, err
			}
			cur = &instanceGroup{key: k}
		}
		if err := cur.add(&r); err != nil {
			return st, err
		}
	}
	if err := flush(); err != nil {
		return st, err
	}
	out.Flush()
	if err := out.Error(); err != nil {
		return st, err
	}
	st.Bytes = cw.n
	return st, nil
}

func lessKey(a, b [12]string) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}
