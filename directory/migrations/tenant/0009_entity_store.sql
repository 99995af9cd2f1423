-- Entities of the tenant's own schema beyond the directory's HMS types (wards,
-- beds, orders, devices, documents...), in Cedar's JSON entity form. Every
-- write of a batch carries the batch's revision; a delete keeps a tombstone,
-- so a node catching up reads what changed past the revision it holds.
CREATE TABLE entity_store_revision (
    id BIGINT PRIMARY KEY,              -- always 1
    revision BIGINT NOT NULL
);
INSERT INTO entity_store_revision (id, revision) VALUES (1, 0);

CREATE TABLE stored_entities (
    entity_type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    body TEXT NOT NULL,                 -- {"attrs": {...}, "parents": [...]}; '' once deleted
    version BIGINT NOT NULL,            -- 1 when created, one more at every change (a delete too)
    revision BIGINT NOT NULL,           -- the batch that last changed it
    deleted BIGINT NOT NULL,            -- 0 or 1
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (entity_type, entity_id)
);
CREATE INDEX stored_entities_by_revision ON stored_entities (revision);
