-- Each signing key but the first carries the endorsement note by which the key
-- before it vouched for it; it is written with the key and never changed.
ALTER TABLE ledger_keys ADD COLUMN endorsement TEXT;
CREATE OR REPLACE FUNCTION ledger_keys_retire_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.retired_at IS NOT NULL OR NEW.key_id IS DISTINCT FROM OLD.key_id
       OR NEW.vkey IS DISTINCT FROM OLD.vkey OR NEW.sealed_seed IS DISTINCT FROM OLD.sealed_seed
       OR NEW.created_at IS DISTINCT FROM OLD.created_at
       OR NEW.endorsement IS DISTINCT FROM OLD.endorsement THEN
        RAISE EXCEPTION 'ledger keys can only be retired' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;

-- The latest checkpoint each witness cosigned: the signed note with the
-- witness's cosignature line.
CREATE TABLE ledger_cosignatures (
    witness      TEXT PRIMARY KEY,
    tree_size    BIGINT NOT NULL,
    cosigned_at  BIGINT NOT NULL,
    note         TEXT NOT NULL
);
