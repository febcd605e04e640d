package tc3

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

// Regression tests for what the fuzz targets and the gateway's hostile
// request table found; see RELIABILITY.md, "Hostile input".

// TestDecodeRefusesInvalidUTF8InJSON: encoding/json turns invalid UTF-8
// in a string into U+FFFD; Decode refuses it instead, as it does in a form.
func TestDecodeRefusesInvalidUTF8InJSON(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ body, want string }{
		{"{\"Month\":\"2024-05\xff\"}", "Month is not valid UTF-8"},
		{"{\"PayMode\":\"\xc3\x28\"}", "PayMode is not valid UTF-8"},
		{"{\"TagKey\":[\"a\",\"\xed\xa0\x80\"]}", "TagKey.1 is not valid UTF-8"}, // an encoded surrogate
		{"{\"PageSize\":\"1\xff\"}", "PageSize is not valid UTF-8"},
	} {
		var got billParams
		e := apiError(t, jsonRequest(tt.body).Decode(&got))
		if e == nil || e.Code != CodeInvalidParameter || e.Message != tt.want {
			t.Errorf("Decode(%q) = %v, want InvalidParameter %q", tt.body, e, tt.want)
		}
	}
	// An escaped lone surrogate is valid UTF-8 text; it decodes to U+FFFD
	// as before.
	var got billParams
	if err := jsonRequest(`{"Month":"\ud800"}`).Decode(&got); err != nil || got.Month != "\ufffd" {
		t.Errorf(`Decode("\ud800") = %q, %v`, got.Month, err)
	}
}

// TestDecodeJSONWhiteSpace: only JSON's four white-space characters may
// surround the object; bytes.TrimSpace also dropped U+00A0 and U+0085.
func TestDecodeJSONWhiteSpace(t *testing.T) {
	t.Parallel()
	for _, body := range []string{"\u00a0{}", "{}\u00a0", "\u0085", "\u00a0", "\v{}", "\f{}"} {
		var got billParams
		if e := apiError(t, jsonRequest(body).Decode(&got)); e == nil || e.Code != CodeInvalidParameter {
			t.Errorf("Decode(%q) = %v, want InvalidParameter", body, e)
		}
	}
	var got billParams
	if err := jsonRequest(" \t\r\n{\"Month\":\"2024-05\"} \t\r\n").Decode(&got); err != nil || got.Month != "2024-05" {
		t.Errorf("Decode with JSON white space = %+v, %v", got, err)
	}
}

// TestWriteErrorBoundsMessage: a message quoting a huge client value is
// cut at MaxMessage bytes, on a rune boundary.
func TestWriteErrorBoundsMessage(t *testing.T) {
	t.Parallel()
	for _, value := range []string{strings.Repeat("x", 10<<20), strings.Repeat("账", 1<<20), strings.Repeat("\x01", 1<<20)} {
		rec := httptest.NewRecorder()
		WriteError(rec, "req-1", Invalid("Month", "must be YYYY-MM; %q is not in that form.", value))
		var env struct{ Response struct{ Error Error } }
		if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
			t.Fatal(err)
		}
		msg := env.Response.Error.Message
		if env.Response.Error.Code != CodeInvalidParameter || len(msg) > MaxMessage+len("…") || !utf8.ValidString(msg) ||
			!strings.HasPrefix(msg, "Month must be") || !strings.HasSuffix(msg, "…") {
			t.Errorf("message of %d bytes: %.80q…", len(msg), msg)
		}
		if rec.Body.Len() > 8<<10 {
			t.Errorf("a %d-byte response", rec.Body.Len())
		}
	}
	rec := httptest.NewRecorder()
	short := strings.Repeat("y", MaxMessage)
	WriteError(rec, "req-1", Errorf(CodeInvalidParameter, "%s", short))
	if !strings.Contains(rec.Body.String(), `"`+short+`"`) {
		t.Error("a message of exactly MaxMessage bytes was cut")
	}
}
