-- Each signing key but the first carries the endorsement note by which the key
-- before it vouched for it; it is written with the key and never changed.
ALTER TABLE ledger_keys ADD COLUMN endorsement TEXT;
DROP TRIGGER ledger_keys_retire_only;
CREATE TRIGGER ledger_keys_retire_only BEFORE UPDATE ON ledger_keys
WHEN OLD.retired_at IS NOT NULL OR NEW.key_id IS NOT OLD.key_id OR NEW.vkey IS NOT OLD.vkey
     OR NEW.sealed_seed IS NOT OLD.sealed_seed OR NEW.created_at IS NOT OLD.created_at
     OR NEW.endorsement IS NOT OLD.endorsement
BEGIN SELECT RAISE(ABORT, 'ledger keys can only be retired'); END;

-- The latest checkpoint each witness cosigned: the signed note with the
-- witness's cosignature line.
CREATE TABLE ledger_cosignatures (
    witness      TEXT PRIMARY KEY,
    tree_size    INTEGER NOT NULL,
    cosigned_at  INTEGER NOT NULL,
    note         TEXT NOT NULL
);
