package pgstore

import "github.com/partnerbill/partnerbill/internal/ledger"

// LineItemsSQL exposes the query LineItems runs, so that tests can EXPLAIN
// exactly that.
func LineItemsSQL(order ledger.Order) string { return lineItemsSQL(order) }

// LineItemsSettings is what LineItems sets in the transaction it queries
// in, so that tests EXPLAIN under the same settings.
const LineItemsSettings = lineItemsSettings
