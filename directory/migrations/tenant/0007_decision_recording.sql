-- How the tenant's PDP decisions are recorded in its audit ledger: answered
-- once their entries are durable (the default), or once queued for writing.
CREATE TABLE decision_recording (
    id BIGINT PRIMARY KEY,             -- always 1
    settings TEXT NOT NULL,            -- JSON: decisions
    updated_at TEXT NOT NULL
);
