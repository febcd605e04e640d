package ledger

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Format is the encoding of an import file.
type Format int

// The import formats. The zero Format is invalid, so a forgotten choice
// fails loudly instead of defaulting to CSV.
const (
	// FormatCSV is RFC 4180 CSV, UTF-8, with a header row of field names:
	// the L3 file format, and what `ledger synth` writes.
	FormatCSV Format = iota + 1
	// FormatJSONL is JSON Lines: one JSON object per line, keyed by field
	// name, which is what scripts and other billing systems emit most easily.
	FormatJSONL
)

// String names the format as in messages: "CSV" or "JSON Lines".
func (f Format) String() string {
	switch f {
	case FormatCSV:
		return "CSV"
	case FormatJSONL:
		return "JSON Lines"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// FormatOf picks the format from a file name's extension (.csv, .jsonl or
// .ndjson), so `partnerbill ledger import` needs no format flag. Extensions
// match case-insensitively, since files from Windows tools are often
// upper-case.
func FormatOf(name string) (Format, error) {
	ext := filepath.Ext(name)
	switch strings.ToLower(ext) {
	case ".csv":
		return FormatCSV, nil
	case ".jsonl", ".ndjson":
		return FormatJSONL, nil
	}
	return 0, fmt.Errorf("import %s: unsupported extension %q; want .csv, .jsonl or .ndjson", name, ext)
}

// PosError locates a problem in an import file so the operator can open the
// file at the right spot. Lines and columns are 1-based; columns count bytes
// (as encoding/csv does), not characters.
type PosError struct {
	File   string
	Line   int
	Column int
	Field  string // spec field name when the problem is one field's value, else ""
	Err    error
}

// Error returns "FILE:LINE:COL: FIELD: message", or "FILE:LINE:COL: message"
// when no field is known: the form editors and terminals make clickable.
func (e *PosError) Error() string {
	msg := e.Err.Error()
	var fe *FieldError
	if errors.As(e.Err, &fe) && fe.Field == e.Field {
		msg = fe.Msg // don't print the field name twice
	}
	if e.Field == "" {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s: %s", e.File, e.Line, e.Column, e.Field, msg)
}

// Unwrap gives errors.Is and errors.As access to the cause, such as a
// *FieldError or an I/O error.
func (e *PosError) Unwrap() error { return e.Err }

// maxJSONLine bounds one JSON Lines record. Real line items are well under
// a kilobyte; the bound only keeps a file without newlines from exhausting
// memory.
const maxJSONLine = 64 << 20

// utf8BOM is the byte order mark some Windows tools put before UTF-8 text.
const utf8BOM = "\xef\xbb\xbf"

// Reader yields validated rows one at a time from a CSV or JSON Lines
// stream, in constant memory, and reports every problem with its position.
// Rows it returns have passed [Row.Validate], so BillMonth is always set.
//
// After an error that concerns one row (a bad value, a wrong field count, a
// JSON line that does not parse) Next may be called again and continues with
// the next row, so a checking tool can list every bad row. After a CSV quoting
// error or an I/O error the position of the next row is unknown, and Next
// keeps returning that error.
type Reader struct {
	name string
	src  *bufio.Reader
	line int   // where the last row returned started
	err  error // sticky error, io.EOF at the end

	// CSV state.
	csv   *csv.Reader
	cols  []int              // header column -> field index (fBillMonth for BillMonth)
	colOf [numFields + 1]int // field index -> header column, -1 when absent

	// JSON Lines state.
	json   bool
	buf    []byte             // holds a line longer than src's buffer
	valCol [numFields + 1]int // field index -> column of its value in the current line, 0 when absent
}

// NewReader returns a Reader for the stream r, which is named name in error
// messages. A UTF-8 byte order mark at the very start is skipped; columns on
// the first line then count from the byte after it. For CSV the header is
// read and checked here, so a wrong file is rejected before any row is read.
func NewReader(name string, r io.Reader, f Format) (*Reader, error) {
	rd := &Reader{name: name, src: bufio.NewReaderSize(r, 64<<10)}
	if f != FormatCSV && f != FormatJSONL {
		return nil, fmt.Errorf("import %s: unknown format %v", name, f)
	}
	if b, err := rd.src.Peek(len(utf8BOM)); string(b) == utf8BOM {
		rd.src.Discard(len(utf8BOM))
	} else if err != nil && err != io.EOF {
		return nil, rd.errorAt(1, 1, "", fmt.Errorf("read: %w", err))
	}
	if f == FormatJSONL {
		rd.json = true
		return rd, nil
	}
	if err := rd.readHeader(); err != nil {
		return nil, err
	}
	return rd, nil
}

// Line returns the line on which the row last returned by Next started
// (or where the last error was found), for progress reports.
func (r *Reader) Line() int { return r.line }

// Next returns the next row, or io.EOF after the last one. Any other error
// is a *[PosError].
func (r *Reader) Next() (Row, error) {
	if r.err != nil {
		return Row{}, r.err
	}
	if r.json {
		return r.nextJSON()
	}
	return r.nextCSV()
}

// All returns an iterator over the remaining rows that stops after the
// first error, for range loops and for handing a whole file to a store.
func (r *Reader) All() iter.Seq2[Row, error] {
	return func(yield func(Row, error) bool) {
		for {
			row, err := r.Next()
			if err == io.EOF {
				return
			}
			if !yield(row, err) || err != nil {
				return
			}
		}
	}
}

// errorAt builds a *PosError at a position in this file.
func (r *Reader) errorAt(line, col int, field string, err error) *PosError {
	return &PosError{File: r.name, Line: line, Column: col, Field: field, Err: err}
}

// fieldName names a field index, including the BillMonth pseudo-field.
func fieldName(i int) string {
	if i == fBillMonth {
		return billMonthName
	}
	return Fields[i]
}

// lookupColumn maps a header name or JSON key to a field index.
func lookupColumn(name string) (int, bool) {
	if i, ok := fieldIndex[name]; ok {
		return i, true
	}
	if name == billMonthName {
		return fBillMonth, true
	}
	return 0, false
}

// unknownName explains an unknown column or key, suggesting the right
// spelling when only letter case is wrong.
func unknownName(what, name string) string {
	msg := fmt.Sprintf("unknown %s %s", what, quoteShort(name))
	for _, f := range append(Fields[:], billMonthName) {
		if strings.EqualFold(f, name) {
			return msg + fmt.Sprintf(" (names are case-sensitive: did you mean %q?)", f)
		}
	}
	return msg + "; want the BillDetailData field names (PayerAccountId … CustomerDiscountRate) or " + billMonthName
}

// requiredMissing lists the required fields that have no column or key.
func requiredMissing(present func(i int) bool) []string {
	var missing []string
	for i, rule := range rules {
		if rule.required && !present(i) {
			missing = append(missing, Fields[i])
		}
	}
	return missing
}

// readHeader reads the CSV header: the field names in any order, optionally
// with BillMonth. Absent optional columns leave their fields empty.
func (r *Reader) readHeader() error {
	cr := csv.NewReader(&crlfKeeper{src: r.src})
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return r.errorAt(1, 1, "", errors.New("empty file; want a header line of BillDetailData field names"))
	}
	if err != nil {
		return r.csvError(err)
	}
	// Later rows must have exactly as many fields as the header.
	cr.FieldsPerRecord = len(header)
	r.csv = cr
	r.cols = make([]int, len(header))
	for i := range r.colOf {
		r.colOf[i] = -1
	}
	for i, name := range header {
		line, col := cr.FieldPos(i)
		idx, ok := lookupColumn(name)
		if !ok {
			return r.errorAt(line, col, "", fmt.Errorf("header column %d: %s", i+1, unknownName("column", name)))
		}
		if prev := r.colOf[idx]; prev >= 0 {
			return r.errorAt(line, col, "", fmt.Errorf("header column %d: duplicate column %q (also column %d)", i+1, name, prev+1))
		}
		r.colOf[idx] = i
		r.cols[i] = idx
	}
	if missing := requiredMissing(func(i int) bool { return r.colOf[i] >= 0 }); len(missing) > 0 {
		return r.errorAt(1, 1, "", fmt.Errorf("header: missing required column(s) %s", strings.Join(missing, ", ")))
	}
	return nil
}

// csvError turns an error from encoding/csv into a *PosError and makes it
// sticky: after a quoting error csv cannot tell where the next row starts.
func (r *Reader) csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		r.line = pe.Line
		r.err = r.errorAt(pe.Line, pe.Column, "", fmt.Errorf(`%w; quote a field that contains "," or a quote or a line break, and double each quote inside it`, pe.Err))
	} else {
		r.err = r.errorAt(r.line+1, 1, "", fmt.Errorf("read: %w", err))
	}
	return r.err
}

// nextCSV reads, maps and validates one CSV record.
func (r *Reader) nextCSV() (Row, error) {
	rec, err := r.csv.Read()
	if err == io.EOF {
		r.err = io.EOF
		return Row{}, io.EOF
	}
	if errors.Is(err, csv.ErrFieldCount) {
		return Row{}, r.fieldCountError(rec) // one bad row: not sticky
	}
	if err != nil {
		return Row{}, r.csvError(err)
	}
	r.line, _ = r.csv.FieldPos(0)

	var row Row
	for i, v := range rec {
		idx := r.cols[i]
		if idx != fBillMonth {
			*row.ref(idx) = v
			continue
		}
		if v == "" {
			continue // derived from TransactionTime by Validate
		}
		m, err := ParseMonth(v)
		if err != nil {
			line, col := r.csv.FieldPos(i)
			return Row{}, r.errorAt(line, col, billMonthName, &FieldError{Field: billMonthName, Msg: err.Error()})
		}
		row.BillMonth = m
	}
	if err := row.Validate(); err != nil {
		return Row{}, r.rowError(err, func(idx int) (int, int) {
			if c := r.colOf[idx]; c >= 0 {
				return r.csv.FieldPos(c)
			}
			return r.line, 1
		})
	}
	return row, nil
}

// fieldCountError reports a record whose width differs from the header's,
// pointing at the first surplus field, or at the record's start when
// fields are missing.
func (r *Reader) fieldCountError(rec []string) error {
	r.line, _ = r.csv.FieldPos(0)
	want := len(r.cols)
	if len(rec) > want {
		line, col := r.csv.FieldPos(want)
		return r.errorAt(line, col, "", fmt.Errorf("%d fields, but the header has %d", len(rec), want))
	}
	return r.errorAt(r.line, 1, "", fmt.Errorf("%d fields, but the header has %d (first missing: %s)", len(rec), want, fieldName(r.cols[len(rec)])))
}

// rowError attaches the position of the offending field to a validation
// error; pos maps a field index to its line and column.
func (r *Reader) rowError(err error, pos func(idx int) (line, col int)) error {
	var fe *FieldError
	if !errors.As(err, &fe) {
		return r.errorAt(r.line, 1, "", err)
	}
	idx, _ := lookupColumn(fe.Field)
	line, col := pos(idx)
	return r.errorAt(line, col, fe.Field, fe)
}

// crlfKeeper lets encoding/csv keep "\r\n" inside quoted fields. csv.Reader
// folds every "\r\n" to "\n", including inside a quoted field, which would
// break the promise that a field comes back byte for byte (an instance name
// pasted from Windows may contain "\r\n"). csv folds only the "\r" right
// before a line's "\n", so inside quotes this reader doubles that "\r": csv
// folds "\r\r\n" back to the original "\r\n". Outside quotes nothing changes,
// so CRLF line ends still end records. Quote state is tracked by parity,
// which is exact for well-formed CSV ("" toggles twice); on malformed input
// csv reports the error at the first bad quote before parity matters. Line
// numbers are unaffected, and columns too, since the extra byte is always
// the last on its line.
type crlfKeeper struct {
	src     io.Reader
	in, out []byte
	pending []byte // transformed bytes not yet handed out
	inQuote bool
	lastCR  bool // the previous input byte was '\r'
}

// Read hands out transformed input, refilling from src when empty.
func (k *crlfKeeper) Read(p []byte) (int, error) {
	if len(k.pending) == 0 {
		if k.in == nil {
			k.in = make([]byte, 32<<10)
		}
		n, err := k.src.Read(k.in)
		out := k.out[:0]
		for _, c := range k.in[:n] {
			switch c {
			case '"':
				k.inQuote = !k.inQuote
			case '\n':
				if k.inQuote && k.lastCR {
					out = append(out, '\r')
				}
			}
			k.lastCR = c == '\r'
			out = append(out, c)
		}
		k.out, k.pending = out, out
		if n == 0 {
			return 0, err
		}
	}
	n := copy(p, k.pending)
	k.pending = k.pending[n:]
	return n, nil
}

// nextJSON reads lines until one holds a row, skipping blank lines.
func (r *Reader) nextJSON() (Row, error) {
	for {
		line, err := r.readLine()
		if err == io.EOF {
			r.err = io.EOF
			return Row{}, io.EOF
		}
		r.line++
		if err != nil {
			r.err = r.errorAt(r.line, 1, "", err)
			return Row{}, r.err
		}
		if len(bytes.TrimLeft(line, " \t\r")) == 0 {
			continue
		}
		row, err := r.parseJSON(line)
		if err != nil {
			return Row{}, err
		}
		if err := row.Validate(); err != nil {
			return Row{}, r.rowError(err, func(idx int) (int, int) {
				return r.line, max(r.valCol[idx], 1)
			})
		}
		return row, nil
	}
}

// readLine returns the next line without its "\n" (or "\r\n"), or io.EOF
// when the input is exhausted. The result is valid until the next call.
// Long lines are gathered in r.buf, so one huge record costs memory once
// and ordinary lines are not copied at all.
func (r *Reader) readLine() ([]byte, error) {
	line, err := r.src.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		r.buf = append(r.buf[:0], line...)
		for err == bufio.ErrBufferFull {
			if len(r.buf) > maxJSONLine {
				return nil, fmt.Errorf("line longer than %d MiB", maxJSONLine>>20)
			}
			line, err = r.src.ReadSlice('\n')
			r.buf = append(r.buf, line...)
		}
		line = r.buf
	}
	if err == io.EOF && len(line) > 0 {
		err = nil // last line without "\n"
	}
	if err != nil {
		if err != io.EOF {
			err = fmt.Errorf("read: %w", err)
		}
		return nil, err
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r")), nil
}

// parseJSON decodes one line holding a flat JSON object into a row, using
// encoding/json's streaming tokenizer. Walking tokens rather than decoding
// into a map or struct lets it report the byte column of each key and value,
// reject duplicate keys, and keep numbers as their literal text (UseNumber:
// a float64 round trip would change amounts). Invalid UTF-8 is an error
// rather than being replaced with U+FFFD as encoding/json would, because a
// field must come back exactly as sent. (A lone UTF-16 surrogate escape such
// as \ud800 still decodes to U+FFFD: there is no exact UTF-8 text for it.)
func (r *Reader) parseJSON(line []byte) (Row, error) {
	var row Row
	r.valCol = [numFields + 1]int{}
	fail := func(at int, field, msg string) (Row, error) {
		var err error = errors.New(msg)
		if field != "" {
			err = &FieldError{Field: field, Msg: msg}
		}
		return Row{}, r.errorAt(r.line, at+1, field, err)
	}
	// badAt is the offset of the first byte that is not UTF-8, or -1. It
	// can only sit inside a string: anywhere else the tokenizer rejects it.
	badAt := -1
	if !utf8.Valid(line) {
		badAt = invalidUTF8At(line)
	}
	hasBad := func(from, to int) bool { return from <= badAt && badAt < to }

	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	// offset is where the tokenizer stands: just past the last token.
	offset := func() int { return int(dec.InputOffset()) }

	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fail(skipJSONSpace(line, 0), "", "want a JSON object on each line")
	}
	for first := true; ; first = false {
		at := skipJSONSpace(line, offset())
		tok, err := dec.Token() // also eats the "," before a key
		if err == nil && tok == json.Delim('}') {
			break
		}
		keyAt := at
		if !first {
			if at >= len(line) || line[at] != ',' {
				return fail(at, "", `invalid JSON: want "," or "}" after a value`)
			}
			keyAt = skipJSONSpace(line, at+1)
		}
		key, ok := tok.(string)
		if err != nil || !ok {
			if keyAt < len(line) && line[keyAt] == '"' {
				return fail(keyAt, "", "invalid JSON key: "+jsonErrorText(err, line, keyAt))
			}
			return fail(keyAt, "", "invalid JSON: want a key in double quotes")
		}
		keyEnd := offset()
		if hasBad(keyAt, keyEnd) {
			return fail(keyAt, "", "invalid JSON key: string is not valid UTF-8")
		}
		idx, ok := lookupColumn(key)
		if !ok {
			return fail(keyAt, "", unknownName("key", key))
		}
		name := fieldName(idx)
		if r.valCol[idx] != 0 {
			return fail(keyAt, "", fmt.Sprintf("duplicate key %q", name))
		}

		// The tokenizer eats the ":" with the value, so find both here.
		colonAt := skipJSONSpace(line, keyEnd)
		valAt := colonAt
		if colonAt < len(line) && line[colonAt] == ':' {
			valAt = skipJSONSpace(line, colonAt+1)
		}
		tok, err = dec.Token()
		if err != nil {
			if valAt == colonAt {
				return fail(colonAt, name, `invalid JSON: want ":" after the key`)
			}
			return fail(valAt, name, "invalid JSON value: "+jsonErrorText(err, line, valAt))
		}
		r.valCol[idx] = valAt + 1
		var text string
		switch v := tok.(type) {
		case string:
			if hasBad(valAt, offset()) {
				return fail(valAt, name, "invalid JSON value: string is not valid UTF-8")
			}
			text = v
		case json.Number:
			// A digit right after a number means it began with "0" or "-0"
			// and the tokenizer ended it there; JSON forbids leading zeros.
			if end := offset(); end < len(line) && isDigit(line[end]) {
				return fail(valAt, name, "invalid JSON value: number with a leading zero")
			}
			if !numberAllowed(idx) {
				return fail(valAt, name, "got "+v.String()+"; want a JSON string")
			}
			text = v.String() // the literal text, never a float64: 0.10 stays "0.10"
		default:
			got := jsonKind(tok)
			if numberAllowed(idx) {
				return fail(valAt, name, "got "+got+"; want a JSON string or number")
			}
			return fail(valAt, name, "got "+got+"; want a JSON string")
		}
		if idx == fBillMonth {
			if text != "" {
				m, err := ParseMonth(text)
				if err != nil {
					return fail(valAt, name, err.Error())
				}
				row.BillMonth = m
			}
		} else {
			*row.ref(idx) = text
		}
	}
	at := skipJSONSpace(line, offset())
	if _, err := dec.Token(); err != io.EOF {
		return fail(at, "", "unexpected text after the JSON object; want one object per line")
	}
	return row, nil
}

// numberAllowed reports whether a JSON number may stand for field idx: the
// amounts, and the account ids, which the API itself sends as integers.
func numberAllowed(idx int) bool {
	return idx < numFields && (rules[idx].kind == kindDecimal || rules[idx].kind == kindUIN)
}

// jsonKind describes a token that is not a string or number, for messages.
// Objects and arrays come as their opening [json.Delim]; the line is
// rejected before the rest of them is read.
func jsonKind(tok json.Token) string {
	switch v := tok.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(v)
	case json.Delim:
		if v == '[' {
			return "an array"
		}
		return "an object"
	}
	return fmt.Sprint(tok)
}

// jsonErrorText explains a tokenizer error for the key or value starting
// at offset at. The end of the line comes as io.EOF or io.ErrUnexpectedEOF.
func jsonErrorText(err error, line []byte, at int) string {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		if at < len(line) && line[at] == '"' {
			return "unterminated string"
		}
		return "unexpected end of line"
	}
	return err.Error() // a *json.SyntaxError: "invalid character ..."
}

// skipJSONSpace returns the offset of the first byte at or after i that is
// not JSON white space.
func skipJSONSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// invalidUTF8At returns the offset of the first byte of b that does not
// begin a valid UTF-8 sequence, or -1 if there is none.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		c, size := utf8.DecodeRune(b[i:])
		if c == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}
