package tc3

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// billParams exercises every field type Decode supports.
type billParams struct {
	Month       string
	PageSize    int64
	Page        int
	CustomerUin uint64
	TagKey      []string
	PayMode     *string
	Limit       *int32
	Confirmed   bool
	Kind        string `json:"FileType"`
	Internal    string `json:"-"`
	secret      string // proves unexported fields are skipped
}

func ptr[T any](v T) *T { return &v }

func jsonRequest(body string) *Request {
	return &Request{Kind: KindJSON, Action: "DescribeBillDetail", body: []byte(body)}
}

func formRequest(t testing.TB, raw string) *Request {
	t.Helper()
	params, e := parseParams(raw)
	if e != nil {
		t.Fatalf("parseParams(%q): %v", raw, e)
	}
	return &Request{Kind: KindForm, Action: "DescribeBillDetail", params: stripCommon(params)}
}

// decodeCase is shared by the JSON and form tables: either want holds the
// decoded struct, or wantCode and wantMsg the error.
type decodeCase struct {
	name     string
	in       string
	want     billParams
	wantCode string
	wantMsg  string // exact message, or a prefix when it ends in "…"
}

func runDecodeCases(t *testing.T, tests []decodeCase, newRequest func(t testing.TB, in string) *Request) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got billParams
			err := newRequest(t, tt.in).Decode(&got)
			e := apiError(t, err)
			if tt.wantCode == "" {
				if e != nil {
					t.Fatalf("Decode: %v", e)
				}
				if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(billParams{})); diff != "" {
					t.Errorf("Decode (-want +got):\n%s", diff)
				}
				return
			}
			if e == nil {
				t.Fatalf("Decode succeeded with %+v, want %s", got, tt.wantCode)
			}
			if e.Code != tt.wantCode {
				t.Errorf("code = %s, want %s (message %q)", e.Code, tt.wantCode, e.Message)
			}
			if prefix, ok := strings.CutSuffix(tt.wantMsg, "…"); ok {
				if !strings.HasPrefix(e.Message, prefix) {
					t.Errorf("message = %q, want prefix %q", e.Message, prefix)
				}
			} else if e.Message != tt.wantMsg {
				t.Errorf("message = %q, want %q", e.Message, tt.wantMsg)
			}
		})
	}
}

// TestDecodeJSON covers the JSON body rules: exact-case names, strict types,
// numeric strings for integers, and refusal of anything but one object.
func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	tests := []decodeCase{
		{
			name: "AllTypes",
			in: `{"Month":"2024-05","PageSize":100,"Page":-2,"CustomerUin":18446744073709551615,"TagKey":["cost<center>&team","账单"],` +
				`"PayMode":"postPay","Limit":7,"Confirmed":true,"FileType":"L3"}`,
			want: billParams{
				Month: "2024-05", PageSize: 100, Page: -2, CustomerUin: 18446744073709551615,
				TagKey: []string{"cost<center>&team", "账单"}, PayMode: ptr("postPay"), Limit: ptr[int32](7),
				Confirmed: true, Kind: "L3",
			},
		},
		{name: "EmptyBody", in: ``, want: billParams{}},
		{name: "WhitespaceBody", in: " \r\n\t", want: billParams{}},
		{name: "EmptyObject", in: `{}`, want: billParams{}},
		{name: "NumericStringsForIntegers", in: `{"PageSize":"10","Page":"1","CustomerUin":"800000425835","Limit":"-3"}`,
			want: billParams{PageSize: 10, Page: 1, CustomerUin: 800000425835, Limit: ptr[int32](-3)}},
		{name: "EscapedKeyMatches", in: `{"Mo\u006eth":"2024-05"}`, want: billParams{Month: "2024-05"}},
		{name: "NullCountsAsAbsent", in: `{"Month":null,"PayMode":null,"TagKey":null}`, want: billParams{}},
		{name: "EmptyList", in: `{"TagKey":[]}`, want: billParams{TagKey: []string{}}},

		{name: "KeyCaseDiffers", in: `{"month":"2024-05"}`, wantCode: CodeUnknownParameter,
			wantMsg: `The parameter "month" is not defined for action DescribeBillDetail. Parameter names are case-sensitive; did you mean "Month"?`},
		{name: "UnknownKey", in: `{"Month":"2024-05","Foo":1}`, wantCode: CodeUnknownParameter,
			wantMsg: `The parameter "Foo" is not defined for action DescribeBillDetail.`},
		{name: "TagRenamesField", in: `{"Kind":"L3"}`, wantCode: CodeUnknownParameter,
			wantMsg: `The parameter "Kind" is not defined for action DescribeBillDetail.`},
		{name: "DashTagHidesField", in: `{"Internal":"x"}`, wantCode: CodeUnknownParameter,
			wantMsg: `The parameter "Internal" is not defined for action DescribeBillDetail.`},
		{name: "UnexportedFieldHidden", in: `{"secret":"x"}`, wantCode: CodeUnknownParameter,
			wantMsg: `The parameter "secret" is not defined for action DescribeBillDetail.`},
		{name: "FirstMistakeInBodyOrder", in: `{"Zed":1,"Month":5}`, wantCode: CodeUnknownParameter,
			wantMsg: `The parameter "Zed" is not defined for action DescribeBillDetail.`},

		{name: "NumberForString", in: `{"Month":202405}`, wantCode: CodeInvalidParameter, wantMsg: "Month must be a string"},
		{name: "ObjectForString", in: `{"Month":{"y":2024}}`, wantCode: CodeInvalidParameter, wantMsg: "Month must be a string"},
		{name: "BoolForInteger", in: `{"PageSize":true}`, wantCode: CodeInvalidParameter, wantMsg: "PageSize must be an integer"},
		{name: "Fraction", in: `{"PageSize":1.5}`, wantCode: CodeInvalidParameter, wantMsg: "PageSize must be an integer"},
		{name: "Exponent", in: `{"PageSize":1e2}`, wantCode: CodeInvalidParameter, wantMsg: "PageSize must be an integer"},
		{name: "NonNumericString", in: `{"PageSize":"ten"}`, wantCode: CodeInvalidParameter, wantMsg: "PageSize must be an integer"},
		{name: "PaddedNumericString", in: `{"PageSize":" 10"}`, wantCode: CodeInvalidParameter, wantMsg: "PageSize must be an integer"},
		{name: "PlusSign", in: `{"PageSize":"+10"}`, wantCode: CodeInvalidParameter, wantMsg: "PageSize must be an integer"},
		{name: "NegativeUnsigned", in: `{"CustomerUin":-1}`, wantCode: CodeInvalidParameter, wantMsg: "CustomerUin must be a non-negative integer"},
		{name: "SignedOverflow", in: `{"Page":9223372036854775808}`, wantCode: CodeInvalidParameter,
			wantMsg: "Page must be an integer from -9223372036854775808 to 9223372036854775807"},
		{name: "UnsignedOverflow", in: `{"CustomerUin":18446744073709551616}`, wantCode: CodeInvalidParameter,
			wantMsg: "CustomerUin must be an integer from 0 to 18446744073709551615"},
		{name: "Int32Overflow", in: `{"Limit":2147483648}`, wantCode: CodeInvalidParameter,
			wantMsg: "Limit must be an integer from -2147483648 to 2147483647"},
		{name: "StringForList", in: `{"TagKey":"a"}`, wantCode: CodeInvalidParameter, wantMsg: "TagKey must be an array of strings"},
		{name: "NumberInList", in: `{"TagKey":["a",1]}`, wantCode: CodeInvalidParameter, wantMsg: "TagKey.1 must be a string"},
		{name: "NullInList", in: `{"TagKey":[null]}`, wantCode: CodeInvalidParameter, wantMsg: "TagKey.0 must be a string"},
		{name: "BadBool", in: `{"Confirmed":"yes"}`, wantCode: CodeInvalidParameter, wantMsg: "Confirmed must be true or false"},

		{name: "Array", in: `[{"Month":"2024-05"}]`, wantCode: CodeInvalidParameter, wantMsg: "request body is not a JSON object"},
		{name: "String", in: `"Month"`, wantCode: CodeInvalidParameter, wantMsg: "request body is not a JSON object"},
		{name: "Null", in: `null`, wantCode: CodeInvalidParameter, wantMsg: "request body is not a JSON object"},
		{name: "Truncated", in: `{"Month":"2024-05"`, wantCode: CodeInvalidParameter, wantMsg: "request body is not a JSON object…"},
		{name: "Garbage", in: `Month=2024-05`, wantCode: CodeInvalidParameter, wantMsg: "request body is not a JSON object…"},
		{name: "TrailingData", in: `{} {}`, wantCode: CodeInvalidParameter, wantMsg: "request body is not a JSON object: data follows the object"},
		{name: "DuplicateKey", in: `{"Month":"2024-05","Month":"2024-06"}`, wantCode: CodeInvalidParameter,
			wantMsg: `request body has the key "Month" more than once.`},
		{name: "TooDeep", in: `{"Foo":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + `}`,
			wantCode: CodeInvalidParameter, wantMsg: "request body nests deeper than 32 levels."},
		{name: "BracketsInStringsDoNotCount", in: `{"Month":"` + strings.Repeat("[{", 40) + `\""}`,
			want: billParams{Month: strings.Repeat("[{", 40) + `"`}},
	}
	runDecodeCases(t, tests, func(_ testing.TB, in string) *Request { return jsonRequest(in) })
}

// TestDecodeForm covers form and query parameters: strings converted to the
// field type, lists as Name.N, and unknown names refused.
func TestDecodeForm(t *testing.T) {
	t.Parallel()
	tests := []decodeCase{
		{
			name: "AllTypes",
			in:   "Month=2024-05&PageSize=10&Page=-1&CustomerUin=800000425835&TagKey.1=b%26c&TagKey.0=a&PayMode=prePay&Limit=5&Confirmed=false&FileType=L2",
			want: billParams{
				Month: "2024-05", PageSize: 10, Page: -1, CustomerUin: 800000425835, TagKey: []string{"a", "b&c"},
				PayMode: ptr("prePay"), Limit: ptr[int32](5), Kind: "L2",
			},
		},
		{name: "Empty", in: "", want: billParams{}},
		{name: "CommonParametersIgnored",
			in:   "Action=DescribeBillDetail&Version=2022-09-28&Region=ap-singapore&Language=en-US&RequestClient=x&Token=t&Month=2024-05",
			want: billParams{Month: "2024-05"}},
		{name: "EmptyStringValue", in: "Month=", want: billParams{}},
		{name: "ListOfTwelveSortsNumerically", in: "TagKey.0=a&TagKey.1=b&TagKey.2=c&TagKey.3=d&TagKey.4=e&TagKey.5=f&TagKey.6=g&TagKey.7=h&TagKey.8=i&TagKey.9=j&TagKey.10=k&TagKey.11=l",
			want: billParams{TagKey: strings.Split("a b c d e f g h i j k l", " ")}},

		{name: "Unknown", in: "Month=2024-05&Foo=1", wantCode: CodeUnknownParameter,
			wantMsg: `The parameter "Foo" is not defined for action DescribeBillDetail.`},
		{name: "CaseDiffers", in: "pagesize=10", wantCode: CodeUnknownParameter,
			wantMsg: `The parameter "pagesize" is not defined for action DescribeBillDetail. Parameter names are case-sensitive; did you mean "PageSize"?`},
		{name: "IndexOnScalar", in: "Month.0=2024-05", wantCode: CodeUnknownParameter,
			wantMsg: `The parameter "Month.0" is not defined for action DescribeBillDetail.`},
		{name: "LeadingZeroIndex", in: "TagKey.01=a", wantCode: CodeUnknownParameter,
			wantMsg: `The parameter "TagKey.01" is not defined for action DescribeBillDetail.`},
		{name: "BadInteger", in: "PageSize=ten", wantCode: CodeInvalidParameter, wantMsg: "PageSize must be an integer"},
		{name: "PlusSign", in: "PageSize=%2B10", wantCode: CodeInvalidParameter, wantMsg: "PageSize must be an integer"},
		{name: "EmptyInteger", in: "PageSize=", wantCode: CodeInvalidParameter, wantMsg: "PageSize must be an integer"},
		{name: "Fraction", in: "Page=1.0", wantCode: CodeInvalidParameter, wantMsg: "Page must be an integer"},
		{name: "NegativeUnsigned", in: "CustomerUin=-5", wantCode: CodeInvalidParameter, wantMsg: "CustomerUin must be a non-negative integer"},
		{name: "BadBool", in: "Confirmed=1", wantCode: CodeInvalidParameter, wantMsg: "Confirmed must be true or false"},
		{name: "ListWithoutIndex", in: "TagKey=a", wantCode: CodeInvalidParameter,
			wantMsg: "TagKey is a list; send its elements as TagKey.0, TagKey.1, and so on"},
		{name: "ListWithGap", in: "TagKey.0=a&TagKey.2=c", wantCode: CodeInvalidParameter,
			wantMsg: "TagKey has 2 elements but TagKey.1 is missing; number list elements from 0 without gaps"},
		{name: "InvalidUTF8", in: "Month=%ff", wantCode: CodeInvalidParameter, wantMsg: "Month is not valid UTF-8"},
	}
	runDecodeCases(t, tests, func(t testing.TB, in string) *Request { return formRequest(t, in) })
}

// TestParseParamsRefusesRepeats checks that a parameter given twice is an
// error naming it, since neither value can be trusted to be the meant one.
func TestParseParamsRefusesRepeats(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, wantMsg string
	}{
		{"Month=2024-05&Month=2024-06", "Month was sent 2 times; send each parameter once"},
		{"B=1&A=1&B=2&A=2&A=3", "A was sent 3 times; send each parameter once"},
		{"Month=%zz", "the request parameters are not valid URL encoding: …"},
		{"a=1;b=2", "the request parameters are not valid URL encoding: …"},
	}
	for _, tt := range tests {
		_, e := parseParams(tt.in)
		if e == nil {
			t.Errorf("parseParams(%q) succeeded", tt.in)
			continue
		}
		prefix, partial := strings.CutSuffix(tt.wantMsg, "…")
		if e.Code != CodeInvalidParameter || partial && !strings.HasPrefix(e.Message, prefix) || !partial && e.Message != tt.wantMsg {
			t.Errorf("parseParams(%q) = %v, want InvalidParameter %q", tt.in, e, tt.wantMsg)
		}
	}
}

// TestHas checks that handlers can tell a parameter that was not sent from
// one sent with a zero value.
func TestHas(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		req  *Request
		want map[string]bool
	}{
		{
			name: "JSON",
			req:  jsonRequest(`{"Month":"","PageSize":0,"PayMode":null,"TagKey":[]}`),
			want: map[string]bool{"Month": true, "PageSize": true, "PayMode": false, "TagKey": true, "Page": false, "month": false},
		},
		{
			name: "JSONNotAnObject",
			req:  jsonRequest(`[1]`),
			want: map[string]bool{"Month": false},
		},
		{
			name: "Form",
			req:  formRequest(t, "Month=&TagKey.0=a&Action=DescribeBillDetail"),
			want: map[string]bool{"Month": true, "TagKey": true, "PageSize": false, "Action": false, "TagKey.0": true},
		},
	}
	for _, tt := range tests {
		got := map[string]bool{}
		for name := range tt.want {
			got[name] = tt.req.Has(name)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: Has (-want +got):\n%s", tt.name, diff)
		}
	}
}

// TestDecodeProgrammingErrors checks that a wrong destination is reported as
// a plain error (an InternalError for the client), not blamed on the caller.
func TestDecodeProgrammingErrors(t *testing.T) {
	t.Parallel()
	var notPointer billParams
	var nilPointer *billParams
	var s string
	bad := &struct{ Filters map[string]string }{}
	twice := &struct {
		Month string
		Other string `json:"Month"`
	}{}
	for name, dst := range map[string]any{
		"NotPointer":       notPointer,
		"NilPointer":       nilPointer,
		"PointerToString":  &s,
		"Nil":              nil,
		"MapField":         bad,
		"TwoFieldsOneName": twice,
	} {
		err := jsonRequest(`{}`).Decode(dst)
		if err == nil {
			t.Errorf("%s: Decode succeeded", name)
			continue
		}
		if e, ok := err.(*Error); ok {
			t.Errorf("%s: Decode error %v is a *tc3.Error, want a plain error", name, e)
		}
	}
}
