-- When each tenant next has scheduled work (a future-dated HR event, a
-- review campaign's due date), so that the scheduler opens only the tenants
-- that have some. NULL: not known yet (checked once). wake_rev counts the
-- writes, so the scheduler's update never hides one made meanwhile.
ALTER TABLE tenants ADD COLUMN wake_at BIGINT;
ALTER TABLE tenants ADD COLUMN wake_rev BIGINT NOT NULL DEFAULT 0;
