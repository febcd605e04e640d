package ledger

// Order says how a query sorts line items. Every ordering is byte-wise
// (C collation), whatever the database's locale, so the same ledger gives
// the same file on every backend.
type Order int

const (
	// OrderByTime sorts by TransactionTime, then Id: the order of an L3
	// (bill details) file.
	OrderByTime Order = iota
	// OrderByInstance sorts by InstanceKeyFields, the grouping key of an L2
	// (bills by instance) file, so that rows of one group arrive together.
	OrderByInstance
)

// InstanceKeyFields are the fields that identify one row of an L2 (bills by
// instance) file, in the order the file sorts them.
var InstanceKeyFields = []string{
	"PayerAccountId", "OwnerAccountId", "ProductName", "SubProductName",
	"BillingMode", "ProjectName", "Region", "AvailabilityZone", "InstanceId",
	"InstanceName", "TransactionType", "Currency",
}

// Query selects the line items of one owner and bill month. Later actions
// (paged details, summaries by product, region or pay mode) add filters
// here rather than new store methods.
type Query struct {
	OwnerUIN string
	Month    Month
	Order    Order
	// Fields, when not nil, names the only fields the caller reads: a
	// store may leave the others empty, and reads less (an L2 build sorts
	// 19 columns instead of 33). A store may also return them all.
	Fields []string
}
