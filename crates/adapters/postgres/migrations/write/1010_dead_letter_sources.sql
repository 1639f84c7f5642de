-- Dead letters from every consumer (issue 18). The broker's dead-letter topic is
-- collected here too, so an operator lists, replays and discards them in one place:
-- `source` is `outbox` (the in-process poller) or `<topic>/<partition>/<offset>`,
-- parked once; a message that does not decode keeps its text in `payload` instead of
-- an `envelope`.
ALTER TABLE commerce.dead_letters ALTER COLUMN event_id DROP NOT NULL;
ALTER TABLE commerce.dead_letters ALTER COLUMN envelope DROP NOT NULL;
ALTER TABLE commerce.dead_letters ADD COLUMN IF NOT EXISTS source text NOT NULL DEFAULT 'outbox';
ALTER TABLE commerce.dead_letters ADD COLUMN IF NOT EXISTS consumer text;
ALTER TABLE commerce.dead_letters ADD COLUMN IF NOT EXISTS payload text;
ALTER TABLE commerce.dead_letters ADD CONSTRAINT dead_letters_event_or_payload
    CHECK ((envelope IS NULL) <> (payload IS NULL));
CREATE UNIQUE INDEX IF NOT EXISTS dead_letters_broker_source ON commerce.dead_letters (source)
    WHERE source <> 'outbox';
