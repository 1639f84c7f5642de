-- Customer messages (issue 15): one record per event, sent or dead-lettered, so a
-- redelivered event never sends a second message.
CREATE TABLE IF NOT EXISTS commerce.notifications (
    event_id uuid PRIMARY KEY,
    order_id uuid NOT NULL,
    kind text NOT NULL,
    message_id text NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('sent', 'dead_lettered')),
    reason text,
    at timestamptz NOT NULL
);

-- The outbox poller of the notifications service (where no broker runs) marks the rows it
-- handled here, apart from the projector's `projected_at`.
ALTER TABLE commerce.outbox ADD COLUMN IF NOT EXISTS notified_at timestamptz;
CREATE INDEX IF NOT EXISTS outbox_unnotified ON commerce.outbox (position) WHERE notified_at IS NULL;
