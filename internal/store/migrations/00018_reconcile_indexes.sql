-- Indexes of the reconciler (docs/adr/0007-reconciler.md): it looks for deliveries in transit by
-- their last change, and for the outbox rows of a delivery.

-- +goose Up
CREATE INDEX deliveries_in_transit ON deliveries (updated_at) WHERE status IN ('accepted', 'queued');
CREATE INDEX outbox_delivery ON outbox (delivery_id);

-- +goose Down
DROP INDEX outbox_delivery;
DROP INDEX deliveries_in_transit;
