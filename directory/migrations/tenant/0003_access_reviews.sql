-- Access reviews: campaigns in which reviewers certify or revoke each
-- person's entitlements, and every item's outcome.

CREATE TABLE review_campaigns (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    scope TEXT NOT NULL,               -- JSON: departments, roles, staff (all empty: the whole tenant)
    due_at TEXT NOT NULL,
    overdue TEXT NOT NULL,             -- what undecided items become at close: escalate, revoke
    apply_mode TEXT NOT NULL,          -- when revocations take effect: on_close, immediate
    fallback_reviewer TEXT,            -- reviews people without a manager; receives escalations
    status TEXT NOT NULL,              -- open, closed
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    closed_at TEXT
);

CREATE TABLE review_items (
    campaign_id TEXT NOT NULL REFERENCES review_campaigns (id),
    item BIGINT NOT NULL,
    staff_id TEXT NOT NULL,
    kind TEXT NOT NULL,                -- role
    entitlement TEXT NOT NULL,         -- the role's name
    granted_by TEXT NOT NULL,          -- admin, scim, hr, idp
    granted_at TEXT NOT NULL,
    last_used_at TEXT,                 -- last permitted decision a grant of this role determined
    reviewer TEXT NOT NULL,
    outcome TEXT NOT NULL,             -- pending, certified, revoked, escalated
    comment TEXT,
    decided_by TEXT,
    decided_at TEXT,
    applied_at TEXT,                   -- when a revocation was applied to the directory
    PRIMARY KEY (campaign_id, item)
);
CREATE INDEX review_items_by_reviewer ON review_items (reviewer, outcome);
