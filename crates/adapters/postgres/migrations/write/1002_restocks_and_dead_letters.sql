-- Seller restocks bound for the inventory service as `stock.set` events: the last
-- restock number per product, so each restock gets the next one (1, 2, ...) and the
-- inventory applies them in order, once.
CREATE TABLE IF NOT EXISTS commerce.restocks (
    product_id   uuid PRIMARY KEY REFERENCES commerce.products (id),
    restock      bigint NOT NULL CHECK (restock > 0),
    on_hand      bigint NOT NULL CHECK (on_hand >= 0),
    requested_at timestamptz NOT NULL
);

-- Events a consumer reading the outbox (the in-process poller) could never handle,
-- with the reason, for an operator to look at.
CREATE TABLE IF NOT EXISTS commerce.dead_letters (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id   uuid NOT NULL,
    envelope   jsonb NOT NULL,
    reason     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
