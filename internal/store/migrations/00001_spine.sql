-- The spine of the hub: API clients, the authorities that receive, cases (appeals), one delivery per
-- case and recipient, the timeline of events, and the transactional outbox the relay publishes.

-- +goose Up
CREATE TABLE api_clients (
    id             text PRIMARY KEY,
    kind           text NOT NULL CHECK (kind IN ('portal', 'authority', 'operator')),
    authority_code text,
    token_sha256   bytea NOT NULL UNIQUE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    disabled_at    timestamptz
);

CREATE TABLE authorities (
    code       text PRIMARY KEY CHECK (code ~ '^[0-9]{8}$'),
    name       text NOT NULL,
    adapter    text NOT NULL,
    endpoint   text NOT NULL DEFAULT '',
    token      text NOT NULL DEFAULT '',
    status     text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'closed')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE SEQUENCE tracking_seq;

CREATE TABLE appeals (
    id              uuid PRIMARY KEY,
    tracking_number text NOT NULL UNIQUE,
    client_id       text NOT NULL REFERENCES api_clients (id),
    idempotency_key text NOT NULL,
    request_sha256  bytea NOT NULL,
    case_kind       text NOT NULL,
    appeal_kind     text,
    body            bytea NOT NULL,
    trace_parent    text NOT NULL DEFAULT '',
    received_at     timestamptz NOT NULL,
    UNIQUE (client_id, idempotency_key)
);

CREATE TABLE deliveries (
    id              uuid PRIMARY KEY,
    appeal_id       uuid NOT NULL REFERENCES appeals (id),
    authority_code  text NOT NULL REFERENCES authorities (code),
    status          text NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    last_error      text NOT NULL DEFAULT '',
    reference       text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    sent_at         timestamptz,
    delivered_at    timestamptz,
    UNIQUE (appeal_id, authority_code)
);
CREATE INDEX deliveries_authority_status ON deliveries (authority_code, status);

CREATE TABLE events (
    seq         bigserial PRIMARY KEY,
    appeal_id   uuid NOT NULL REFERENCES appeals (id),
    delivery_id uuid REFERENCES deliveries (id),
    type        text NOT NULL,
    status      text NOT NULL DEFAULT '',
    detail      text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL
);
CREATE INDEX events_appeal ON events (appeal_id, seq);

CREATE TABLE outbox (
    id               bigserial PRIMARY KEY,
    delivery_id      uuid NOT NULL REFERENCES deliveries (id),
    routing_key      text NOT NULL,
    attempt          integer NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'published')),
    available_at     timestamptz NOT NULL,
    created_at       timestamptz NOT NULL,
    published_at     timestamptz,
    publish_failures integer NOT NULL DEFAULT 0,
    last_error       text NOT NULL DEFAULT ''
);
CREATE INDEX outbox_pending ON outbox (available_at, id) WHERE status = 'pending';
CREATE INDEX outbox_published ON outbox (published_at) WHERE status = 'published';

-- Wake the relays of this schema when outbox rows are committed.
-- +goose StatementBegin
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('appealhub_outbox_' || current_schema(), '');
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- +goose Down
DROP TRIGGER outbox_notify ON outbox;
DROP FUNCTION outbox_notify();
DROP TABLE outbox;
DROP TABLE events;
DROP TABLE deliveries;
DROP TABLE appeals;
DROP SEQUENCE tracking_seq;
DROP TABLE authorities;
DROP TABLE api_clients;
