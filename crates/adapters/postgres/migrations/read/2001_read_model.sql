-- The storefront read model, fed only by events. It may live in another database.
CREATE SCHEMA IF NOT EXISTS commerce_read;

CREATE TABLE IF NOT EXISTS commerce_read.products (
    id              uuid PRIMARY KEY,
    status          text NOT NULL,
    price_amount    bigint NOT NULL,
    name_key        text COLLATE "C" NOT NULL,  -- lower-cased in Rust: byte order equals the reference evaluator's
    created_us      bigint NOT NULL,            -- microseconds, exact like the keyset cursor
    available_stock bigint NOT NULL,
    collection_id   uuid,
    attributes      jsonb NOT NULL,
    search          tsvector NOT NULL,          -- tokens computed in Rust, prefix-matched
    product_version bigint NOT NULL,
    stock_version   bigint NOT NULL,
    view            jsonb NOT NULL
);
-- One index per sort order (ties broken by id), on listable rows only.
CREATE INDEX IF NOT EXISTS read_products_price  ON commerce_read.products (price_amount, id) WHERE status = 'active';
CREATE INDEX IF NOT EXISTS read_products_name   ON commerce_read.products (name_key, id) WHERE status = 'active';
CREATE INDEX IF NOT EXISTS read_products_newest ON commerce_read.products (created_us, id) WHERE status = 'active';
CREATE INDEX IF NOT EXISTS read_products_stock  ON commerce_read.products (available_stock, id) WHERE status = 'active';
CREATE INDEX IF NOT EXISTS read_products_collection ON commerce_read.products (collection_id, price_amount, id) WHERE status = 'active';
CREATE INDEX IF NOT EXISTS read_products_search ON commerce_read.products USING gin (search) WHERE status = 'active';
CREATE INDEX IF NOT EXISTS read_products_attributes ON commerce_read.products USING gin (attributes jsonb_path_ops) WHERE status = 'active';

-- Stock that arrived before its product.
CREATE TABLE IF NOT EXISTS commerce_read.stock (
    product_id uuid PRIMARY KEY,
    available  bigint NOT NULL,
    version    bigint NOT NULL
);

CREATE TABLE IF NOT EXISTS commerce_read.collections (
    id      uuid PRIMARY KEY,
    name    text NOT NULL,
    version bigint NOT NULL,
    body    jsonb NOT NULL
);
