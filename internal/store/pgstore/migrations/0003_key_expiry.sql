-- When a key stops working (the end of key rotate's grace period); NULL
-- means never.
ALTER TABLE api_keys ADD COLUMN expires_at TIMESTAMPTZ;
