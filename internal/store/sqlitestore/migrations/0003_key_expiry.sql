-- When a key stops working (the end of key rotate's grace period); NULL
-- means never. Written in one fixed-width UTC form
-- (2006-01-02T15:04:05.000000Z) so that text order is time order.
ALTER TABLE api_keys ADD COLUMN expires_at TEXT;
