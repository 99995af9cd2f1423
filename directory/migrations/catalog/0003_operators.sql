-- Platform operators: credentials outside every tenant, for creating,
-- listing and suspending tenants. Only a digest of each secret is kept.
CREATE TABLE operator_credentials (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

-- A suspended tenant refuses every request until it is resumed.
ALTER TABLE tenants ADD COLUMN suspended_at TEXT;
ALTER TABLE tenants ADD COLUMN suspended_reason TEXT;
