-- The products still without a search key (none once opening filled them): the filling
-- pass at every open finds them by this index instead of reading every product.
CREATE INDEX products_unkeyed ON products (id) WHERE search_key IS NULL;
