-- Per-authority isolation: an authority's own delivery concurrency (consumer
-- prefetch and parallel sends) and request timeout. NULL means the hub's configured default
-- (delivery.concurrency, delivery.request_timeout), so existing entries keep today's behaviour.
-- The registry's writes name their columns and leave these as they are.

-- +goose Up
ALTER TABLE authorities
    ADD COLUMN concurrency        int CHECK (concurrency IS NULL OR concurrency BETWEEN 1 AND 65535),
    ADD COLUMN request_timeout_ms int CHECK (request_timeout_ms IS NULL OR request_timeout_ms > 0);

-- +goose Down
ALTER TABLE authorities
    DROP COLUMN request_timeout_ms,
    DROP COLUMN concurrency;
