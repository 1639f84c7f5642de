-- The console's product search (issue 16): name and SKU lower-cased in Rust
-- (`ProductSearch::key_of`); SQLite's lower() folds ASCII only. Rows written before
-- this column are filled in when the database is opened.
ALTER TABLE products ADD COLUMN search_key TEXT;
