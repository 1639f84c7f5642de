-- Each row names the transaction that last wrote it and when, so storefront replicas copy
-- the read model's changes in commit order (issue 19, PgReadModelFeed). xid8 never wraps.
-- Constant defaults first: existing rows take them without a table rewrite.
ALTER TABLE commerce_read.products ADD COLUMN IF NOT EXISTS change_xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE commerce_read.products ADD COLUMN IF NOT EXISTS changed_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE commerce_read.products ALTER COLUMN change_xid SET DEFAULT pg_current_xact_id();
CREATE INDEX IF NOT EXISTS read_products_changes ON commerce_read.products (change_xid, id);

ALTER TABLE commerce_read.collections ADD COLUMN IF NOT EXISTS change_xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE commerce_read.collections ALTER COLUMN change_xid SET DEFAULT pg_current_xact_id();
CREATE INDEX IF NOT EXISTS read_collections_changes ON commerce_read.collections (change_xid);
