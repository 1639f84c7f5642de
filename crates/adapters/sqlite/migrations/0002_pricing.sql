-- Shipping methods and tax rates (issue 15): configuration read when an order is priced.
CREATE TABLE shipping_methods (
    id   BLOB PRIMARY KEY,
    name TEXT NOT NULL,
    body TEXT NOT NULL
) STRICT;

CREATE TABLE tax_rates (
    id            BLOB PRIMARY KEY,
    country       TEXT NOT NULL,
    collection_id BLOB,
    rate_bps      INTEGER NOT NULL CHECK (rate_bps BETWEEN 0 AND 10000)
) STRICT;

-- One rate per country and collection, and one general rate (no collection) per country.
CREATE UNIQUE INDEX tax_rates_country_collection ON tax_rates (country, ifnull(collection_id, x''));
