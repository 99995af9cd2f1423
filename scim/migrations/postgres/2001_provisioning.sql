-- SCIM resources, groups and their role mapping, in each tenant's database.
-- SQLite and PostgreSQL differ only in the search index's collation (byte
-- order on both). Users are staff members (the SCIM id is the staff id); what
-- the PDP uses lives in the directory tables.

CREATE TABLE scim_resources (
    kind TEXT NOT NULL,                 -- User or Group
    id TEXT NOT NULL,
    unique_key TEXT NOT NULL,           -- lowercased userName or displayName
    external_id TEXT,
    document TEXT NOT NULL,             -- canonical JSON without id, meta, groups and members
    version BIGINT NOT NULL,            -- bumped on every change; the ETag
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE UNIQUE INDEX scim_resources_unique_key ON scim_resources (kind, unique_key);

-- Filter and sort index: one row per attribute value (comparison key), plus an
-- empty-valued marker row per complex value; `elem` numbers multi-valued elements.
CREATE TABLE scim_index (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    attr TEXT NOT NULL,
    elem BIGINT NOT NULL,
    value TEXT COLLATE "C" NOT NULL    -- byte order, as SQLite compares and Rust sorts
);
CREATE INDEX scim_index_lookup ON scim_index (kind, attr, value);
CREATE INDEX scim_index_resource ON scim_index (kind, id, attr, elem);

CREATE TABLE group_members (
    group_id TEXT NOT NULL,
    staff_id TEXT NOT NULL REFERENCES staff (id),
    added_at TEXT NOT NULL,
    PRIMARY KEY (group_id, staff_id)
);
CREATE INDEX group_members_by_staff ON group_members (staff_id);

-- HMS roles granted by membership of a group, keyed by the group's name.
CREATE TABLE group_roles (
    group_key TEXT PRIMARY KEY,         -- lowercased group displayName
    group_name TEXT NOT NULL,
    roles TEXT NOT NULL,                -- JSON array of role names
    updated_at TEXT NOT NULL
);
