-- The console's product search (issue 16): name and SKU lower-cased in Rust
-- (`ProductSearch::key_of`), so the search agrees with the core's rule whatever this
-- database's locale. Rows written before this column are filled in by `migrate_write`.
ALTER TABLE commerce.products ADD COLUMN IF NOT EXISTS search_key text;
