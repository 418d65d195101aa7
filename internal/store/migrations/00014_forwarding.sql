-- What authorities' messages establish about a delivery, and forwarding.
--
-- forwarded_from links a delivery the hub created because an authority forwarded the case to the
-- competent authority (routing_rule 'forwarded') to the delivery that was forwarded. A delivery is
-- forwarded at most once (forwarded is a final status), hence the unique index; the existing
-- UNIQUE (appeal_id, authority_code) keeps a case from reaching one authority twice.
--
-- registrar (registered or refused), refusal_text (refused) and reason (forwarded, returned,
-- not_considered) keep what the applied message said, for the case view; the messages themselves,
-- answers with their documents included, stay in authority_messages.

-- +goose Up
ALTER TABLE deliveries
    ADD COLUMN forwarded_from uuid REFERENCES deliveries (id),
    ADD COLUMN registrar      text NOT NULL DEFAULT '',
    ADD COLUMN refusal_text   text NOT NULL DEFAULT '',
    ADD COLUMN reason         text NOT NULL DEFAULT '';
CREATE UNIQUE INDEX deliveries_forwarded_from ON deliveries (forwarded_from) WHERE forwarded_from IS NOT NULL;

-- +goose Down
DROP INDEX deliveries_forwarded_from;
ALTER TABLE deliveries
    DROP COLUMN reason,
    DROP COLUMN refusal_text,
    DROP COLUMN registrar,
    DROP COLUMN forwarded_from;
