-- SecretKeys are kept sealed: AES-256-GCM under the master key, bound to
-- their SecretId (account.Sealer). The column's new name makes a
-- partnerbill from before sealing fail on this database rather than take
-- a sealed value for a key. Keys stored in plaintext before this migration
-- are sealed by Open (and Migrate), which hold the master key.
ALTER TABLE api_keys RENAME COLUMN secret_key TO sealed_secret_key;

-- One row: a known value sealed with the master key when the database is
-- first opened with one, so that a replica holding another master key is
-- refused at start instead of failing every request.
CREATE TABLE master_key_check (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    sealed     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
