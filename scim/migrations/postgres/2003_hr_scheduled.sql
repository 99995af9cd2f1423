-- HR events delivered before their effective time, kept until it comes; the
-- service applies each once, at that time.
CREATE TABLE hr_scheduled_events (
    event_id TEXT PRIMARY KEY,
    effective_at TEXT NOT NULL,
    body TEXT NOT NULL,                 -- the event as delivered (JSON)
    received_at TEXT NOT NULL
);
CREATE INDEX hr_scheduled_events_due ON hr_scheduled_events (effective_at);
