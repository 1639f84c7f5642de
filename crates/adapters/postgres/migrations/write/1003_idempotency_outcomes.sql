-- Idempotency keys hold a domain outcome (JSON) instead of an HTTP response, and are
-- indexed by the SHA-256 (hex) of the client's key instead of the key itself.
ALTER TABLE commerce.idempotency_keys ADD COLUMN IF NOT EXISTS outcome jsonb;

-- Keys recorded before: index them by digest as well. Their request_hash (a plain hash of
-- the request body) never equals a fingerprint of this version, so a retry of such a key
-- is refused as a different request (422) and can never execute a second time.
UPDATE commerce.idempotency_keys SET key = encode(sha256(convert_to(key, 'UTF8')), 'hex');

ALTER TABLE commerce.idempotency_keys DROP COLUMN IF EXISTS response_status;
ALTER TABLE commerce.idempotency_keys DROP COLUMN IF EXISTS response_body;
