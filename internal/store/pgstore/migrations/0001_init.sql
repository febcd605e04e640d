-- The PostgreSQL schema mirrors sqlitestore's 0001_init.sql table for table.
-- Every text column that is compared or ordered is COLLATE "C", so that
-- uniqueness, lookups and ORDER BY are byte-wise whatever the database's
-- locale (the API promises the same file on every backend). Tables are
-- created unqualified: they land in the schema Options.Schema selects
-- through search_path.

-- Accounts and the keys they sign requests with.
CREATE TABLE accounts (
    uin          TEXT COLLATE "C" PRIMARY KEY,
    role         TEXT COLLATE "C" NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    reseller_uin TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE api_keys (
    secret_id  TEXT COLLATE "C" PRIMARY KEY,
    uin        TEXT COLLATE "C" NOT NULL REFERENCES accounts (uin),
    secret_key TEXT COLLATE "C" NOT NULL,
    disabled   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX api_keys_uin ON api_keys (uin);

-- The ledger: one row per bill line item, every field kept as imported text.
--
-- Partitioned by bill month (LIST on BillMonth, one partition per month,
-- named line_items_YYYY_MM). Every file is built for one owner and one
-- month, so a build reads one partition, and an old month can be archived
-- without touching the others:
--
--     BEGIN;
--     ALTER TABLE line_items DETACH PARTITION line_items_2024_12;
--     DELETE FROM line_item_ids WHERE BillMonth = '2024-12';
--     COMMIT;
--     -- then pg_dump -t line_items_2024_12, and DROP TABLE (or rename it:
--     -- an import of that month later creates a fresh partition under the
--     -- same name and refuses to reuse a table that is not a partition).
--
-- (ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY avoids blocking readers,
-- but cannot run inside a transaction block.)
--
-- Import creates a month's partition when its first rows arrive (pgstore's
-- ensurePartitions): CREATE TABLE ... (LIKE line_items) then ATTACH
-- PARTITION, which locks line_items only in SHARE UPDATE EXCLUSIVE mode, so
-- builds and imports of other months go on; CREATE TABLE ... PARTITION OF
-- would hold an ACCESS EXCLUSIVE lock on line_items until the import
-- commits.
--
-- The primary key must contain the partition key. Leading with BillMonth
-- and then the L3 order (OwnerAccountId, TransactionTime, Id) makes it, in
-- each partition, exactly the index an L3 build scans: WHERE OwnerAccountId
-- = $1 AND BillMonth = $2 ORDER BY TransactionTime, Id is one index range,
-- streamed in order, no sort.
CREATE TABLE line_items (
    BillMonth                     TEXT COLLATE "C" NOT NULL,
    PayerAccountId                TEXT COLLATE "C" NOT NULL,
    OwnerAccountId                TEXT COLLATE "C" NOT NULL,
    OperatorAccountId             TEXT COLLATE "C" NOT NULL,
    ProductName                   TEXT COLLATE "C" NOT NULL,
    BillingMode                   TEXT COLLATE "C" NOT NULL,
    ProjectName                   TEXT COLLATE "C" NOT NULL,
    Region                        TEXT COLLATE "C" NOT NULL,
    AvailabilityZone              TEXT COLLATE "C" NOT NULL,
    InstanceId                    TEXT COLLATE "C" NOT NULL,
    InstanceName                  TEXT COLLATE "C" NOT NULL,
    SubProductName                TEXT COLLATE "C" NOT NULL,
    TransactionType               TEXT COLLATE "C" NOT NULL,
    TransactionId                 TEXT COLLATE "C" NOT NULL,
    TransactionTime               TEXT COLLATE "C" NOT NULL,
    UsageStartTime                TEXT COLLATE "C" NOT NULL,
    UsageEndTime                  TEXT COLLATE "C" NOT NULL,
    ComponentType                 TEXT COLLATE "C" NOT NULL,
    ComponentName                 TEXT COLLATE "C" NOT NULL,
    ComponentListPrice            TEXT COLLATE "C" NOT NULL,
    ComponentPriceMeasurementUnit TEXT COLLATE "C" NOT NULL,
    ComponentUsage                TEXT COLLATE "C" NOT NULL,
    ComponentUsageUnit            TEXT COLLATE "C" NOT NULL,
    UsageDuration                 TEXT COLLATE "C" NOT NULL,
    DurationUnit                  TEXT COLLATE "C" NOT NULL,
    OriginalCost                  TEXT COLLATE "C" NOT NULL,
    DiscountRate                  TEXT COLLATE "C" NOT NULL,
    Currency                      TEXT COLLATE "C" NOT NULL,
    TotalAmountAfterDiscount      TEXT COLLATE "C" NOT NULL,
    VoucherDeduction              TEXT COLLATE "C" NOT NULL,
    TotalCost                     TEXT COLLATE "C" NOT NULL,
    Id                            TEXT COLLATE "C" NOT NULL,
    CustomerDiscountRate          TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (BillMonth, OwnerAccountId, TransactionTime, Id)
) PARTITION BY LIST (BillMonth);

-- The L2 order: ledger.InstanceKeyFields, then TransactionTime, Id. With
-- OwnerAccountId fixed by the query's WHERE, PostgreSQL drops it from the
-- wanted order, so this index (owner first, then the rest of the instance
-- key in L2 order) hands rows over grouped and ordered by instance key,
-- and an Incremental Sort orders each group (one instance's rows of one
-- transaction type in a month: hundreds, not millions) by TransactionTime,
-- Id. Memory is bounded by the largest group, not the month. The index
-- stops at the instance key on purpose: all rows of a group share its key,
-- so B-tree deduplication stores each key once (about 9 MB per million
-- synthetic rows), where adding TransactionTime and Id makes every key
-- unique (about 270 MB per million rows, and an import twice as slow).
-- Created on the parent, it is created on every partition.
CREATE INDEX line_items_instance ON line_items (
    OwnerAccountId, PayerAccountId, ProductName, SubProductName, BillingMode,
    ProjectName, Region, AvailabilityZone, InstanceId, InstanceName,
    TransactionType, Currency
);

-- Global Id uniqueness. The API's idempotency is on Id across months, but
-- a unique index on a partitioned table must contain the partition key, so
-- line_items alone can only promise (BillMonth, ..., Id) unique. This small
-- table holds every Id once, with the rest of its line item's primary key.
-- Import claims Ids here first (INSERT ... ON CONFLICT (Id) DO NOTHING), so
-- two imports racing on the same new Id serialize on this primary key: the
-- second waits for the first to commit, then sees the Id as present and
-- compares content, exactly as SQLite's one-writer-at-a-time import does.
-- Its other columns lead straight to the stored row through line_items'
-- primary key, which is how import compares a re-imported row with the
-- ledger without another index on line_items.
CREATE TABLE line_item_ids (
    Id              TEXT COLLATE "C" PRIMARY KEY,
    BillMonth       TEXT COLLATE "C" NOT NULL,
    OwnerAccountId  TEXT COLLATE "C" NOT NULL,
    TransactionTime TEXT COLLATE "C" NOT NULL
);

-- One counter per owner and bill month, bumped by every import that adds
-- line items there; bill files are built for a version and never served
-- once the version has moved on.
CREATE TABLE ledger_versions (
    owner_uin  TEXT COLLATE "C" NOT NULL,
    bill_month TEXT COLLATE "C" NOT NULL,
    version    BIGINT NOT NULL,
    PRIMARY KEY (owner_uin, bill_month)
);

-- The outcome of each bill file build.
CREATE TABLE bill_files (
    owner_uin  TEXT COLLATE "C" NOT NULL,
    bill_month TEXT COLLATE "C" NOT NULL,
    kind       TEXT COLLATE "C" NOT NULL,
    version    BIGINT NOT NULL,
    state      TEXT COLLATE "C" NOT NULL,
    object_key TEXT NOT NULL DEFAULT '',
    row_count  BIGINT NOT NULL DEFAULT 0,
    byte_count BIGINT NOT NULL DEFAULT 0,
    error      TEXT NOT NULL DEFAULT '',
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (owner_uin, bill_month, kind, version)
);
