-- The catalog: which tenants exist. Each tenant's data lives in its own database.
CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    -- Offset of the tenant's local time from UTC, for shift rules.
    utc_offset_minutes INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
