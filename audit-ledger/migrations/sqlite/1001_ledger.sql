-- The audit ledger. Entries, tree nodes and checkpoints are append-only: the
-- triggers below refuse any UPDATE or DELETE.

CREATE TABLE ledger_entries (
    sequence     INTEGER PRIMARY KEY,
    recorded_at  INTEGER NOT NULL,
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
    prev_hash    BLOB NOT NULL,
    leaf_hash    BLOB NOT NULL
);
CREATE INDEX ledger_entries_time ON ledger_entries (recorded_at);
CREATE INDEX ledger_entries_actor ON ledger_entries (actor, sequence);
CREATE INDEX ledger_entries_subject ON ledger_entries (subject, sequence);
CREATE INDEX ledger_entries_patient ON ledger_entries (patient, sequence);

-- Hashes of perfect Merkle subtrees (level >= 1); leaves are in ledger_entries.
CREATE TABLE ledger_nodes (
    level  INTEGER NOT NULL,
    idx    INTEGER NOT NULL,
    hash   BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;

CREATE TABLE ledger_checkpoints (
    tree_size  INTEGER PRIMARY KEY,
    root_hash  BLOB NOT NULL,
    signed_at  INTEGER NOT NULL,
    key_id     TEXT NOT NULL,
    note       TEXT NOT NULL
);

-- The chain head: locked by every append so that appends serialise.
CREATE TABLE ledger_head (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    frontier   BLOB NOT NULL,
    last_leaf  BLOB NOT NULL
);
INSERT INTO ledger_head (id, frontier, last_leaf) VALUES (1, zeroblob(8), zeroblob(32));

-- Signing keys: the seed sealed under the master key. Only `retired_at` may be set, once.
CREATE TABLE ledger_keys (
    key_id       TEXT PRIMARY KEY,
    vkey         TEXT NOT NULL,
    sealed_seed  BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    retired_at   INTEGER
);

CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'the audit ledger is append-only'); END;
CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'the audit ledger is append-only'); END;
CREATE TRIGGER ledger_nodes_no_update BEFORE UPDATE ON ledger_nodes
BEGIN SELECT RAISE(ABORT, 'the audit ledger is append-only'); END;
CREATE TRIGGER ledger_nodes_no_delete BEFORE DELETE ON ledger_nodes
BEGIN SELECT RAISE(ABORT, 'the audit ledger is append-only'); END;
CREATE TRIGGER ledger_checkpoints_no_update BEFORE UPDATE ON ledger_checkpoints
BEGIN SELECT RAISE(ABORT, 'the audit ledger is append-only'); END;
CREATE TRIGGER ledger_checkpoints_no_delete BEFORE DELETE ON ledger_checkpoints
BEGIN SELECT RAISE(ABORT, 'the audit ledger is append-only'); END;
CREATE TRIGGER ledger_keys_no_delete BEFORE DELETE ON ledger_keys
BEGIN SELECT RAISE(ABORT, 'ledger keys are kept for verification'); END;
CREATE TRIGGER ledger_keys_retire_only BEFORE UPDATE ON ledger_keys
WHEN OLD.retired_at IS NOT NULL OR NEW.key_id IS NOT OLD.key_id OR NEW.vkey IS NOT OLD.vkey
     OR NEW.sealed_seed IS NOT OLD.sealed_seed OR NEW.created_at IS NOT OLD.created_at
BEGIN SELECT RAISE(ABORT, 'ledger keys can only be retired'); END;
