-- The whole shop in one SQLite file: the write model with its transactional outbox, and the
-- storefront read model fed from that outbox. Ids are 16-byte BLOBs (byte order is uuid
-- order), times are INTEGER microseconds since the epoch, aggregates are JSON TEXT.

CREATE TABLE collections (
    id      BLOB PRIMARY KEY,
    slug    TEXT NOT NULL UNIQUE,
    name    TEXT NOT NULL,
    version INTEGER NOT NULL,
    body    TEXT NOT NULL
) STRICT;

CREATE TABLE products (
    id            BLOB PRIMARY KEY,
    sku           TEXT NOT NULL UNIQUE,
    collection_id BLOB REFERENCES collections (id),
    status        TEXT NOT NULL,
    version       INTEGER NOT NULL,
    body          TEXT NOT NULL
) STRICT;
CREATE INDEX products_collection ON products (collection_id) WHERE collection_id IS NOT NULL;

-- The last restock number per product (see the PostgreSQL schema).
CREATE TABLE restocks (
    product_id   BLOB PRIMARY KEY REFERENCES products (id),
    restock      INTEGER NOT NULL CHECK (restock > 0),
    on_hand      INTEGER NOT NULL CHECK (on_hand >= 0),
    requested_us INTEGER NOT NULL
) STRICT;

CREATE TABLE stock (
    product_id BLOB PRIMARY KEY,
    on_hand    INTEGER NOT NULL CHECK (on_hand >= 0),
    reserved   INTEGER NOT NULL CHECK (reserved >= 0 AND reserved <= on_hand),
    version    INTEGER NOT NULL
) STRICT;

CREATE TABLE reservations (
    id         BLOB PRIMARY KEY,
    active     INTEGER NOT NULL,
    expires_us INTEGER NOT NULL,
    body       TEXT NOT NULL
) STRICT;
CREATE INDEX reservations_due ON reservations (expires_us, id) WHERE active;

CREATE TABLE orders (
    id                 BLOB PRIMARY KEY,
    status             TEXT NOT NULL,
    settled            INTEGER NOT NULL,  -- the saga has nothing left to do
    version            INTEGER NOT NULL,
    updated_us         INTEGER NOT NULL,
    recovery_lease_us  INTEGER,
    body               TEXT NOT NULL
) STRICT;
CREATE INDEX orders_status ON orders (status, id DESC);
CREATE INDEX orders_stalled ON orders (updated_us, id) WHERE NOT settled;

CREATE TABLE idempotency_keys (
    key         TEXT PRIMARY KEY,  -- SHA-256 (hex) of the client's key
    fingerprint TEXT NOT NULL,
    completed   INTEGER NOT NULL DEFAULT 0,
    outcome     TEXT,
    locked_us   INTEGER NOT NULL,
    created_us  INTEGER NOT NULL
) STRICT;
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_us);

-- Every event, written in the transaction of the change that caused it. `projected`: applied
-- by the in-process poller; `published_us`: relayed (a relay is optional).
CREATE TABLE outbox (
    position          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id          BLOB NOT NULL UNIQUE,
    aggregate_type    TEXT NOT NULL,
    aggregate_id      BLOB NOT NULL,
    aggregate_version INTEGER NOT NULL,
    envelope          TEXT NOT NULL,
    created_us        INTEGER NOT NULL,
    claimed_until_us  INTEGER,
    published_us      INTEGER,
    projected         INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX outbox_unprojected ON outbox (position) WHERE NOT projected;
CREATE INDEX outbox_unpublished ON outbox (position) WHERE published_us IS NULL;

-- When a relay last read: rows wait for it to publish them only while one is around.
CREATE TABLE outbox_readers (
    reader  TEXT PRIMARY KEY,
    seen_us INTEGER NOT NULL
) STRICT;

CREATE TABLE dead_letters (
    id         INTEGER PRIMARY KEY,
    event_id   BLOB NOT NULL,
    envelope   TEXT NOT NULL,
    reason     TEXT NOT NULL,
    created_us INTEGER NOT NULL
) STRICT;

-- The storefront read model. `seq` is the row's stable integer key (the FTS5 rowid).
CREATE TABLE read_products (
    seq             INTEGER PRIMARY KEY,
    id              BLOB NOT NULL UNIQUE,
    status          TEXT NOT NULL,
    price_amount    INTEGER NOT NULL,
    name_key        TEXT NOT NULL,  -- lower-cased in Rust; BINARY collation is byte order
    created_us      INTEGER NOT NULL,
    available_stock INTEGER NOT NULL,
    collection_id   BLOB,
    product_version INTEGER NOT NULL,
    stock_version   INTEGER NOT NULL,
    view            TEXT NOT NULL
) STRICT;
-- One index per sort order (ties broken by id), on listable rows only. The filter columns
-- ride along, so a walk of the sort index checks them without reading the row.
CREATE INDEX read_products_price ON read_products (price_amount, id, available_stock, collection_id) WHERE status = 'active';
CREATE INDEX read_products_name ON read_products (name_key, id, price_amount, available_stock, collection_id) WHERE status = 'active';
CREATE INDEX read_products_newest ON read_products (created_us, id, price_amount, available_stock, collection_id) WHERE status = 'active';
CREATE INDEX read_products_stock ON read_products (available_stock, id, price_amount, collection_id) WHERE status = 'active';
CREATE INDEX read_products_collection ON read_products (collection_id, price_amount, id, available_stock) WHERE status = 'active';

-- Attribute pairs of each product, for filters (one index probe per pair) and facets.
CREATE TABLE read_attributes (
    product_seq INTEGER NOT NULL REFERENCES read_products (seq) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    value       TEXT NOT NULL,
    PRIMARY KEY (name, value, product_seq)
) STRICT, WITHOUT ROWID;
CREATE INDEX read_attributes_product ON read_attributes (product_seq);

-- Search tokens (computed in Rust, lower-case, alphanumeric), prefix-matched. The `ascii`
-- tokenizer splits only on ASCII punctuation and spaces, so each token stays whole.
CREATE VIRTUAL TABLE read_search USING fts5 (tokens, tokenize = 'ascii', prefix = '1 2 3');

-- Stock that arrived before its product.
CREATE TABLE read_stock (
    product_id BLOB PRIMARY KEY,
    available  INTEGER NOT NULL,
    version    INTEGER NOT NULL
) STRICT;

-- Collections; a deleted one leaves a tombstone that no replayed event can revive.
CREATE TABLE read_collections (
    id      BLOB PRIMARY KEY,
    name    TEXT NOT NULL,
    version INTEGER NOT NULL,
    body    TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Settings the shop keeps with its data, such as the idempotency secret it generated on
-- first start: a retry after a restart (or on a restored backup) fingerprints alike.
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
