package ledger

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseMonth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Month
		wantErr string
	}{
		{in: "2024-03", want: Month{2024, time.March}},
		{in: "2022-06", want: Month{2022, time.June}},
		{in: "1999-12", want: Month{1999, time.December}},
		{in: "0000-01", want: Month{0, time.January}}, // shape only; range is the API's rule
		{in: "", wantErr: `parse month "": want YYYY-MM, e.g. 2024-03`},
		{in: "2024-3", wantErr: `parse month "2024-3": want YYYY-MM, e.g. 2024-03`},
		{in: "24-03", wantErr: `parse month "24-03": want YYYY-MM, e.g. 2024-03`},
		{in: "2024/03", wantErr: `parse month "2024/03": want YYYY-MM, e.g. 2024-03`},
		{in: "202403", wantErr: `parse month "202403": want YYYY-MM, e.g. 2024-03`},
		{in: "2024-03-01", wantErr: `parse month "2024-03-01": want YYYY-MM, e.g. 2024-03`},
		{in: " 2024-03", wantErr: `parse month " 2024-03": want YYYY-MM, e.g. 2024-03`},
		{in: "+024-03", wantErr: `parse month "+024-03": want YYYY-MM, e.g. 2024-03`},
		{in: "2024-00", wantErr: `parse month "2024-00": month must be 01 to 12`},
		{in: "2024-13", wantErr: `parse month "2024-13": month must be 01 to 12`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseMonth(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ParseMonth(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseMonth(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseMonth(%q) (-want +got):\n%s", tt.in, diff)
			}
			if s := got.String(); s != tt.in {
				t.Errorf("String() = %q, want %q", s, tt.in)
			}
		})
	}
}

func TestMonthCompare(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b Month
		want int
	}{
		{Month{2024, 3}, Month{2024, 3}, 0},
		{Month{2024, 2}, Month{2024, 3}, -1},
		{Month{2024, 3}, Month{2024, 2}, 1},
		{Month{2023, 12}, Month{2024, 1}, -1},
		{Month{2025, 1}, Month{2024, 12}, 1},
	}
	for _, tt := range tests {
		if got := tt.a.Compare(tt.b); got != tt.want {
			t.Errorf("%v.Compare(%v) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := tt.a.Before(tt.b); got != (tt.want < 0) {
			t.Errorf("%v.Before(%v) = %v", tt.a, tt.b, got)
		}
		if got := tt.a.After(tt.b); got != (tt.want > 0) {
			t.Errorf("%v.After(%v) = %v", tt.a, tt.b, got)
		}
	}
}

func TestMonthOfAndContains(t *testing.T) {
	t.Parallel()
	m := MonthOf(time.Date(2024, time.February, 29, 23, 59, 59, 0, time.UTC))
	if diff := cmp.Diff(Month{2024, time.February}, m); diff != "" {
		t.Fatalf("MonthOf (-want +got):\n%s", diff)
	}
	if (Month{}).IsZero() != true || m.IsZero() {
		t.Errorf("IsZero wrong")
	}
	tests := []struct {
		ts   string
		want bool
	}{
		{"2024-02-01 00:00:00", true},
		{"2024-02-29 23:59:59", true},
		{"2024-03-01 00:00:00", false},
		{"2024-01-31 23:59:59", false},
		{"2023-02-10 10:00:00", false},
		{"2024-02", false},
		{"2024-022", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := m.Contains(tt.ts); got != tt.want {
			t.Errorf("Contains(%q) = %v, want %v", tt.ts, got, tt.want)
		}
	}
}
