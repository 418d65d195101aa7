-- Pull mode and what authorities send back.
--
-- An authority whose document system polls (SEV-style) has mode 'pull': its deliveries wait in the
-- inbox until the system fetches them (each fetch hides an item for a visibility timeout) and
-- acknowledges them. authority_messages keeps every message an authority sent, once per message id.

-- +goose Up
ALTER TABLE authorities ADD COLUMN mode text NOT NULL DEFAULT 'push' CHECK (mode IN ('push', 'pull'));

CREATE TABLE inbox (
    delivery_id     uuid PRIMARY KEY REFERENCES deliveries (id),
    authority_code  text NOT NULL REFERENCES authorities (code),
    created_at      timestamptz NOT NULL,
    visible_at      timestamptz NOT NULL,
    fetch_count     integer NOT NULL DEFAULT 0,
    last_fetched_at timestamptz,
    acked_at        timestamptz
);
CREATE INDEX inbox_waiting ON inbox (authority_code, visible_at) WHERE acked_at IS NULL;

CREATE TABLE authority_messages (
    authority_code text NOT NULL REFERENCES authorities (code),
    message_id     text NOT NULL,
    delivery_id    uuid NOT NULL REFERENCES deliveries (id),
    type           text NOT NULL,
    message        jsonb NOT NULL,
    applied        boolean NOT NULL,
    received_at    timestamptz NOT NULL,
    PRIMARY KEY (authority_code, message_id)
);
CREATE INDEX authority_messages_delivery ON authority_messages (delivery_id, received_at);

ALTER TABLE deliveries ADD COLUMN registration_number text NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN registered_at timestamptz;
ALTER TABLE deliveries ADD COLUMN refusal_code text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE deliveries DROP COLUMN refusal_code;
ALTER TABLE deliveries DROP COLUMN registered_at;
ALTER TABLE deliveries DROP COLUMN registration_number;
DROP TABLE authority_messages;
DROP TABLE inbox;
ALTER TABLE authorities DROP COLUMN mode;
