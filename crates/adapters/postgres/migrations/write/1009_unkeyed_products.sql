-- The products still without a search key (none once `migrate_write` filled them): the
-- filling pass at every start finds them by this index instead of reading every product.
CREATE INDEX IF NOT EXISTS products_unkeyed ON commerce.products (id) WHERE search_key IS NULL;
