-- The tenant's access-review rules: what undecided items become at close and
-- when revocations take effect, for campaigns that do not say otherwise.
CREATE TABLE review_settings (
    id BIGINT PRIMARY KEY,             -- always 1
    settings TEXT NOT NULL,            -- JSON: overdue, apply_mode
    updated_at TEXT NOT NULL
);
