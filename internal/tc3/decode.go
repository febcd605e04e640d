package tc3

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// MaxDepth bounds how deeply a JSON body may nest. No partnerbill parameter
// nests at all; the bound keeps a hostile body from costing more than it must.
const MaxDepth = 32

// Decode stores the business parameters in dst, a pointer to a struct whose
// exported fields are the action's parameters. A field's parameter name is
// its Go name, or the name in a `json:"Name"` tag; `json:"-"` skips it.
//
// Supported field types are string, bool, every integer type, []string, and
// pointers to the scalar ones (nil when the parameter is absent). Parameter
// names match case-sensitively, unlike encoding/json, because Tencent's are.
//
// Client mistakes come back as *Error: UnknownParameter for a name that is
// no field, InvalidParameter for a value of the wrong type or a body that is
// not a JSON object. Whether a parameter is required is the handler's
// decision (see Has and Missing). A dst of the wrong shape is a programming
// error and returns a plain error.
//
// In a JSON body an integer may also be sent as a string of digits, because
// Tencent's own published example for DescribeBillDetail sends "PageSize":"10".
// A JSON null counts as not sent: the field keeps its value and Has reports
// false. In a form or query, list elements are Name.0, Name.1, … without gaps.
func (r *Request) Decode(dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("tc3: Decode needs a non-nil pointer to a struct, got %T", dst)
	}
	fields, err := cachedParamFields(rv.Elem().Type())
	if err != nil {
		return err
	}
	if r.Kind == KindJSON {
		if e := r.decodeJSON(rv.Elem(), fields); e != nil {
			return e
		}
		return nil
	}
	if e := r.decodeParams(rv.Elem(), fields); e != nil {
		return e
	}
	return nil
}

// Has reports whether the parameter name was sent at all (a JSON null counts
// as not sent), so handlers can tell "absent" from a zero value.
func (r *Request) Has(name string) bool {
	if r.Kind == KindJSON {
		if r.object() != nil {
			return false
		}
		v, ok := r.fields[name]
		return ok && !bytes.Equal(v, []byte("null"))
	}
	return r.params.Has(name) || r.params.Has(name+".0")
}

// paramField is one settable parameter of a destination struct.
type paramField struct {
	index int
	typ   reflect.Type
}

// fieldsByType holds paramFields' answer for each destination type: each
// action decodes into one type on every request.
var fieldsByType sync.Map // reflect.Type → fieldsOf

type fieldsOf struct {
	fields map[string]paramField
	err    error
}

func cachedParamFields(t reflect.Type) (map[string]paramField, error) {
	if f, ok := fieldsByType.Load(t); ok {
		return f.(fieldsOf).fields, f.(fieldsOf).err
	}
	fields, err := paramFields(t)
	fieldsByType.Store(t, fieldsOf{fields, err})
	return fields, err
}

// paramFields maps parameter names to the fields of t, checking every field
// type up front so a bad struct fails on the first call, not on the first
// request that happens to send the odd parameter.
func paramFields(t reflect.Type) (map[string]paramField, error) {
	fields := make(map[string]paramField, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := f.Name
		if tag, ok := f.Tag.Lookup("json"); ok {
			tagName, _, _ := strings.Cut(tag, ",")
			if tagName == "-" {
				continue
			}
			if tagName != "" {
				name = tagName
			}
		}
		if !supportedType(f.Type) {
			return nil, fmt.Errorf("tc3: Decode: field %s.%s has unsupported type %s", t.Name(), f.Name, f.Type)
		}
		if _, dup := fields[name]; dup {
			return nil, fmt.Errorf("tc3: Decode: %s has two fields for parameter %q", t.Name(), name)
		}
		fields[name] = paramField{index: i, typ: f.Type}
	}
	return fields, nil
}

func supportedType(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		return isScalar(t.Elem())
	}
	return isScalar(t) || t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String
}

func isScalar(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// caseHint returns a field name equal to name up to case, for the
// UnknownParameter message.
func caseHint(fields map[string]paramField, name string) string {
	for f := range fields {
		if strings.EqualFold(f, name) {
			return f
		}
	}
	return ""
}

// decodeJSON decodes a JSON body, in body order so the first mistake in the
// body is the one reported.
func (r *Request) decodeJSON(dst reflect.Value, fields map[string]paramField) *Error {
	if e := r.object(); e != nil {
		return e
	}
	for _, key := range r.keys {
		f, ok := fields[key]
		if !ok {
			return unknownParameter(r.Action, key, caseHint(fields, key))
		}
		if e := setJSON(dst.Field(f.index), key, r.fields[key]); e != nil {
			return e
		}
	}
	return nil
}

// object parses the JSON body into top-level keys and raw values once. It
// does not use encoding/json's struct decoding, which matches keys
// case-insensitively and lets a repeated key silently win.
func (r *Request) object() *Error {
	if !r.parsed {
		r.parsed = true
		r.keys, r.fields, r.bodyErr = parseObject(r.body)
	}
	return r.bodyErr
}

// parseObject splits a JSON object into its members, refusing anything else.
func parseObject(body []byte) ([]string, map[string]json.RawMessage, *Error) {
	body = bytes.Trim(body, " \t\r\n") // JSON's white space; bytes.TrimSpace would also drop U+00A0 and U+0085
	if len(body) == 0 {
		return nil, map[string]json.RawMessage{}, nil // an empty body is {}
	}
	if depthExceeds(body, MaxDepth) {
		return nil, nil, Errorf(CodeInvalidParameter, "request body nests deeper than %d levels.", MaxDepth)
	}
	if body[0] == '{' && json.Valid(body) {
		return splitObject(body)
	}
	return decodeObject(body)
}

// splitObject splits body, a valid JSON object (json.Valid said so), into
// its members. Validity leaves only the members' extents to find, which
// costs a fraction of encoding/json's token stream (every client request
// passes here); decodeObject, which reports what is wrong with a body,
// gives the same members for every valid object (FuzzSplitObject).
func splitObject(body []byte) ([]string, map[string]json.RawMessage, *Error) {
	var keys []string
	fields := make(map[string]json.RawMessage)
	i := skipSpace(body, 1)
	for body[i] != '}' {
		end := stringEnd(body, i)
		key, err := unquote(body[i:end])
		if err != nil { // cannot happen in a valid object; refuse rather than guess
			return nil, nil, Errorf(CodeInvalidParameter, "request body is not a JSON object: %v", err)
		}
		i = skipSpace(body, skipSpace(body, end)+1) // past the colon
		end = valueEnd(body, i)
		if _, dup := fields[key]; dup {
			return nil, nil, Errorf(CodeInvalidParameter, "request body has the key %q more than once.", key)
		}
		keys = append(keys, key)
		fields[key] = json.RawMessage(body[i:end])
		if i = skipSpace(body, end); body[i] == ',' {
			i = skipSpace(body, i+1)
		}
	}
	return keys, fields, nil
}

// unquote returns the text of a JSON string literal; only one with an
// escape or invalid UTF-8 (which encoding/json turns into U+FFFD) goes
// through encoding/json.
func unquote(lit []byte) (string, error) {
	if bytes.IndexByte(lit, '\\') < 0 && utf8.Valid(lit) {
		return string(lit[1 : len(lit)-1]), nil
	}
	var s string
	err := json.Unmarshal(lit, &s)
	return s, err
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// stringEnd returns the index just past the string literal starting at
// b[i], a quote.
func stringEnd(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// valueEnd returns the index just past the valid JSON value starting at b[i].
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = stringEnd(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	}
	for ; i < len(b); i++ { // a number, true, false or null
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return i
		}
	}
	return len(b)
}

// decodeObject is parseObject through encoding/json's token stream, which
// says what is wrong with a body that is not a valid object.
func decodeObject(body []byte) ([]string, map[string]json.RawMessage, *Error) {
	notObject := func(err error) *Error {
		if err != nil && !errors.Is(err, io.EOF) {
			return Errorf(CodeInvalidParameter, "request body is not a JSON object: %v", err)
		}
		return Errorf(CodeInvalidParameter, "request body is not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, nil, notObject(err)
	}
	var keys []string
	fields := make(map[string]json.RawMessage)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, notObject(err)
		}
		key := tok.(string) // inside an object, the decoder only yields string keys
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, notObject(err)
		}
		if _, dup := fields[key]; dup {
			return nil, nil, Errorf(CodeInvalidParameter, "request body has the key %q more than once.", key)
		}
		keys = append(keys, key)
		fields[key] = raw
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, nil, notObject(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, nil, Errorf(CodeInvalidParameter, "request body is not a JSON object: data follows the object")
	}
	return keys, fields, nil
}

// depthExceeds reports whether the JSON text b nests arrays and objects more
// than limit deep. It only counts brackets outside strings; validity is
// checked by the decoder afterwards.
func depthExceeds(b []byte, limit int) bool {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			i = stringEnd(b, i) - 1
		case '{', '[':
			if depth++; depth > limit {
				return true
			}
		case '}', ']':
			depth--
		}
	}
	return false
}

// setJSON stores one JSON value into v, a field of type supported by
// paramFields.
func setJSON(v reflect.Value, name string, raw json.RawMessage) *Error {
	if bytes.Equal(raw, []byte("null")) {
		return nil
	}
	if v.Kind() == reflect.Pointer {
		p := reflect.New(v.Type().Elem())
		if e := setJSON(p.Elem(), name, raw); e != nil {
			return e
		}
		v.Set(p)
		return nil
	}
	isString := raw[0] == '"'
	var s string
	if isString {
		// encoding/json would turn invalid UTF-8 into U+FFFD silently; a
		// form value is refused instead (decodeParams), so refuse it here too.
		if !utf8.Valid(raw) {
			return Invalid(name, "is not valid UTF-8")
		}
		var err error
		if s, err = unquote(raw); err != nil {
			return Invalid(name, "is not a valid JSON string")
		}
	}
	switch v.Kind() {
	case reflect.String:
		if !isString {
			return Invalid(name, "must be a string")
		}
		v.SetString(s)
		return nil
	case reflect.Bool:
		if !isString {
			s = string(raw)
		}
		return setBool(v, name, s)
	case reflect.Slice:
		return setJSONStrings(v, name, raw)
	}
	// An integer: a JSON number or, as in Tencent's own examples, a string of
	// digits. Fractions and exponents are refused by setInt.
	if !isString {
		s = string(raw)
	}
	return setInt(v, name, s)
}

// setJSONStrings stores a JSON array of strings.
func setJSONStrings(v reflect.Value, name string, raw json.RawMessage) *Error {
	var elems []json.RawMessage
	if raw[0] != '[' || json.Unmarshal(raw, &elems) != nil {
		return Invalid(name, "must be an array of strings")
	}
	out := make([]string, len(elems))
	for i, elem := range elems {
		if len(elem) == 0 || elem[0] != '"' || json.Unmarshal(elem, &out[i]) != nil {
			return Invalid(name+"."+strconv.Itoa(i), "must be a string")
		}
		if !utf8.Valid(elem) {
			return Invalid(name+"."+strconv.Itoa(i), "is not valid UTF-8")
		}
	}
	v.Set(reflect.ValueOf(out).Convert(v.Type()))
	return nil
}

// setBool accepts exactly true or false.
func setBool(v reflect.Value, name, s string) *Error {
	switch s {
	case "true":
		v.SetBool(true)
	case "false":
		v.SetBool(false)
	default:
		return Invalid(name, "must be true or false")
	}
	return nil
}

// setInt parses s strictly as a decimal integer that fits v: digits with an
// optional leading '-' for signed types, and nothing else.
func setInt(v reflect.Value, name, s string) *Error {
	signed := v.CanInt()
	digits := strings.TrimPrefix(s, "-")
	if !allDigits(digits) || !signed && digits != s {
		if signed {
			return Invalid(name, "must be an integer")
		}
		return Invalid(name, "must be a non-negative integer")
	}
	if signed {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v.OverflowInt(n) {
			lo := int64(math.MinInt64) >> (64 - v.Type().Bits())
			return Invalid(name, "must be an integer from %d to %d", lo, -(lo + 1))
		}
		v.SetInt(n)
		return nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v.OverflowUint(n) {
		return Invalid(name, "must be an integer from 0 to %d", uint64(math.MaxUint64)>>(64-v.Type().Bits()))
	}
	v.SetUint(n)
	return nil
}

// decodeParams decodes form or query parameters. Names are visited in sorted
// order so that the same request always reports the same mistake.
func (r *Request) decodeParams(dst reflect.Value, fields map[string]paramField) *Error {
	names := make([]string, 0, len(r.params))
	for name := range r.params {
		names = append(names, name)
	}
	slices.Sort(names)
	lists := make(map[string]map[int]string) // list name → index → value
	for _, name := range names {
		value := r.params.Get(name)
		if !utf8.ValidString(value) {
			return Invalid(name, "is not valid UTF-8")
		}
		if f, ok := fields[name]; ok {
			if f.typ.Kind() == reflect.Slice {
				return Invalid(name, "is a list; send its elements as %s.0, %s.1, and so on", name, name)
			}
			if e := setParam(dst.Field(f.index), name, value); e != nil {
				return e
			}
			continue
		}
		base, idx, ok := listElement(name)
		if f, isField := fields[base]; ok && isField && f.typ.Kind() == reflect.Slice {
			if lists[base] == nil {
				lists[base] = make(map[int]string)
			}
			lists[base][idx] = value
			continue
		}
		return unknownParameter(r.Action, name, caseHint(fields, name))
	}
	for base, elems := range lists {
		out := make([]string, len(elems))
		for i := range out {
			s, ok := elems[i]
			if !ok {
				return Invalid(base, "has %d elements but %s.%d is missing; number list elements from 0 without gaps", len(elems), base, i)
			}
			out[i] = s
		}
		f := dst.Field(fields[base].index)
		f.Set(reflect.ValueOf(out).Convert(f.Type()))
	}
	return nil
}

// listElement splits "Name.3" into ("Name", 3). The index is decimal without
// leading zeros, so each element has exactly one spelling.
func listElement(name string) (string, int, bool) {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return "", 0, false
	}
	digits := name[i+1:]
	n, ok := parseUint(digits)
	if !ok || len(digits) > 9 || len(digits) > 1 && digits[0] == '0' {
		return "", 0, false
	}
	return name[:i], int(n), true
}

// setParam stores one form or query value into a scalar field.
func setParam(v reflect.Value, name, value string) *Error {
	if v.Kind() == reflect.Pointer {
		p := reflect.New(v.Type().Elem())
		if e := setParam(p.Elem(), name, value); e != nil {
			return e
		}
		v.Set(p)
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(value)
		return nil
	case reflect.Bool:
		return setBool(v, name, value)
	}
	return setInt(v, name, value)
}
