-- Routing decisions are explained: each delivery keeps the rule that chose its
-- authority (router/recipient: explicit, topic_territory, parent_fallback, complaint_parent) and a
-- human sentence saying why. Deliveries made before routing existed keep '' in both.

-- +goose Up
ALTER TABLE deliveries
    ADD COLUMN routing_rule   text NOT NULL DEFAULT '',
    ADD COLUMN routing_reason text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE deliveries
    DROP COLUMN routing_reason,
    DROP COLUMN routing_rule;
