-- A counter that every change to the tables a running server caches bumps
-- in the same transaction (triggers, so any writer counts, partnerbill or
-- not). The server's read cache notices commits through SQLite's wal-index
-- header, which every commit moves, the job queue's housekeeping included;
-- when the header has moved but this counter has not, the cached answers
-- are still true and are kept (sqlitestore/changes.go).
CREATE TABLE cache_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
);
INSERT INTO cache_generation (id, n) VALUES (1, 0);

CREATE TRIGGER accounts_ins_generation AFTER INSERT ON accounts BEGIN UPDATE cache_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER accounts_upd_generation AFTER UPDATE ON accounts BEGIN UPDATE cache_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER accounts_del_generation AFTER DELETE ON accounts BEGIN UPDATE cache_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER api_keys_ins_generation AFTER INSERT ON api_keys BEGIN UPDATE cache_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER api_keys_upd_generation AFTER UPDATE ON api_keys BEGIN UPDATE cache_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER api_keys_del_generation AFTER DELETE ON api_keys BEGIN UPDATE cache_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER ledger_versions_ins_generation AFTER INSERT ON ledger_versions BEGIN UPDATE cache_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER ledger_versions_upd_generation AFTER UPDATE ON ledger_versions BEGIN UPDATE cache_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER ledger_versions_del_generation AFTER DELETE ON ledger_versions BEGIN UPDATE cache_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER bill_files_ins_generation AFTER INSERT ON bill_files BEGIN UPDATE cache_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER bill_files_upd_generation AFTER UPDATE ON bill_files BEGIN UPDATE cache_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER bill_files_del_generation AFTER DELETE ON bill_files BEGIN UPDATE cache_generation SET n = n + 1 WHERE id = 1; END;
