-- One tenant's directory, API clients and policy versions.
-- The same SQL serves SQLite and PostgreSQL: BIGINT has integer affinity in SQLite.
-- Flags are 0/1 integers and times RFC 3339 text, identically on every backend.

CREATE TABLE staff (
    id TEXT PRIMARY KEY,
    given_name TEXT NOT NULL,
    family_name TEXT NOT NULL,
    display_name TEXT NOT NULL,
    emails TEXT NOT NULL,              -- JSON array of strings
    active BIGINT NOT NULL,
    department TEXT,
    location TEXT,
    allowed_locations TEXT,            -- JSON array; NULL means unrestricted
    shift_start_hour BIGINT,
    shift_end_hour BIGINT,
    updated_at TEXT NOT NULL
);

CREATE TABLE staff_roles (
    staff_id TEXT NOT NULL REFERENCES staff (id),
    role TEXT NOT NULL,
    source TEXT NOT NULL,              -- admin, scim, hr, idp, review
    granted_at TEXT NOT NULL,
    PRIMARY KEY (staff_id, role)
);

CREATE TABLE credentials (
    staff_id TEXT NOT NULL REFERENCES staff (id),
    kind TEXT NOT NULL,                -- e.g. nursing_licence
    number TEXT NOT NULL,
    status TEXT NOT NULL,              -- active, suspended, revoked, lapsed
    expires_at TEXT NOT NULL,
    PRIMARY KEY (staff_id, kind)
);

CREATE TABLE patients (
    id TEXT PRIMARY KEY,
    vip BIGINT NOT NULL,
    confidential BIGINT NOT NULL,
    consent_restricted BIGINT NOT NULL,
    consent_denied_staff TEXT NOT NULL, -- JSON array of staff ids
    updated_at TEXT NOT NULL
);

CREATE TABLE encounters (
    id TEXT PRIMARY KEY,
    patient_id TEXT NOT NULL REFERENCES patients (id),
    department TEXT NOT NULL,
    active BIGINT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX encounters_by_patient ON encounters (patient_id);

CREATE TABLE care_team (
    patient_id TEXT NOT NULL REFERENCES patients (id),
    staff_id TEXT NOT NULL,
    PRIMARY KEY (patient_id, staff_id)
);

CREATE TABLE api_clients (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL,         -- argon2id PHC string; the secret itself is never stored
    scopes TEXT NOT NULL,              -- JSON array: pdp, admin
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

CREATE TABLE policy_versions (
    version BIGINT PRIMARY KEY,
    source TEXT NOT NULL,              -- JSON: schema, policy files, options
    author TEXT NOT NULL,
    comment TEXT NOT NULL,
    created_at TEXT NOT NULL
);
