-- What every node serving the tenant holds in memory and must re-read after a
-- change made elsewhere (policies, directory entities, API clients, settings,
-- signing keys, sessions). A change bumps the counter and lists what it
-- touched in its own transaction; nodes read the feed past what they applied.
CREATE TABLE change_counter (
    id BIGINT PRIMARY KEY,              -- always 1
    seq BIGINT NOT NULL
);
INSERT INTO change_counter (id, seq) VALUES (1, 0);

CREATE TABLE change_feed (
    seq BIGINT NOT NULL,
    topic TEXT NOT NULL,
    subject TEXT NOT NULL,              -- the record touched, or '' for the whole topic
    node TEXT NOT NULL,                 -- the node that made the change (it applied it already)
    recorded_at BIGINT NOT NULL,        -- Unix seconds, for pruning
    PRIMARY KEY (seq, topic, subject)
);
