-- Intake no longer notifies inside its transaction: a NOTIFY in a transaction takes a database-wide
-- lock at commit that is held until the commit is flushed, which serialises every intake commit.
-- The hub wakes its own relay directly and sends a coalesced NOTIFY for the others outside the
-- business transaction (store.NotifyOutbox).

-- +goose Up
DROP TRIGGER outbox_notify ON outbox;
DROP FUNCTION outbox_notify();

-- +goose Down
-- +goose StatementBegin
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('appealhub_outbox_' || current_schema(), '');
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
