-- The catalog: which tenants exist. Each tenant's data lives in its own database.
-- The same SQL serves SQLite and PostgreSQL: BIGINT has integer affinity in SQLite.
CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    -- Offset of the tenant's local time from UTC, for shift rules.
    utc_offset_minutes BIGINT NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
