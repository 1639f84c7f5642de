-- Customer messages (issue 15): one record per event, sent or dead-lettered, so a
-- redelivered event never sends a second message.
CREATE TABLE notifications (
    event_id   BLOB PRIMARY KEY,
    order_id   BLOB NOT NULL,
    kind       TEXT NOT NULL,
    message_id TEXT NOT NULL,
    outcome    TEXT NOT NULL CHECK (outcome IN ('sent', 'dead_lettered')),
    reason     TEXT,
    at_us      INTEGER NOT NULL
);

-- The embedded shop's notifier marks the outbox rows it handled, apart from the projector.
ALTER TABLE outbox ADD COLUMN notified INTEGER NOT NULL DEFAULT 0;
CREATE INDEX outbox_unnotified ON outbox (position) WHERE NOT notified;
