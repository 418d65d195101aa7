-- Statistics of cases (docs/statistics.md): one row of facts per delivery, derived from the
-- sealed event chain, so that GET /v1/stats and the quarterly report never scan events or the
-- submissions' bodies.
--
-- stats_deliveries is a rollup: the stats step walks event_chain after its cursor
-- (stats_cursor.pos), like the deadline keeper, and recomputes the row of every delivery the events
-- concern (all the deliveries of a case for its submission_accepted event) from the delivery, its
-- case, its events and its current answer due date, in the transaction that moves the cursor. The
-- attributes of the case (topic, applicant category) are read from the submission once, when the
-- row is first written; they never change. received_at is when the hub received the case for this
-- delivery: the case's receipt, or the forward that created the delivery (forwarded_in).
-- registered_at, refused_at, forwarded_at and answered_at are the times of the first event that
-- moved the delivery there; ended_at the first that ended it (answered, refused, forwarded,
-- returned, not considered, dead). Nothing here is personal data: the category is the applicant's
-- privilege category as a class, never a name.

-- +goose Up
CREATE TABLE stats_deliveries (
    delivery_id    uuid PRIMARY KEY REFERENCES deliveries (id),
    appeal_id      uuid NOT NULL REFERENCES appeals (id),
    authority_code text NOT NULL,
    received_at    timestamptz NOT NULL,
    received_day   date NOT NULL,
    case_kind      text NOT NULL,
    appeal_kind    text NOT NULL DEFAULT '',
    topic          text NOT NULL DEFAULT '',
    category       text NOT NULL DEFAULT '',
    client_id      text NOT NULL,
    forwarded_in   boolean NOT NULL DEFAULT false,
    registered_at  timestamptz,
    refused_at     timestamptz,
    forwarded_at   timestamptz,
    answered_at    timestamptz,
    to_registration  float8,
    to_answer        float8,
    answered_on_time boolean NOT NULL DEFAULT false,
    open_due_at      timestamptz
);
CREATE INDEX stats_deliveries_received ON stats_deliveries (received_at);

CREATE TABLE stats_cursor (
    id  boolean PRIMARY KEY DEFAULT true CHECK (id),
    pos bigint NOT NULL CHECK (pos >= 0)
);
INSERT INTO stats_cursor (pos) VALUES (0);

-- +goose Down
DROP TABLE stats_cursor;
DROP TABLE stats_deliveries;
