-- The event chain makes the case timeline tamper-evident (docs/adr/0004-event-hash-chain.md).
--
-- events.txid is the transaction that inserted the event (every existing row gets the id of the
-- transaction that runs this migration). The sealer seals events in (txid, seq) order, and only
-- those whose transaction ended before the oldest one still running: no event can later commit
-- before one already sealed.
--
-- event_chain holds one link per sealed event: pos counts the links 1, 2, 3 … without gaps;
-- hash = SHA-256(prev_hash ‖ canonical(event)), prev_hash being the hash of the link at pos - 1
-- (none for the first link). A link does not reference events with a foreign key: a missing event
-- is evidence the verifier reports, not something the database should cascade or hide. txid is
-- the event's at sealing time: the sealer's cursor, not covered by the hash.
--
-- chain_checkpoints records the chain head (pos, seq, hash) from time to time, signed when a
-- signer is configured: a tail removed together with its links is detected against the last
-- checkpoint.
--
-- The three tables are append-only: a statement trigger refuses UPDATE, DELETE and TRUNCATE. The
-- tables' owner can still disable it; the chain is what detects such changes.

-- +goose Up
ALTER TABLE events ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX events_chain_order ON events (txid, seq);

CREATE TABLE event_chain (
    pos       bigint PRIMARY KEY CHECK (pos > 0),
    seq       bigint NOT NULL UNIQUE,
    txid      xid8 NOT NULL,
    prev_hash bytea CHECK ((pos = 1) = (prev_hash IS NULL)),
    hash      bytea NOT NULL CHECK (octet_length(hash) = 32),
    sealed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE chain_checkpoints (
    id         bigserial PRIMARY KEY,
    pos        bigint NOT NULL CHECK (pos > 0),
    seq        bigint NOT NULL,
    hash       bytea NOT NULL CHECK (octet_length(hash) = 32),
    created_at timestamptz NOT NULL,
    signature  bytea,
    signer     text NOT NULL DEFAULT ''
);

-- +goose StatementBegin
CREATE FUNCTION refuse_evidence_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_evidence_change();
CREATE TRIGGER event_chain_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON event_chain
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_evidence_change();
CREATE TRIGGER chain_checkpoints_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON chain_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_evidence_change();

-- +goose Down
DROP TRIGGER chain_checkpoints_append_only ON chain_checkpoints;
DROP TRIGGER event_chain_append_only ON event_chain;
DROP TRIGGER events_append_only ON events;
DROP FUNCTION refuse_evidence_change();
DROP TABLE chain_checkpoints;
DROP TABLE event_chain;
DROP INDEX events_chain_order;
ALTER TABLE events DROP COLUMN txid;
