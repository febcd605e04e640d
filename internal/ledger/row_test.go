package ledger

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// validRow returns a row that passes Validate, modelled on the spec's
// BillDetailData example.
func validRow() Row {
	return Row{
		PayerAccountId:                "800000448722",
		OwnerAccountId:                "800000448824",
		OperatorAccountId:             "800000448824",
		ProductName:                   "cloud block storage",
		BillingMode:                   "Pay-As-You-Go resources",
		ProjectName:                   "default",
		Region:                        "East China\u00a0(Shanghai)",
		AvailabilityZone:              "Shanghai Zone 1",
		InstanceId:                    "disk-ekoob7ok",
		InstanceName:                  "HDD cloud",
		SubProductName:                "HDD cloud block storage",
		TransactionType:               "Hourly settlement",
		TransactionId:                 "20230228722000247298552",
		TransactionTime:               "2023-02-28 13:01:23",
		UsageStartTime:                "2023-02-28 12:00:00",
		UsageEndTime:                  "2023-02-28 12:59:59",
		ComponentType:                 "volume size",
		ComponentName:                 "HDD cloud block storage-volume size",
		ComponentListPrice:            "0.00000003",
		ComponentPriceMeasurementUnit: "USD/GB/Second",
		ComponentUsage:                "250",
		ComponentUsageUnit:            "GB",
		UsageDuration:                 "478",
		DurationUnit:                  "Second",
		OriginalCost:                  "0.003585",
		DiscountRate:                  "1",
		Currency:                      "USD",
		TotalAmountAfterDiscount:      "0.003585",
		VoucherDeduction:              "0",
		TotalCost:                     "0.003585",
		Id:                            "4998689516778477313",
		CustomerDiscountRate:          "1",
	}
}

func TestFieldsValuesSetGet(t *testing.T) {
	t.Parallel()
	var r Row
	for _, f := range Fields {
		if err := r.Set(f, "v:"+f); err != nil {
			t.Fatalf("Set(%q): %v", f, err)
		}
	}
	vals := r.Values()
	for i, f := range Fields {
		if want := "v:" + f; vals[i] != want || r.Get(f) != want {
			t.Errorf("field %d %s: Values = %q, Get = %q, want %q", i, f, vals[i], r.Get(f), want)
		}
	}
	// The struct fields themselves are in SDK order and named as in Fields.
	if r.PayerAccountId != "v:PayerAccountId" || r.TotalCost != "v:TotalCost" || r.CustomerDiscountRate != "v:CustomerDiscountRate" {
		t.Errorf("Set wrote the wrong struct fields: %+v", r)
	}

	if err := r.Set("BillMonth", "2024-05"); err != nil {
		t.Fatal(err)
	}
	if r.BillMonth != (Month{2024, time.May}) || r.Get("BillMonth") != "2024-05" {
		t.Errorf("BillMonth = %v, Get = %q", r.BillMonth, r.Get("BillMonth"))
	}
	var fe *FieldError
	if err := r.Set("BillMonth", "2024-5"); !errors.As(err, &fe) || fe.Field != "BillMonth" {
		t.Errorf("Set(BillMonth, bad) = %v, want a *FieldError", err)
	}
	if err := r.Set("BillMonth", ""); err != nil || !r.BillMonth.IsZero() || r.Get("BillMonth") != "" {
		t.Errorf("clearing BillMonth: err %v, month %v", err, r.BillMonth)
	}
	if err := r.Set("payeraccountid", "1"); err == nil {
		t.Error("Set with a wrong-case name succeeded")
	}
	if got := r.Get("Nope"); got != "" {
		t.Errorf("Get(unknown) = %q", got)
	}
}

func TestNumericFields(t *testing.T) {
	t.Parallel()
	var got []string
	for i, rule := range rules {
		if rule.kind == kindDecimal {
			got = append(got, Fields[i])
		}
	}
	if diff := cmp.Diff(NumericFields[:], got); diff != "" {
		t.Errorf("NumericFields disagrees with the validation rules (-NumericFields +rules):\n%s", diff)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(r *Row)
		field  string // "" = valid
		msg    string
	}{
		{name: "valid", change: func(r *Row) {}},
		{name: "optional fields empty", change: func(r *Row) {
			keep := *r
			*r = Row{
				Id: keep.Id, PayerAccountId: keep.PayerAccountId, OwnerAccountId: keep.OwnerAccountId,
				TransactionTime: keep.TransactionTime, Currency: keep.Currency, OriginalCost: keep.OriginalCost,
				TotalAmountAfterDiscount: keep.TotalAmountAfterDiscount, VoucherDeduction: keep.VoucherDeduction,
				TotalCost: keep.TotalCost,
			}
		}},
		{name: "20-digit UIN", change: func(r *Row) { r.OwnerAccountId = "12345678901234567890" }},
		{name: "negative amounts", change: func(r *Row) { r.OriginalCost, r.TotalCost = "-0.5", "-0.5" }},

		{name: "Id empty", change: func(r *Row) { r.Id = "" }, field: "Id", msg: "required, but empty"},
		{name: "PayerAccountId empty", change: func(r *Row) { r.PayerAccountId = "" }, field: "PayerAccountId", msg: "required, but empty"},
		{name: "OwnerAccountId empty", change: func(r *Row) { r.OwnerAccountId = "" }, field: "OwnerAccountId", msg: "required, but empty"},
		{name: "TransactionTime empty", change: func(r *Row) { r.TransactionTime = "" }, field: "TransactionTime", msg: "required, but empty"},
		{name: "Currency empty", change: func(r *Row) { r.Currency = "" }, field: "Currency", msg: "required, but empty"},
		{name: "OriginalCost empty", change: func(r *Row) { r.OriginalCost = "" }, field: "OriginalCost", msg: "required, but empty"},
		{name: "TotalAmountAfterDiscount empty", change: func(r *Row) { r.TotalAmountAfterDiscount = "" }, field: "TotalAmountAfterDiscount", msg: "required, but empty"},
		{name: "VoucherDeduction empty", change: func(r *Row) { r.VoucherDeduction = "" }, field: "VoucherDeduction", msg: "required, but empty"},
		{name: "TotalCost empty", change: func(r *Row) { r.TotalCost = "" }, field: "TotalCost", msg: "required, but empty"},

		{name: "UIN with letters", change: func(r *Row) { r.PayerAccountId = "80000x" }, field: "PayerAccountId",
			msg: `"80000x" is not a UIN; want 1 to 20 ASCII digits`},
		{name: "UIN too long", change: func(r *Row) { r.OwnerAccountId = "123456789012345678901" }, field: "OwnerAccountId",
			msg: `"123456789012345678901" is not a UIN; want 1 to 20 ASCII digits`},
		{name: "UIN with space", change: func(r *Row) { r.OperatorAccountId = " 800000448824" }, field: "OperatorAccountId",
			msg: `" 800000448824" is not a UIN; want 1 to 20 ASCII digits`},
		{name: "UIN negative", change: func(r *Row) { r.OperatorAccountId = "-1" }, field: "OperatorAccountId",
			msg: `"-1" is not a UIN; want 1 to 20 ASCII digits`},

		{name: "list price exponent", change: func(r *Row) { r.ComponentListPrice = "3e-8" }, field: "ComponentListPrice",
			msg: `invalid decimal "3e-8": exponent notation is not allowed; ` + decimalWant},
		{name: "usage", change: func(r *Row) { r.ComponentUsage = "250 GB" }, field: "ComponentUsage",
			msg: `invalid decimal "250 GB": spaces are not allowed; ` + decimalWant},
		{name: "duration", change: func(r *Row) { r.UsageDuration = "+478" }, field: "UsageDuration",
			msg: `invalid decimal "+478": a leading "+" is not allowed; ` + decimalWant},
		{name: "original cost", change: func(r *Row) { r.OriginalCost = "1,000.00" }, field: "OriginalCost",
			msg: `invalid decimal "1,000.00": "," is not allowed (no thousands separators or decimal commas); ` + decimalWant},
		{name: "discount rate", change: func(r *Row) { r.DiscountRate = ".9" }, field: "DiscountRate",
			msg: `invalid decimal ".9": no digit before "."; ` + decimalWant},
		{name: "after discount", change: func(r *Row) { r.TotalAmountAfterDiscount = "1." }, field: "TotalAmountAfterDiscount",
			msg: `invalid decimal "1.": no digit after "."; ` + decimalWant},
		{name: "voucher", change: func(r *Row) { r.VoucherDeduction = "-" }, field: "VoucherDeduction",
			msg: `invalid decimal "-": no digits; ` + decimalWant},
		{name: "total cost", change: func(r *Row) { r.TotalCost = "0.0000000000001" }, field: "TotalCost",
			msg: `invalid decimal "0.0000000000001": 13 digits after the decimal point, at most 12 allowed; ` + decimalWant},
		{name: "customer discount", change: func(r *Row) { r.CustomerDiscountRate = "95%" }, field: "CustomerDiscountRate",
			msg: `invalid decimal "95%": unexpected '%' at byte 3; ` + decimalWant},

		{name: "no such day", change: func(r *Row) { r.TransactionTime = "2023-02-29 13:01:23" }, field: "TransactionTime",
			msg: `"2023-02-29 13:01:23" is not a valid time; want a real date and time written YYYY-MM-DD HH:MM:SS, e.g. 2023-10-24 20:14:37`},
		{name: "ISO T", change: func(r *Row) { r.TransactionTime = "2023-02-28T13:01:23" }, field: "TransactionTime",
			msg: `"2023-02-28T13:01:23" is not a valid time; want a real date and time written YYYY-MM-DD HH:MM:SS, e.g. 2023-10-24 20:14:37`},
		{name: "one-digit hour", change: func(r *Row) { r.UsageStartTime = "2023-02-28 1:00:00" }, field: "UsageStartTime",
			msg: `"2023-02-28 1:00:00" is not a valid time; want a real date and time written YYYY-MM-DD HH:MM:SS, e.g. 2023-10-24 20:14:37`},
		{name: "fractional seconds", change: func(r *Row) { r.UsageStartTime = "2023-02-28 12:00:00.5" }, field: "UsageStartTime",
			msg: `"2023-02-28 12:00:00.5" is not a valid time; want a real date and time written YYYY-MM-DD HH:MM:SS, e.g. 2023-10-24 20:14:37`},
		{name: "leap second", change: func(r *Row) { r.UsageEndTime = "2016-12-31 23:59:60" }, field: "UsageEndTime",
			msg: `"2016-12-31 23:59:60" is not a valid time; want a real date and time written YYYY-MM-DD HH:MM:SS, e.g. 2023-10-24 20:14:37`},
		{name: "hour 24", change: func(r *Row) { r.UsageEndTime = "2023-02-28 24:00:00" }, field: "UsageEndTime",
			msg: `"2023-02-28 24:00:00" is not a valid time; want a real date and time written YYYY-MM-DD HH:MM:SS, e.g. 2023-10-24 20:14:37`},
		{name: "date only", change: func(r *Row) { r.UsageEndTime = "2023-02-28" }, field: "UsageEndTime",
			msg: `"2023-02-28" is not a valid time; want a real date and time written YYYY-MM-DD HH:MM:SS, e.g. 2023-10-24 20:14:37`},
		{name: "aggregated dash", change: func(r *Row) { r.TransactionTime = "-" }, field: "TransactionTime",
			msg: `"-" is not a valid time; want a real date and time written YYYY-MM-DD HH:MM:SS, e.g. 2023-10-24 20:14:37`},

		{name: "invalid UTF-8", change: func(r *Row) { r.InstanceName = "web\xff01" }, field: "InstanceName",
			msg: "not valid UTF-8; bill files must be UTF-8"},
		{name: "first error in SDK order", change: func(r *Row) { r.Id, r.PayerAccountId = "", "x" }, field: "PayerAccountId",
			msg: `"x" is not a UIN; want 1 to 20 ASCII digits`},
		{name: "long value is cut in the message", change: func(r *Row) { r.TotalCost = "1" + strings.Repeat("\x01", 100) }, field: "TotalCost",
			msg: `invalid decimal "1` + strings.Repeat(`\x01`, 47) + `"…: unexpected '\x01' at byte 2; ` + decimalWant},
		{name: "NUL byte in a text field", change: func(r *Row) { r.InstanceName = "disk\x00one" }, field: "InstanceName",
			msg: "contains a NUL byte (U+0000), which no bill file field may carry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := validRow()
			tt.change(&r)
			err := r.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate = %v, want a *FieldError", err)
			}
			if diff := cmp.Diff(&FieldError{Field: tt.field, Msg: tt.msg}, fe); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
			if got, want := err.Error(), tt.field+": "+tt.msg; got != want {
				t.Errorf("Error() = %q, want %q", got, want)
			}
		})
	}
}

func TestValidateBillMonth(t *testing.T) {
	t.Parallel()
	r := validRow()
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	if want := (Month{2023, time.February}); r.BillMonth != want {
		t.Errorf("derived BillMonth = %v, want %v", r.BillMonth, want)
	}

	// An explicit bill month is kept, even when settlement fell in the next month.
	r = validRow()
	r.TransactionTime = "2023-03-01 00:10:00"
	r.BillMonth = Month{2023, time.February}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	if want := (Month{2023, time.February}); r.BillMonth != want {
		t.Errorf("BillMonth = %v, want %v kept", r.BillMonth, want)
	}
}
