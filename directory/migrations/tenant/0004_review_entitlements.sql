-- Access reviews over every kind of entitlement (role, group, credential),
-- and the holds that keep a reviewed-away entitlement from coming back
-- through an automated feed.

ALTER TABLE review_items ADD COLUMN description TEXT;  -- what the entitlement is, for the reviewer

-- Which source recorded each credential, and when it was first recorded
-- with its current number.
ALTER TABLE credentials ADD COLUMN source TEXT;
ALTER TABLE credentials ADD COLUMN recorded_at TEXT;

-- An entitlement revoked by an access review. SCIM, HR and IdP feeds cannot
-- grant it again; an administrator's explicit grant lifts the hold.
CREATE TABLE review_holds (
    staff_id TEXT NOT NULL,
    kind TEXT NOT NULL,                -- role, group, credential
    entitlement TEXT NOT NULL,         -- role name, group id, credential kind
    campaign_id TEXT NOT NULL,
    item BIGINT NOT NULL,
    held_at TEXT NOT NULL,
    PRIMARY KEY (staff_id, kind, entitlement)
);
