-- Portal notifications and citizen tracking (docs/notifications.md, docs/adr/0006-portal-notifications.md).
--
-- portal_subscriptions says how each portal client takes the events of its cases: 'webhook' (the
-- hub POSTs each event to url, signed with HMAC-SHA256 under secret) or 'amqp' (each event lands in
-- the client's own queue hub.portal.<client>). secret holds the webhook secret sealed with the
-- hub's notification key (router/notify.SecretBox: a version byte, then AES-256-GCM; version 0 is
-- unsealed, when no key is configured); it must be usable to sign, so it cannot be a hash.
--
-- notifications is the outbox of portal notifications: the notifier (router/notify) walks the
-- sealed event chain after its cursor (notification_cursor.pos) and, in the transaction that moves
-- the cursor, writes one row per event of a subscribed client's case that the portal vocabulary
-- shows (UNIQUE (event_seq, client_id) is the backstop of exactly once). A row is 'pending' until
-- the relay publishes it to hub.portal; an amqp row is then done, a webhook row 'published' until
-- the hub's webhook worker has POSTed it ('delivered'), scheduled a retry ('pending' again, with
-- attempts and available_at) or given up ('dead', until redriven). stream orders the rows: the
-- delivery they concern, or the case for events of the case as a whole. The relay takes a row only
-- when every earlier row of its stream is done, so a portal receives the events of one delivery one
-- at a time and in order; done is never reset once set.
--
-- appeals.access_code_sha256 is SHA-256 of the citizen's access code (router/intake), salted with
-- the case id: GET /v1/track/{tracking_number}?code= compares it in constant time. NULL for cases
-- accepted before tracking existed: they cannot be tracked.

-- +goose Up
ALTER TABLE appeals ADD COLUMN access_code_sha256 bytea CHECK (octet_length(access_code_sha256) = 32);

CREATE TABLE portal_subscriptions (
    client_id  text PRIMARY KEY REFERENCES api_clients (id),
    mode       text NOT NULL CHECK (mode IN ('webhook', 'amqp')),
    url        text NOT NULL DEFAULT '',
    secret     bytea,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CHECK ((mode = 'webhook') = (url <> '' AND secret IS NOT NULL))
);

CREATE TABLE notifications (
    id               bigserial PRIMARY KEY,
    client_id        text NOT NULL REFERENCES api_clients (id),
    event_seq        bigint NOT NULL,
    chain_pos        bigint NOT NULL CHECK (chain_pos > 0),
    appeal_id        uuid NOT NULL REFERENCES appeals (id),
    delivery_id      uuid REFERENCES deliveries (id),
    stream           uuid NOT NULL,
    state            text NOT NULL,
    payload          bytea NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'published', 'delivered', 'dead')),
    done             boolean NOT NULL DEFAULT false,
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    available_at     timestamptz NOT NULL,
    publish_failures integer NOT NULL DEFAULT 0,
    last_error       text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    UNIQUE (event_seq, client_id)
);
CREATE INDEX notifications_due ON notifications (available_at, id) WHERE status = 'pending';
CREATE INDEX notifications_open ON notifications (stream, id) WHERE NOT done;
CREATE INDEX notifications_dead ON notifications (client_id, id) WHERE status = 'dead';
CREATE INDEX notifications_appeal ON notifications (appeal_id, id);

CREATE TABLE notification_cursor (
    id  boolean PRIMARY KEY DEFAULT true CHECK (id),
    pos bigint NOT NULL CHECK (pos >= 0)
);
INSERT INTO notification_cursor (pos) SELECT coalesce(max(pos), 0) FROM event_chain;

-- +goose Down
DROP TABLE notification_cursor;
DROP TABLE notifications;
DROP TABLE portal_subscriptions;
ALTER TABLE appeals DROP COLUMN access_code_sha256;
