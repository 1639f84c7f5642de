-- Shipping methods and tax rates (issue 15): configuration read when an order is priced.
CREATE TABLE IF NOT EXISTS commerce.shipping_methods (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    body jsonb NOT NULL
);

-- One rate per country and collection, and one general rate (no collection) per country.
CREATE TABLE IF NOT EXISTS commerce.tax_rates (
    id uuid PRIMARY KEY,
    country char(2) NOT NULL,
    collection_id uuid,
    rate_bps integer NOT NULL CHECK (rate_bps BETWEEN 0 AND 10000),
    CONSTRAINT tax_rates_country_collection UNIQUE NULLS NOT DISTINCT (country, collection_id)
);
