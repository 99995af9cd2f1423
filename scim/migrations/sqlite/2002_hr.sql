-- Signed HR webhooks: secrets, received events (for idempotency and order),
-- what HR says of each employee, and the tenant's HR settings.

CREATE TABLE hr_secrets (
    id TEXT PRIMARY KEY,
    sealed TEXT NOT NULL,               -- base64 of the secret sealed under the master key
    created_at TEXT NOT NULL,
    valid_until TEXT                    -- set when a newer secret replaces it
);

CREATE TABLE hr_events (
    event_id TEXT PRIMARY KEY,
    event_type TEXT NOT NULL,
    employee_id TEXT NOT NULL,
    effective_at TEXT NOT NULL,
    received_at TEXT NOT NULL,
    outcome TEXT NOT NULL               -- applied, superseded
);
CREATE INDEX hr_events_by_employee ON hr_events (employee_id);

CREATE TABLE hr_employees (
    staff_id TEXT PRIMARY KEY REFERENCES staff (id),
    job_code TEXT,
    manager_id TEXT,
    status TEXT NOT NULL,               -- active, leave, terminated
    status_effective_at TEXT NOT NULL,
    assignment_effective_at TEXT NOT NULL
);

-- Per employee and credential kind: the effective time of the last update applied.
CREATE TABLE hr_credential_updates (
    staff_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    effective_at TEXT NOT NULL,
    PRIMARY KEY (staff_id, kind)
);

CREATE TABLE hr_settings (
    id BIGINT PRIMARY KEY,              -- always 1
    job_roles TEXT NOT NULL,            -- JSON array of {job_code, department?, roles}
    notify_url TEXT,
    updated_at TEXT NOT NULL
);
