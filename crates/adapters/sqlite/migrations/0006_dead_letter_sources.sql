-- Dead letters from every consumer, listed, replayed and discarded in one place
-- (issue 18): `source` is `outbox` (the in-process poller) or a broker message's
-- `<topic>/<partition>/<offset>`, parked once; a message that does not decode keeps its
-- text in `payload` instead of an `envelope`. SQLite cannot drop NOT NULL in place.
CREATE TABLE dead_letters_v2 (
    id         INTEGER PRIMARY KEY,
    event_id   BLOB,
    envelope   TEXT,
    payload    TEXT,
    reason     TEXT NOT NULL,
    source     TEXT NOT NULL DEFAULT 'outbox',
    consumer   TEXT,
    created_us INTEGER NOT NULL,
    CHECK ((envelope IS NULL) <> (payload IS NULL))
) STRICT;
INSERT INTO dead_letters_v2 (id, event_id, envelope, reason, created_us)
    SELECT id, event_id, envelope, reason, created_us FROM dead_letters;
DROP TABLE dead_letters;
ALTER TABLE dead_letters_v2 RENAME TO dead_letters;
CREATE UNIQUE INDEX dead_letters_broker_source ON dead_letters (source) WHERE source <> 'outbox';
