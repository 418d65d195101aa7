-- Deadlines (docs/deadlines.md): the working-day calendars and the due dates of deliveries.
--
-- calendars holds every imported version of the working-day calendar, the file byte for byte; the
-- current one is the last imported (highest id). A version is imported once.
--
-- due_dates holds the due dates of each delivery, one current row per (delivery, kind): a change
-- (an extension, a new calendar) inserts a new row and points the old one at it (superseded_by),
-- so the history of every due date stays. The deadline keeper derives the rows from the sealed
-- event chain: it walks event_chain after its cursor (deadline_cursor.pos) and recomputes the due
-- dates of each delivery the events concern, moving the cursor in the same transaction. closed_at
-- and met record how a due date ended; overdue_at is set by the overdue sweep in the transaction
-- that writes its event, so each due date is reported overdue once. A row is superseded before
-- the row that replaces it is inserted (the current index allows one current row per kind), so
-- the reference to the new row is checked at commit.

-- +goose Up
CREATE TABLE calendars (
    id          bigserial PRIMARY KEY,
    version     text NOT NULL UNIQUE,
    source      bytea NOT NULL,
    sha256      bytea NOT NULL CHECK (octet_length(sha256) = 32),
    imported_at timestamptz NOT NULL,
    imported_by text NOT NULL DEFAULT ''
);

CREATE TABLE due_dates (
    id               bigserial PRIMARY KEY,
    delivery_id      uuid NOT NULL REFERENCES deliveries (id),
    appeal_id        uuid NOT NULL REFERENCES appeals (id),
    kind             text NOT NULL CHECK (kind IN ('answer', 'forward', 'extension_notice', 'delivery_notice')),
    due_at           timestamptz NOT NULL,
    rule             text NOT NULL,
    calendar_version text NOT NULL,
    explanation      jsonb NOT NULL,
    created_at       timestamptz NOT NULL,
    superseded_by    bigint REFERENCES due_dates (id) DEFERRABLE INITIALLY DEFERRED,
    superseded_at    timestamptz,
    closed_at        timestamptz,
    met              boolean,
    overdue_at       timestamptz,
    CHECK ((superseded_by IS NULL) = (superseded_at IS NULL)),
    CHECK (met IS NULL OR closed_at IS NOT NULL)
);
CREATE UNIQUE INDEX due_dates_current ON due_dates (delivery_id, kind) WHERE superseded_by IS NULL;
CREATE INDEX due_dates_open ON due_dates (due_at, id) WHERE superseded_by IS NULL AND closed_at IS NULL;
CREATE INDEX due_dates_appeal ON due_dates (appeal_id) WHERE superseded_by IS NULL;

CREATE TABLE deadline_cursor (
    id  boolean PRIMARY KEY DEFAULT true CHECK (id),
    pos bigint NOT NULL CHECK (pos >= 0)
);
INSERT INTO deadline_cursor (pos) VALUES (0);

-- +goose Down
DROP TABLE deadline_cursor;
DROP TABLE due_dates;
DROP TABLE calendars;
