-- The operators' console (docs/console.md).
--
-- operators are the people who sign in to the console, created with `appealhub operator add`:
-- a login, a role (viewer reads, operator also redrives and discards dead deliveries and sees
-- personal data, admin also edits the registry) and a bcrypt hash of the password.
--
-- operator_sessions are the signed-in sessions. The cookie carries a random token; only its SHA-256
-- is stored, so the table cannot be used to sign in. A session ends at expires_at, on sign-out, or
-- when its operator is disabled.
--
-- deliveries.discarded_*: a dead delivery an operator discarded stays dead, with who discarded it,
-- when and why; it is no longer listed among the dead letters.
--
-- events.appeal_id becomes optional: the operators' actions that concern no case (signing in and
-- out, registry edits from the console) are events too, so that they are sealed in the event chain
-- (docs/adr/0004-event-hash-chain.md); the canonical form encodes their appeal id as "".

-- +goose Up
CREATE TABLE operators (
    login         text PRIMARY KEY CHECK (login ~ '^[a-z0-9][a-z0-9._-]{1,62}$'),
    role          text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    disabled_at   timestamptz
);

CREATE TABLE operator_sessions (
    token_sha256 bytea PRIMARY KEY CHECK (octet_length(token_sha256) = 32),
    login        text NOT NULL REFERENCES operators (login) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX operator_sessions_expires ON operator_sessions (expires_at);

ALTER TABLE deliveries
    ADD COLUMN discarded_at   timestamptz,
    ADD COLUMN discarded_by   text NOT NULL DEFAULT '',
    ADD COLUMN discard_reason text NOT NULL DEFAULT '';
CREATE INDEX deliveries_dead ON deliveries (authority_code, updated_at) WHERE status = 'dead' AND discarded_at IS NULL;

ALTER TABLE events ALTER COLUMN appeal_id DROP NOT NULL;

-- +goose Down
ALTER TABLE events ALTER COLUMN appeal_id SET NOT NULL;
DROP INDEX deliveries_dead;
ALTER TABLE deliveries DROP COLUMN discard_reason, DROP COLUMN discarded_by, DROP COLUMN discarded_at;
DROP TABLE operator_sessions;
DROP TABLE operators;
