-- The audit ledger. Entries, tree nodes and checkpoints are append-only: the
-- triggers below refuse any UPDATE, DELETE or TRUNCATE.

CREATE TABLE ledger_entries (
    sequence     BIGINT PRIMARY KEY,
    recorded_at  BIGINT NOT NULL,
    kind         TEXT NOT NULL,
    actor        TEXT,
    subject      TEXT,
    patient      TEXT,
    action       TEXT,
    resource     TEXT,
    outcome      TEXT,
    policies     TEXT NOT NULL,
    request_id   TEXT,
    decision_id  TEXT,
    source_ip    TEXT,
    user_agent   TEXT,
    details      TEXT NOT NULL,
    prev_hash    BYTEA NOT NULL,
    leaf_hash    BYTEA NOT NULL
);
CREATE INDEX ledger_entries_time ON ledger_entries (recorded_at);
CREATE INDEX ledger_entries_actor ON ledger_entries (actor, sequence);
CREATE INDEX ledger_entries_subject ON ledger_entries (subject, sequence);
CREATE INDEX ledger_entries_patient ON ledger_entries (patient, sequence);

-- Hashes of perfect Merkle subtrees (level >= 1); leaves are in ledger_entries.
CREATE TABLE ledger_nodes (
    level  BIGINT NOT NULL,
    idx    BIGINT NOT NULL,
    hash   BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE TABLE ledger_checkpoints (
    tree_size  BIGINT PRIMARY KEY,
    root_hash  BYTEA NOT NULL,
    signed_at  BIGINT NOT NULL,
    key_id     TEXT NOT NULL,
    note       TEXT NOT NULL
);

-- The chain head: locked by every append so that appends serialise across nodes.
CREATE TABLE ledger_head (
    id         BIGINT PRIMARY KEY CHECK (id = 1),
    frontier   BYTEA NOT NULL,
    last_leaf  BYTEA NOT NULL
);
INSERT INTO ledger_head (id, frontier, last_leaf)
VALUES (1, '\x0000000000000000'::bytea, decode(repeat('00', 32), 'hex'));

-- Signing keys: the seed sealed under the master key. Only `retired_at` may be set, once.
CREATE TABLE ledger_keys (
    key_id       TEXT PRIMARY KEY,
    vkey         TEXT NOT NULL,
    sealed_seed  BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    retired_at   BIGINT
);

CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit ledger is append-only (% on %)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE FUNCTION ledger_keys_retire_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.retired_at IS NOT NULL OR NEW.key_id IS DISTINCT FROM OLD.key_id
       OR NEW.vkey IS DISTINCT FROM OLD.vkey OR NEW.sealed_seed IS DISTINCT FROM OLD.sealed_seed
       OR NEW.created_at IS DISTINCT FROM OLD.created_at THEN
        RAISE EXCEPTION 'ledger keys can only be retired' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_nodes_append_only BEFORE UPDATE OR DELETE ON ledger_nodes
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_nodes_no_truncate BEFORE TRUNCATE ON ledger_nodes
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_checkpoints_append_only BEFORE UPDATE OR DELETE ON ledger_checkpoints
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_checkpoints_no_truncate BEFORE TRUNCATE ON ledger_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_keys_no_delete BEFORE DELETE ON ledger_keys
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_keys_no_truncate BEFORE TRUNCATE ON ledger_keys
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_keys_retire BEFORE UPDATE ON ledger_keys
    FOR EACH ROW EXECUTE FUNCTION ledger_keys_retire_only();
