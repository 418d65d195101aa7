-- The registry's remaining fields, optimistic locking and scheduled changes.
--
-- subsystem names the document system of a subdivision or subsystem of the body ('' for the body's
-- own); calendar names the working calendar its legal terms count by ('UA', the national one, for
-- every existing entry).
--
-- version counts an entry's changes. A trigger keeps it, so every writer counts alike (the
-- registry, and the configuration's seed at start-up): an UPDATE that changes anything but
-- updated_at adds one, unless the statement sets version itself (a scheduled change and its
-- cancellation do, without touching the entry's fields). Changes name the version they were made
-- against (If-Match) and the store refuses them when the entry has moved on.
--
-- authority_pending holds changes whose effective time is still to come: the registry applies each
-- once when its time comes (claimed with FOR UPDATE SKIP LOCKED, so several hub processes may run
-- the step), then deletes it; a cancelled one is deleted too. The history records the scheduling,
-- the cancellation and the applied change (history.pending describes the scheduled change). The
-- token an update sets is kept apart from the patch, so that the patch may be shown.

-- +goose Up
ALTER TABLE authorities
    ADD COLUMN subsystem text NOT NULL DEFAULT '' CHECK (subsystem = '' OR subsystem ~ '^[A-Za-z0-9._-]{1,64}$'),
    ADD COLUMN calendar  text NOT NULL DEFAULT 'UA' CHECK (calendar ~ '^[A-Za-z0-9._-]{1,32}$'),
    ADD COLUMN version   bigint NOT NULL DEFAULT 1 CHECK (version > 0);

-- +goose StatementBegin
CREATE FUNCTION authorities_count_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.version = OLD.version
       AND (to_jsonb(NEW) - 'updated_at') IS DISTINCT FROM (to_jsonb(OLD) - 'updated_at') THEN
        NEW.version := OLD.version + 1;
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER authorities_version BEFORE UPDATE ON authorities
    FOR EACH ROW EXECUTE FUNCTION authorities_count_version();

CREATE TABLE authority_pending (
    id             bigserial PRIMARY KEY,
    code           text NOT NULL REFERENCES authorities (code),
    action         text NOT NULL CHECK (action IN ('update', 'suspend', 'resume', 'close')),
    patch          jsonb,
    token          text,
    successor_code text,
    effective_at   timestamptz NOT NULL,
    created_at     timestamptz NOT NULL,
    created_by     text NOT NULL,
    reason         text NOT NULL DEFAULT ''
);
CREATE INDEX authority_pending_due ON authority_pending (effective_at, id);
CREATE INDEX authority_pending_code ON authority_pending (code, effective_at, id);

ALTER TABLE authority_history ADD COLUMN pending jsonb;

-- +goose Down
ALTER TABLE authority_history DROP COLUMN pending;
DROP TABLE authority_pending;
DROP TRIGGER authorities_version ON authorities;
DROP FUNCTION authorities_count_version();
ALTER TABLE authorities
    DROP COLUMN version,
    DROP COLUMN calendar,
    DROP COLUMN subsystem;
