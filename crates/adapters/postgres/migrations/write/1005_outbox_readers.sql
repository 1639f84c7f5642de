-- When each kind of outbox reader (relay, poller) last read: the outbox keeps a row until
-- every kind seen lately has handled it, and deletes it otherwise (issue 12).
CREATE TABLE IF NOT EXISTS commerce.outbox_readers (
    reader  text PRIMARY KEY,
    seen_at timestamptz NOT NULL
);
