-- A deleted collection leaves a tombstone (version = max bigint), so a replayed
-- collection.created or collection.updated can never bring it back (issue 12).
ALTER TABLE commerce_read.collections ADD COLUMN IF NOT EXISTS deleted boolean NOT NULL DEFAULT false;
