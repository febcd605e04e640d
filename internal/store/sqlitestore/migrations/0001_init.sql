-- Accounts and the keys they sign requests with.
CREATE TABLE accounts (
    uin          TEXT PRIMARY KEY,
    role         TEXT NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    reseller_uin TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL
);

CREATE TABLE api_keys (
    secret_id  TEXT PRIMARY KEY,
    uin        TEXT NOT NULL REFERENCES accounts (uin),
    secret_key TEXT NOT NULL,
    disabled   INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE INDEX api_keys_uin ON api_keys (uin);

-- The ledger: one row per bill line item, every field kept as imported text.
-- Clustered by the order of an L3 file so building one streams a range of
-- the table. TEXT compares with SQLite's BINARY collation: byte-wise.
CREATE TABLE line_items (
    BillMonth                     TEXT NOT NULL,
    PayerAccountId                TEXT NOT NULL,
    OwnerAccountId                TEXT NOT NULL,
    OperatorAccountId             TEXT NOT NULL,
    ProductName                   TEXT NOT NULL,
    BillingMode                   TEXT NOT NULL,
    ProjectName                   TEXT NOT NULL,
    Region                        TEXT NOT NULL,
    AvailabilityZone              TEXT NOT NULL,
    InstanceId                    TEXT NOT NULL,
    InstanceName                  TEXT NOT NULL,
    SubProductName                TEXT NOT NULL,
    TransactionType               TEXT NOT NULL,
    TransactionId                 TEXT NOT NULL,
    TransactionTime               TEXT NOT NULL,
    UsageStartTime                TEXT NOT NULL,
    UsageEndTime                  TEXT NOT NULL,
    ComponentType                 TEXT NOT NULL,
    ComponentName                 TEXT NOT NULL,
    ComponentListPrice            TEXT NOT NULL,
    ComponentPriceMeasurementUnit TEXT NOT NULL,
    ComponentUsage                TEXT NOT NULL,
    ComponentUsageUnit            TEXT NOT NULL,
    UsageDuration                 TEXT NOT NULL,
    DurationUnit                  TEXT NOT NULL,
    OriginalCost                  TEXT NOT NULL,
    DiscountRate                  TEXT NOT NULL,
    Currency                      TEXT NOT NULL,
    TotalAmountAfterDiscount      TEXT NOT NULL,
    VoucherDeduction              TEXT NOT NULL,
    TotalCost                     TEXT NOT NULL,
    Id                            TEXT NOT NULL,
    CustomerDiscountRate          TEXT NOT NULL,
    PRIMARY KEY (OwnerAccountId, BillMonth, TransactionTime, Id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX line_items_id ON line_items (Id);

-- One counter per owner and bill month, bumped by every import that adds
-- line items there; bill files are built for a version and never served
-- once the version has moved on.
CREATE TABLE ledger_versions (
    owner_uin  TEXT NOT NULL,
    bill_month TEXT NOT NULL,
    version    INTEGER NOT NULL,
    PRIMARY KEY (owner_uin, bill_month)
) WITHOUT ROWID;

-- The outcome of each bill file build.
CREATE TABLE bill_files (
    owner_uin  TEXT NOT NULL,
    bill_month TEXT NOT NULL,
    kind       TEXT NOT NULL,
    version    INTEGER NOT NULL,
    state      TEXT NOT NULL,
    object_key TEXT NOT NULL DEFAULT '',
    row_count  INTEGER NOT NULL DEFAULT 0,
    byte_count INTEGER NOT NULL DEFAULT 0,
    error      TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL,
    PRIMARY KEY (owner_uin, bill_month, kind, version)
) WITHOUT ROWID;
