package ledger

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Row is one bill line item: the 32 fields of the API's BillDetailData, in
// the SDK's order, plus the month whose bill the item belongs to.
//
// Every field holds the exact text that was imported, so that the API and the
// L3 file hand back byte for byte what the operator supplied: partnerbill
// never trims, pads or reformats a field. Amounts are checked by [Row.Validate]
// but stay text; call [ParseDecimal] to compute with them.
//
// The field names deliberately copy the spec (PayerAccountId, not
// PayerAccountID) so that code, CSV headers and JSON keys all read the same.
type Row struct {
	PayerAccountId                string // reseller UIN (the account that pays Tencent)
	OwnerAccountId                string // end-customer UIN (owner of the resource)
	OperatorAccountId             string // UIN of whoever ordered the resource; may be empty
	ProductName                   string
	BillingMode                   string
	ProjectName                   string
	Region                        string
	AvailabilityZone              string
	InstanceId                    string
	InstanceName                  string
	SubProductName                string
	TransactionType               string // display name such as "Hourly settlement", not the API code
	TransactionId                 string
	TransactionTime               string // YYYY-MM-DD HH:MM:SS, wall-clock time (Beijing time, as the spec infers)
	UsageStartTime                string
	UsageEndTime                  string
	ComponentType                 string
	ComponentName                 string
	ComponentListPrice            string
	ComponentPriceMeasurementUnit string
	ComponentUsage                string
	ComponentUsageUnit            string
	UsageDuration                 string
	DurationUnit                  string
	OriginalCost                  string
	DiscountRate                  string
	Currency                      string
	TotalAmountAfterDiscount      string
	VoucherDeduction              string
	TotalCost                     string
	Id                            string // line identifier; what re-imports match on
	CustomerDiscountRate          string

	// BillMonth is the month whose bill carries this item. It usually equals
	// the month of TransactionTime, but need not: an hour used on the last
	// evening of a month may be settled after midnight. Imports without a
	// BillMonth column get the month of TransactionTime (see Validate).
	BillMonth Month
}

// Field indexes in SDK order. Readers map header columns and JSON keys to
// these once, instead of looking names up for every row.
const (
	fPayerAccountId = iota
	fOwnerAccountId
	fOperatorAccountId
	fProductName
	fBillingMode
	fProjectName
	fRegion
	fAvailabilityZone
	fInstanceId
	fInstanceName
	fSubProductName
	fTransactionType
	fTransactionId
	fTransactionTime
	fUsageStartTime
	fUsageEndTime
	fComponentType
	fComponentName
	fComponentListPrice
	fComponentPriceMeasurementUnit
	fComponentUsage
	fComponentUsageUnit
	fUsageDuration
	fDurationUnit
	fOriginalCost
	fDiscountRate
	fCurrency
	fTotalAmountAfterDiscount
	fVoucherDeduction
	fTotalCost
	fId
	fCustomerDiscountRate

	numFields // 32

	// fBillMonth is the pseudo-index of the optional BillMonth column.
	fBillMonth = numFields
)

// billMonthName is the name of the optional column and key that carries
// Row.BillMonth in imports and in `ledger synth` output.
const billMonthName = "BillMonth"

// Fields lists the BillDetailData field names in SDK order. It is the L3
// file's header and the order of [Row.Values].
var Fields = [numFields]string{
	"PayerAccountId",
	"OwnerAccountId",
	"OperatorAccountId",
	"ProductName",
	"BillingMode",
	"ProjectName",
	"Region",
	"AvailabilityZone",
	"InstanceId",
	"InstanceName",
	"SubProductName",
	"TransactionType",
	"TransactionId",
	"TransactionTime",
	"UsageStartTime",
	"UsageEndTime",
	"ComponentType",
	"ComponentName",
	"ComponentListPrice",
	"ComponentPriceMeasurementUnit",
	"ComponentUsage",
	"ComponentUsageUnit",
	"UsageDuration",
	"DurationUnit",
	"OriginalCost",
	"DiscountRate",
	"Currency",
	"TotalAmountAfterDiscount",
	"VoucherDeduction",
	"TotalCost",
	"Id",
	"CustomerDiscountRate",
}

// NumericFields lists the fields that hold exact decimals, so that callers
// summing or comparing amounts know which text to run through [ParseDecimal].
var NumericFields = [9]string{
	"ComponentListPrice",
	"ComponentUsage",
	"UsageDuration",
	"OriginalCost",
	"DiscountRate",
	"TotalAmountAfterDiscount",
	"VoucherDeduction",
	"TotalCost",
	"CustomerDiscountRate",
}

// fieldIndex finds a field's index by name for Set and Get.
var fieldIndex = func() map[string]int {
	m := make(map[string]int, numFields)
	for i, name := range Fields {
		m[name] = i
	}
	return m
}()

// ref returns the address of field i (an index in Fields order). A switch,
// not reflection, keeps the per-row cost of readers and writers low.
func (r *Row) ref(i int) *string {
	switch i {
	case fPayerAccountId:
		return &r.PayerAccountId
	case fOwnerAccountId:
		return &r.OwnerAccountId
	case fOperatorAccountId:
		return &r.OperatorAccountId
	case fProductName:
		return &r.ProductName
	case fBillingMode:
		return &r.BillingMode
	case fProjectName:
		return &r.ProjectName
	case fRegion:
		return &r.Region
	case fAvailabilityZone:
		return &r.AvailabilityZone
	case fInstanceId:
		return &r.InstanceId
	case fInstanceName:
		return &r.InstanceName
	case fSubProductName:
		return &r.SubProductName
	case fTransactionType:
		return &r.TransactionType
	case fTransactionId:
		return &r.TransactionId
	case fTransactionTime:
		return &r.TransactionTime
	case fUsageStartTime:
		return &r.UsageStartTime
	case fUsageEndTime:
		return &r.UsageEndTime
	case fComponentType:
		return &r.ComponentType
	case fComponentName:
		return &r.ComponentName
	case fComponentListPrice:
		return &r.ComponentListPrice
	case fComponentPriceMeasurementUnit:
		return &r.ComponentPriceMeasurementUnit
	case fComponentUsage:
		return &r.ComponentUsage
	case fComponentUsageUnit:
		return &r.ComponentUsageUnit
	case fUsageDuration:
		return &r.UsageDuration
	case fDurationUnit:
		return &r.DurationUnit
	case fOriginalCost:
		return &r.OriginalCost
	case fDiscountRate:
		return &r.DiscountRate
	case fCurrency:
		return &r.Currency
	case fTotalAmountAfterDiscount:
		return &r.TotalAmountAfterDiscount
	case fVoucherDeduction:
		return &r.VoucherDeduction
	case fTotalCost:
		return &r.TotalCost
	case fId:
		return &r.Id
	case fCustomerDiscountRate:
		return &r.CustomerDiscountRate
	}
	panic("ledger: field index " + strconv.Itoa(i) + " out of range")
}

// Values returns the 32 fields in [Fields] order, which is what an L3 file
// row and the API's BillDetailData list need.
func (r *Row) Values() [numFields]string {
	var v [numFields]string
	for i := range v {
		v[i] = *r.ref(i)
	}
	return v
}

// FieldIndex is the position of a BillDetailData field in Fields, for
// SetAt; ok is false for any other name (BillMonth included).
func FieldIndex(name string) (i int, ok bool) {
	i, ok = fieldIndex[name]
	return i, ok
}

// SetAt sets the field at position i of Fields, without Set's lookup by
// name: for readers that map their columns once.
func (r *Row) SetAt(i int, value string) { *r.ref(i) = value }

// Set assigns a field by its spec name, so that code driven by column
// names (readers, tests, admin tools) needs no switch of its own. "BillMonth"
// is accepted too and parsed with [ParseMonth]; an empty value clears it.
// Set stores the value as given; it does not validate it.
func (r *Row) Set(field, value string) error {
	if i, ok := fieldIndex[field]; ok {
		*r.ref(i) = value
		return nil
	}
	if field == billMonthName {
		if value == "" {
			r.BillMonth = Month{}
			return nil
		}
		m, err := ParseMonth(value)
		if err != nil {
			return &FieldError{Field: billMonthName, Msg: err.Error()}
		}
		r.BillMonth = m
		return nil
	}
	return fmt.Errorf("set field %q: unknown field; want a BillDetailData field name or %s", field, billMonthName)
}

// Get returns a field by its spec name, the counterpart of Set. "BillMonth"
// gives "YYYY-MM" (or "" when unset); an unknown name gives "".
func (r *Row) Get(field string) string {
	if i, ok := fieldIndex[field]; ok {
		return *r.ref(i)
	}
	if field == billMonthName && !r.BillMonth.IsZero() {
		return r.BillMonth.String()
	}
	return ""
}

// FieldError says which field of a row is wrong and why. Validation returns
// it bare; readers wrap it in a [PosError] that adds file, line and column.
type FieldError struct {
	Field string // spec name, e.g. "TotalCost"
	Msg   string // what is wrong and what is expected
}

// Error returns "FIELD: message".
func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// fieldKind is the rule Validate applies to a field.
type fieldKind uint8

const (
	kindText    fieldKind = iota // any valid UTF-8
	kindUIN                      // 1–20 ASCII digits
	kindDecimal                  // ParseDecimal syntax
	kindTime                     // YYYY-MM-DD HH:MM:SS
)

// fieldRule is the check for one field; required fields must be non-empty.
type fieldRule struct {
	kind     fieldKind
	required bool
}

// rules holds each field's check, by field index. The required set is what
// partnerbill cannot work without: who pays and owns the line, when it was
// settled (which also gives the default bill month), how to identify it for
// re-imports, and the four amounts every summary adds up.
var rules = func() [numFields]fieldRule {
	var r [numFields]fieldRule // kindText, optional
	r[fPayerAccountId] = fieldRule{kindUIN, true}
	r[fOwnerAccountId] = fieldRule{kindUIN, true}
	r[fOperatorAccountId] = fieldRule{kindUIN, false}
	r[fTransactionTime] = fieldRule{kindTime, true}
	r[fUsageStartTime] = fieldRule{kindTime, false}
	r[fUsageEndTime] = fieldRule{kindTime, false}
	r[fComponentListPrice] = fieldRule{kindDecimal, false}
	r[fComponentUsage] = fieldRule{kindDecimal, false}
	r[fUsageDuration] = fieldRule{kindDecimal, false}
	r[fOriginalCost] = fieldRule{kindDecimal, true}
	r[fDiscountRate] = fieldRule{kindDecimal, false}
	r[fCurrency] = fieldRule{kindText, true}
	r[fTotalAmountAfterDiscount] = fieldRule{kindDecimal, true}
	r[fVoucherDeduction] = fieldRule{kindDecimal, true}
	r[fTotalCost] = fieldRule{kindDecimal, true}
	r[fId] = fieldRule{kindText, true}
	r[fCustomerDiscountRate] = fieldRule{kindDecimal, false}
	return r
}()

// timeLayout is the bill timestamp format, e.g. "2023-10-24 20:14:37".
const timeLayout = "2006-01-02 15:04:05"

// Validate checks r against the rules every stored line item obeys and
// returns a *[FieldError] for the first field, in SDK order, that breaks one.
// The rules:
//
//   - Id, PayerAccountId, OwnerAccountId, TransactionTime, Currency,
//     OriginalCost, TotalAmountAfterDiscount, VoucherDeduction and TotalCost
//     are required (non-empty);
//   - account ids are UINs, 1 to 20 ASCII digits (OperatorAccountId may be
//     empty);
//   - the [NumericFields] are plain decimals per [ParseDecimal] when set;
//   - TransactionTime, and UsageStartTime/UsageEndTime when set, are real
//     times written exactly as YYYY-MM-DD HH:MM:SS;
//   - every field is valid UTF-8, because bill files are UTF-8.
//
// Validate also completes the row: a zero BillMonth becomes the month of
// TransactionTime, which is the rule for imports without a BillMonth column.
// It does not relate BillMonth to TransactionTime otherwise, since
// settlements may land in the month after the bill month.
//
// Assumptions where the spec is silent: UINs may have leading zeros and are
// not limited to the uint64 range (20 digits); Currency, Id and the other
// text fields are not checked beyond being non-empty where required.
func (r *Row) Validate() error {
	var txTime time.Time
	for i := range numFields {
		v := *r.ref(i)
		rule := rules[i]
		if v == "" {
			if rule.required {
				return &FieldError{Field: Fields[i], Msg: "required, but empty"}
			}
			continue
		}
		if !utf8.ValidString(v) {
			return &FieldError{Field: Fields[i], Msg: "not valid UTF-8; bill files must be UTF-8"}
		}
		if strings.IndexByte(v, 0) >= 0 {
			return &FieldError{Field: Fields[i], Msg: "contains a NUL byte (U+0000), which no bill file field may carry"}
		}
		switch rule.kind {
		case kindUIN:
			if !isUIN(v) {
				return &FieldError{Field: Fields[i], Msg: quoteShort(v) + " is not a UIN; want 1 to 20 ASCII digits"}
			}
		case kindDecimal:
			if err := checkDecimal(v); err != nil {
				return &FieldError{Field: Fields[i], Msg: err.Error()}
			}
		case kindTime:
			t, ok := parseTime(v)
			if !ok {
				return &FieldError{Field: Fields[i], Msg: quoteShort(v) + " is not a valid time; want a real date and time written YYYY-MM-DD HH:MM:SS, e.g. 2023-10-24 20:14:37"}
			}
			if i == fTransactionTime {
				txTime = t
			}
		}
	}
	if r.BillMonth.IsZero() {
		r.BillMonth = MonthOf(txTime)
	}
	return nil
}

// isUIN reports whether s is 1 to 20 ASCII digits, the shape of a Tencent
// Cloud account id.
func isUIN(s string) bool {
	return len(s) <= 20 && allDigits(s)
}

// parseTime parses a bill timestamp strictly: time.Parse alone would accept
// a one-digit hour or fractional seconds, so the result must also format
// back to exactly s.
func parseTime(s string) (time.Time, bool) {
	if len(s) != len(timeLayout) {
		return time.Time{}, false
	}
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, false
	}
	var buf [len(timeLayout)]byte
	if string(t.AppendFormat(buf[:0], timeLayout)) != s {
		return time.Time{}, false
	}
	return t, true
}

// quoteShort quotes s for an error message, cut short so that a megabyte of
// garbage in one field does not become a megabyte of error message.
func quoteShort(s string) string {
	const limit = 48
	if len(s) <= limit {
		return strconv.Quote(s)
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}
