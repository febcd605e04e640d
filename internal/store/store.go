// Package store declares the persistence seam of partnerbill: one Store
// interface that every database backend (sqlitestore today, pgstore next)
// implements, and whose contract is the conformance suite in storetest.
package store

import (
	"context"
	"errors"
	"iter"
	"time"

	"github.com/partnerbill/partnerbill/internal/account"
	"github.com/partnerbill/partnerbill/internal/ledger"
)

// Sentinel errors every backend translates its driver errors into.
var (
	// ErrNotFound reports that the thing asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrDuplicate reports an insert whose key already exists.
	ErrDuplicate = errors.New("already exists")
	// ErrConflict reports an imported line item whose Id is already in the
	// ledger with different content.
	ErrConflict = errors.New("conflicts with the ledger")
	// ErrNoMasterKey reports a key operation on a store opened without a
	// master key (Options.Sealer): it can neither seal nor open SecretKeys,
	// and never stores one in plaintext.
	ErrNoMasterKey = errors.New("the store was opened without a master key, so it cannot seal or open SecretKeys")
)

// ImportStats counts what one atomic import did.
type ImportStats struct {
	// Rows is the number of rows read.
	Rows int64
	// Added is the number of line items new to the ledger.
	Added int64
	// Unchanged is the number of rows whose Id was already in the ledger
	// with the same content.
	Unchanged int64
}

// FileKey names one build of a bill file: whose, which month, which kind,
// and the ledger version it was built from.
type FileKey struct {
	OwnerUIN string
	Month    ledger.Month
	Kind     string
	Version  int64
}

// FileState is where a bill file's build stands.
type FileState string

// A build is recorded only when it ends: ready with an object key, or
// failed for good after its retries.
const (
	FileReady  FileState = "ready"
	FileFailed FileState = "failed"
)

// BillFile records the outcome of one build.
type BillFile struct {
	FileKey
	State     FileState
	ObjectKey string
	Rows      int64
	Bytes     int64
	Error     string
	UpdatedAt time.Time
}

// Store is everything partnerbill keeps in its database apart from
// background jobs, which River keeps in the same database.
type Store interface {
	// CreateAccount adds a; ErrDuplicate if its UIN is taken.
	CreateAccount(ctx context.Context, a account.Account) error
	// GetAccount returns the account with uin, or ErrNotFound.
	GetAccount(ctx context.Context, uin string) (account.Account, error)
	// ListAccounts returns every account ordered by UIN.
	ListAccounts(ctx context.Context) ([]account.Account, error)
	// CreateKey adds k; ErrNotFound if its account does not exist. The
	// SecretKey is stored sealed with the store's master key
	// (account.Sealer, bound to the SecretId), never in plaintext;
	// ErrNoMasterKey without one.
	CreateKey(ctx context.Context, k account.Key) error
	// GetKey returns the key with secretID, enabled or not, expired or
	// not, with its SecretKey unsealed; ErrNotFound if unknown, an error
	// wrapping account.ErrCannotUnseal if the stored value does not open
	// under the master key.
	GetKey(ctx context.Context, secretID string) (account.Key, error)
	// DisableKey stops secretID from signing requests; ErrNotFound if unknown.
	DisableKey(ctx context.Context, secretID string) error
	// RotateKey adds k, a new key of the same account as oldSecretID, and
	// makes the old key expire at oldExpiresAt, or keeps an earlier expiry
	// it already has (a rotation never extends a key's life). Both happen
	// or neither: ErrNotFound if oldSecretID is unknown, an error if k
	// belongs to another account.
	RotateKey(ctx context.Context, oldSecretID string, k account.Key, oldExpiresAt time.Time) error

	// ImportRows adds the rows to the ledger atomically: all of them or,
	// when rows yields an error or a row conflicts (ErrConflict, inside a
	// *RowError that says which row), none.
	// Rows whose Id is already present with equal content are skipped. Each
	// (owner, bill month) that gains a row gets a new ledger version.
	ImportRows(ctx context.Context, rows iter.Seq2[ledger.Row, error]) (ImportStats, error)
	// LedgerVersion returns the version of owner's ledger for month: 0 when
	// it has no line items, and larger after every import that adds some.
	LedgerVersion(ctx context.Context, owner string, month ledger.Month) (int64, error)
	// LineItems streams the line items q selects, in q.Order. Memory does
	// not grow with the number of rows.
	LineItems(ctx context.Context, q ledger.Query) iter.Seq2[ledger.Row, error]

	// CurrentBillFile is LedgerVersion and GetBillFile in one read, the
	// question every DescribeBillDownloadUrl asks: it returns the record
	// of owner's month and kind at the current ledger version, or, when no
	// build of that version is recorded, a BillFile with only FileKey set
	// (State empty).
	CurrentBillFile(ctx context.Context, owner string, month ledger.Month, kind string) (BillFile, error)
	// GetBillFile returns the recorded outcome of a build, or ErrNotFound
	// while none is recorded.
	GetBillFile(ctx context.Context, key FileKey) (BillFile, error)
	// PutBillFile records (or replaces) the outcome of a build.
	PutBillFile(ctx context.Context, f BillFile) error
	// DeleteBillFile forgets a recorded outcome, so that the next request
	// builds the file again. Deleting a missing record is not an error.
	DeleteBillFile(ctx context.Context, key FileKey) error

	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}
