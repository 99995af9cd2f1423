-- Federation, second factors and sessions. Times are Unix seconds (UTC).

CREATE TABLE idp_providers (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,                 -- oidc, saml
    config TEXT NOT NULL,               -- JSON, without secrets
    sealed_secret TEXT,                 -- base64: the OIDC client secret sealed under the master key
    updated_at BIGINT NOT NULL
);

CREATE TABLE identity_settings (
    id BIGINT PRIMARY KEY,              -- always 1
    settings TEXT NOT NULL,             -- JSON
    updated_at BIGINT NOT NULL
);

-- A login started at an IdP and not yet finished: one use, then gone.
CREATE TABLE login_attempts (
    state_hash TEXT PRIMARY KEY,        -- SHA-256 of the state value
    provider_id TEXT NOT NULL,
    nonce TEXT,
    pkce_verifier TEXT,
    saml_request_id TEXT,
    expires_at BIGINT NOT NULL
);

-- Assertion ids already accepted, kept until the assertion could no longer be valid.
CREATE TABLE saml_assertions_seen (
    assertion_id TEXT PRIMARY KEY,
    provider_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE mfa_enrolments (
    staff_id TEXT PRIMARY KEY,
    sealed_secret TEXT NOT NULL,
    confirmed_at BIGINT,
    last_step BIGINT NOT NULL,          -- the last time step whose code was used
    failures BIGINT NOT NULL,
    locked_until BIGINT,
    created_at BIGINT NOT NULL
);

CREATE TABLE mfa_recovery_codes (
    staff_id TEXT NOT NULL,
    code_hash TEXT NOT NULL,            -- SHA-256 of the code
    used_at BIGINT,
    PRIMARY KEY (staff_id, code_hash)
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL UNIQUE,   -- SHA-256 of the session secret
    staff_id TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    amr TEXT NOT NULL,                  -- JSON array of authentication methods
    stage TEXT NOT NULL,                -- mfa_pending, active
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoked_reason TEXT
);
CREATE INDEX sessions_by_staff ON sessions (staff_id);

CREATE TABLE token_keys (
    kid TEXT PRIMARY KEY,
    sealed_seed TEXT NOT NULL,          -- base64: the Ed25519 seed sealed under the master key
    public_key TEXT NOT NULL,           -- base64url of the 32-byte public key
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);
