-- Hub-signed receipts (docs/receipts.md): the hub's signed word that it accepted a submission,
-- delivered it to an authority's system, and saw the authority register it.
--
-- The notary (internal/receipt) derives receipts from the sealed event chain: it walks event_chain
-- after its cursor (receipt_cursor.pos), and for every link whose event is evidence it signs one
-- receipt. The receipts and the cursor move are written in one transaction, so every event gets
-- exactly one receipt of its type; UNIQUE (type, chain_pos) is the backstop.
--
-- content holds the signed bytes exactly (canonical JSON; bytea, not jsonb, which would rewrite
-- them); cms is the DER CMS SignedData that encapsulates them. Like the chain, a receipt references
-- no link with a foreign key, and receipts are append-only.

-- +goose Up
CREATE TABLE receipts (
    id          uuid PRIMARY KEY,
    appeal_id   uuid NOT NULL REFERENCES appeals (id),
    delivery_id uuid REFERENCES deliveries (id),
    type        text NOT NULL,
    content     bytea NOT NULL,
    cms         bytea NOT NULL,
    chain_pos   bigint NOT NULL CHECK (chain_pos > 0),
    created_at  timestamptz NOT NULL,
    UNIQUE (type, chain_pos)
);
CREATE INDEX receipts_appeal ON receipts (appeal_id, chain_pos);

CREATE TABLE receipt_cursor (
    id  boolean PRIMARY KEY DEFAULT true CHECK (id),
    pos bigint NOT NULL CHECK (pos >= 0)
);
INSERT INTO receipt_cursor (pos) VALUES (0);

CREATE TRIGGER receipts_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON receipts
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_evidence_change();

-- +goose Down
DROP TRIGGER receipts_append_only ON receipts;
DROP TABLE receipt_cursor;
DROP TABLE receipts;
