// Package ledger holds partnerbill's unit of billing data, the bill line
// item, and everything needed to get line items in and out of files.
//
// Operators fill partnerbill's ledger with `partnerbill ledger import FILE...`
// and customers later download the same line items as L3 bill files, so a
// line item must survive that trip unchanged: every field is kept as the
// exact text that was imported, amounts are validated as exact decimals and
// never pass through float64, and the CSV writer and reader round-trip each
// other byte for byte.
//
// The package knows nothing about databases or HTTP. It offers:
//
//   - [Row], the 32 fields of the API's BillDetailData plus the bill month;
//   - [Month], the YYYY-MM value that every bill API is keyed by;
//   - [ParseDecimal] and [FormatDecimal], the only way money enters or
//     leaves partnerbill as text;
//   - [Reader], a streaming, position-reporting reader for CSV and
//     JSON Lines imports, and [Writer], the CSV writer behind L3 files;
//   - [Synth], deterministic, realistic line items for demos and tests.
package ledger
