-- Recovery leases: a recovery job claims a stalled order until this time, so the jobs of
-- several orders-service replicas never drive one order at once (issue 12).
ALTER TABLE commerce.orders ADD COLUMN IF NOT EXISTS recovery_lease_until timestamptz;
