-- The hash of the last signed checkpoint note, which the next checkpoint names
-- in its `previous` line; NULL until the first checkpoint of the chain.
ALTER TABLE ledger_head ADD COLUMN last_note BYTEA;
