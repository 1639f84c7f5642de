-- The write model: catalog, stock, orders, idempotency keys and the transactional outbox.
CREATE SCHEMA IF NOT EXISTS commerce;

CREATE TABLE IF NOT EXISTS commerce.collections (
    id          uuid PRIMARY KEY,
    slug        text NOT NULL UNIQUE,
    name        text NOT NULL,
    version     bigint NOT NULL,
    body        jsonb NOT NULL
);

CREATE TABLE IF NOT EXISTS commerce.products (
    id            uuid PRIMARY KEY,
    sku           text NOT NULL UNIQUE,
    collection_id uuid REFERENCES commerce.collections (id),
    status        text NOT NULL,
    version       bigint NOT NULL,
    body          jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS products_collection ON commerce.products (collection_id) WHERE collection_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS commerce.stock (
    product_id uuid PRIMARY KEY,
    on_hand    bigint NOT NULL CHECK (on_hand >= 0),
    reserved   bigint NOT NULL CHECK (reserved >= 0 AND reserved <= on_hand),
    version    bigint NOT NULL
);

CREATE TABLE IF NOT EXISTS commerce.reservations (
    id         uuid PRIMARY KEY,
    active     boolean NOT NULL,
    expires_at timestamptz NOT NULL,
    body       jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS reservations_due ON commerce.reservations (expires_at, id) WHERE active;

CREATE TABLE IF NOT EXISTS commerce.orders (
    id         uuid PRIMARY KEY,
    status     text NOT NULL,
    settled    boolean NOT NULL,  -- the saga has nothing left to do
    version    bigint NOT NULL,
    updated_at timestamptz NOT NULL,
    body       jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_status ON commerce.orders (status, id DESC);
CREATE INDEX IF NOT EXISTS orders_stalled ON commerce.orders (updated_at, id) WHERE NOT settled;

CREATE TABLE IF NOT EXISTS commerce.idempotency_keys (
    key             text PRIMARY KEY,
    request_hash    text NOT NULL,
    completed       boolean NOT NULL DEFAULT false,
    response_status integer,
    response_body   bytea,
    locked_at       timestamptz NOT NULL,
    created_at      timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS idempotency_keys_created ON commerce.idempotency_keys (created_at);

-- Every event, written in the transaction of the change that caused it.
-- published_at: relayed to a broker; projected_at: applied by the in-process poller.
CREATE TABLE IF NOT EXISTS commerce.outbox (
    position          bigserial PRIMARY KEY,
    event_id          uuid NOT NULL UNIQUE,
    aggregate_type    text NOT NULL,
    aggregate_id      uuid NOT NULL,
    aggregate_version bigint NOT NULL,
    envelope          jsonb NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    claimed_until     timestamptz,
    published_at      timestamptz,
    projected_at      timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON commerce.outbox (position) WHERE published_at IS NULL;
CREATE INDEX IF NOT EXISTS outbox_unprojected ON commerce.outbox (position) WHERE projected_at IS NULL;
