-- Messages the hub took from the broker's sink queues (hub.dead, hub.unroutable) and could not
-- account for as a delivery in transit: kept here, whole, for operators (docs/adr/0008-sink-queues.md).

-- +goose Up
CREATE TABLE sink_letters (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sink         text        NOT NULL CHECK (sink IN ('dead', 'unroutable')),
    -- why the broker put it there (x-first-death-reason: rejected, delivery_limit, expired…), if it said
    reason       text        NOT NULL DEFAULT '',
    -- the queue it was dead-lettered from (x-first-death-queue), if any
    source_queue text        NOT NULL DEFAULT '',
    routing_key  text        NOT NULL DEFAULT '',
    message_id   text        NOT NULL DEFAULT '',
    -- why the hub kept it instead of sending a delivery again
    note         text        NOT NULL DEFAULT '',
    headers      jsonb       NOT NULL DEFAULT '{}',
    body         bytea       NOT NULL,
    received_at  timestamptz NOT NULL
);
CREATE INDEX sink_letters_received ON sink_letters (received_at);

-- +goose Down
DROP TABLE sink_letters;
