-- The authority registry (DESIGN.md §3): the fields of the address space, and the history of every
-- change (who, when it takes effect, why, before and after).
--
-- Entries seeded from the configuration keep kind '' and territory '' (not yet described); the
-- registry's validation requires both for every entry it writes. The parent and successor foreign
-- keys are deferred to commit so that an import may list a child before its parent.
--
-- Directory search matches lower(name) and lower(short_name) with LIKE '%word%', served by pg_trgm
-- GIN indexes. pg_trgm is created once per database (it is a trusted extension: the database owner
-- may create it) in the public schema, never in a per-test schema that is dropped later; the index
-- names the operator class in whichever schema holds the extension.

-- +goose Up
SELECT pg_advisory_xact_lock(7405193820172);
CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;

ALTER TABLE authorities
    ADD COLUMN short_name        text NOT NULL DEFAULT '',
    ADD COLUMN kind              text NOT NULL DEFAULT ''
        CHECK (kind IN ('', 'central', 'regional', 'local', 'non_state')),
    ADD COLUMN parent_code       text REFERENCES authorities (code) DEFERRABLE INITIALLY DEFERRED,
    ADD COLUMN territory         text NOT NULL DEFAULT '' CHECK (territory = '' OR territory ~ '^UA[0-9]{17}$'),
    ADD COLUMN topics            text[] NOT NULL DEFAULT '{}',
    ADD COLUMN accepts           text[] NOT NULL DEFAULT '{appeal,info_request}'
        CHECK (accepts <@ '{appeal,info_request}'::text[]),
    ADD COLUMN max_message_bytes bigint NOT NULL DEFAULT 0 CHECK (max_message_bytes >= 0),
    ADD COLUMN it_contact        text NOT NULL DEFAULT '',
    ADD COLUMN successor_code    text REFERENCES authorities (code) DEFERRABLE INITIALLY DEFERRED,
    ADD COLUMN effective_from    timestamptz NOT NULL DEFAULT now();

CREATE INDEX authorities_parent ON authorities (parent_code);
CREATE INDEX authorities_territory ON authorities (territory text_pattern_ops);
CREATE INDEX authorities_topics ON authorities USING gin (topics);

-- +goose StatementBegin
DO $$
DECLARE
    ext_schema text;
BEGIN
    SELECT n.nspname INTO ext_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_trgm';
    EXECUTE format('CREATE INDEX authorities_name_trgm ON authorities USING gin (lower(name) %I.gin_trgm_ops)', ext_schema);
    EXECUTE format('CREATE INDEX authorities_short_name_trgm ON authorities USING gin (lower(short_name) %I.gin_trgm_ops)', ext_schema);
END
$$;
-- +goose StatementEnd

CREATE TABLE authority_history (
    id           bigserial PRIMARY KEY,
    code         text NOT NULL REFERENCES authorities (code) DEFERRABLE INITIALLY DEFERRED,
    changed_at   timestamptz NOT NULL,
    changed_by   text NOT NULL,
    effective_at timestamptz NOT NULL,
    reason       text NOT NULL DEFAULT '',
    action       text NOT NULL,
    before       jsonb,
    after        jsonb
);
CREATE INDEX authority_history_code ON authority_history (code, id);

-- +goose Down
DROP TABLE authority_history;
DROP INDEX authorities_short_name_trgm;
DROP INDEX authorities_name_trgm;
DROP INDEX authorities_topics;
DROP INDEX authorities_territory;
DROP INDEX authorities_parent;
ALTER TABLE authorities
    DROP COLUMN effective_from,
    DROP COLUMN successor_code,
    DROP COLUMN it_contact,
    DROP COLUMN max_message_bytes,
    DROP COLUMN accepts,
    DROP COLUMN topics,
    DROP COLUMN territory,
    DROP COLUMN parent_code,
    DROP COLUMN kind,
    DROP COLUMN short_name;
