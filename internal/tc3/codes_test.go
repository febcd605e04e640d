package tc3

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestWriteSuccess pins the exact bytes of the success envelope: the SDKs
// decode it into typed structs, so field order, escaping and the absence of
// an Error key all matter.
func TestWriteSuccess(t *testing.T) {
	t.Parallel()
	type download struct {
		DownloadUrl string
		Ready       int
	}
	type total struct {
		TotalCost float64
		Hidden    string `json:"-"`
	}
	tests := []struct {
		name string
		body any
		want string
	}{
		{"Struct", download{"https://files.example/L3.csv?a=1&b=<2>", 1},
			`{"Response":{"DownloadUrl":"https://files.example/L3.csv?a=1&b=<2>","Ready":1,"RequestId":"5a9f3c1e-0000-4000-8000-000000000001"}}`},
		{"PointerToStruct", &download{"", 0},
			`{"Response":{"DownloadUrl":"","Ready":0,"RequestId":"5a9f3c1e-0000-4000-8000-000000000001"}}`},
		{"FloatAndHiddenField", total{TotalCost: 123.45, Hidden: "x"},
			`{"Response":{"TotalCost":123.45,"RequestId":"5a9f3c1e-0000-4000-8000-000000000001"}}`},
		{"MapSortedKeys", map[string]any{"Total": 0, "DetailSet": []string{}},
			`{"Response":{"DetailSet":[],"Total":0,"RequestId":"5a9f3c1e-0000-4000-8000-000000000001"}}`},
		{"Nil", nil, `{"Response":{"RequestId":"5a9f3c1e-0000-4000-8000-000000000001"}}`},
		{"EmptyStruct", struct{}{}, `{"Response":{"RequestId":"5a9f3c1e-0000-4000-8000-000000000001"}}`},
		{"NilPointer", (*download)(nil), `{"Response":{"RequestId":"5a9f3c1e-0000-4000-8000-000000000001"}}`},
		{"NonASCII", map[string]string{"Region": "East China\u00a0(Shanghai) 上海"},
			`{"Response":{"Region":"East China` + "\u00a0" + `(Shanghai) 上海","RequestId":"5a9f3c1e-0000-4000-8000-000000000001"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			if err := WriteSuccess(rec, "5a9f3c1e-0000-4000-8000-000000000001", tt.body); err != nil {
				t.Fatalf("WriteSuccess: %v", err)
			}
			if rec.Code != http.StatusOK {
				t.Errorf("status = %d, want 200", rec.Code)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if diff := cmp.Diff(tt.want, rec.Body.String()); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWriteSuccessRefusesBadBodies checks the bodies that would corrupt the
// envelope are refused before anything is written, leaving the caller free to
// send an InternalError instead.
func TestWriteSuccessRefusesBadBodies(t *testing.T) {
	t.Parallel()
	tests := map[string]any{
		"ErrorField":         struct{ Error string }{"x"},
		"LowercaseErrorKey":  map[string]int{"error": 1},
		"MixedCaseErrorKey":  map[string]int{"a": 1, "ErRoR": 2},
		"UppercaseRequestId": map[string]int{"REQUESTID": 1},
		"RequestIdField":     struct{ RequestId string }{"x"},
		"Array":              []int{1},
		"String":             "ok",
		"Unencodable":        map[string]any{"f": func() {}},
		"NaN":                struct{ X float64 }{X: nan()},
		"EmptyErrorStillBad": struct{ Error *struct{} }{&struct{}{}},
		"TaggedErrorField": struct {
			E string `json:"Error"`
		}{"x"},
		"TaggedRequestIDLike": struct {
			R string `json:"requestid"`
		}{"x"},
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			if err := WriteSuccess(rec, "id", body); err == nil {
				t.Fatalf("WriteSuccess accepted %#v", body)
			}
			if rec.Body.Len() != 0 || rec.Header().Get("Content-Type") != "" {
				t.Errorf("WriteSuccess wrote %q before failing", rec.Body.String())
			}
		})
	}
}

func nan() float64 {
	zero := 0.0
	return zero / zero
}

// TestWriteError pins the exact bytes of the error envelope, always HTTP 200.
func TestWriteError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{"SignatureFailure", Errorf(CodeSignatureFailure, "The provided credentials could not be validated. Please check your signature is correct."),
			`{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"The provided credentials could not be validated. Please check your signature is correct."},"RequestId":"req-1"}}`},
		{"NoHTMLEscaping", Invalid("Month", `must look like "YYYY-MM" <not %s> & more`, "2024/05"),
			`{"Response":{"Error":{"Code":"InvalidParameter","Message":"Month must look like \"YYYY-MM\" <not 2024/05> & more"},"RequestId":"req-1"}}`},
		{"Nil", nil, `{"Response":{"Error":{"Code":"InternalError","Message":"internal error"},"RequestId":"req-1"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			WriteError(rec, "req-1", tt.err)
			if rec.Code != http.StatusOK {
				t.Errorf("status = %d, want 200", rec.Code)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if diff := cmp.Diff(tt.want, rec.Body.String()); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

// TestErrorHelpers pins the wording of the helpers handlers use for
// parameter errors.
func TestErrorHelpers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		got  *Error
		want Error
	}{
		{Missing("Month"), Error{CodeMissingParameter, `The parameter "Month" is required.`}},
		{Invalid("PageSize", "must be from 1 to %d", 200), Error{CodeInvalidParameter, "PageSize must be from 1 to 200"}},
		{Errorf(CodeRequestLimitExceeded, "slow down"), Error{CodeRequestLimitExceeded, "slow down"}},
		{unknownParameter("", "Foo", ""), Error{CodeUnknownParameter, `The parameter "Foo" is not defined for this action.`}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, *tt.got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	}
	if got, want := Missing("Month").Error(), `MissingParameter: The parameter "Month" is required.`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
