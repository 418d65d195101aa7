package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"appealhub/schemas"
)

// DeliveryTask returns what the delivery worker needs to send one delivery.
func (s *Store) DeliveryTask(ctx context.Context, deliveryID string) (schemas.DeliveryTask, error) {
	var t schemas.DeliveryTask
	var timeoutMS int64
	err := s.db.QueryRowContext(ctx, `
		SELECT d.id, a.id, a.tracking_number, d.authority_code, d.status, d.attempts, a.received_at,
		       a.body, a.trace_parent, au.status, au.mode, au.adapter, au.endpoint, au.token, au.tls_client,
		       au.max_message_bytes, coalesce(au.request_timeout_ms, 0)
		FROM deliveries d
		JOIN appeals a ON a.id = d.appeal_id
		JOIN authorities au ON au.code = d.authority_code
		WHERE d.id = $1`, deliveryID).
		Scan(&t.DeliveryID, &t.AppealID, &t.TrackingNumber, &t.Authority, &t.Status, &t.Attempts, &t.ReceivedAt,
			&t.Body, &t.TraceParent, &t.AuthorityStatus, &t.Mode, &t.Adapter, &t.Endpoint, &t.Token, &t.TLSClient,
			&t.MaxMessageBytes, &timeoutMS)
	if err != nil {
		return t, fmt.Errorf("read delivery task: %w", mapErr(err))
	}
	t.RequestTimeout = time.Duration(timeoutMS) * time.Millisecond
	if t.Signatures, err = s.signaturesOf(ctx, t.AppealID); err != nil {
		return t, err
	}
	return t, nil
}

// RecordOutcome records one delivery attempt in one transaction: the delivery's new state, an event,
// and, when a retry is scheduled, the outbox row that will carry it. It applies only if the delivery
// is still pending and no other attempt with the same number was recorded first (applied false
// otherwise: a duplicate message, nothing changed).
func (s *Store) RecordOutcome(ctx context.Context, o schemas.DeliveryOutcome) (applied bool, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var appealID, authority string
		var previous schemas.DeliveryStatus
		var next sql.NullTime
		if o.Status == schemas.StatusQueued {
			next = sql.NullTime{Time: o.NextAttemptAt, Valid: true}
		}
		err := tx.QueryRowContext(ctx, `SELECT status FROM deliveries WHERE id = $1 FOR UPDATE`, o.DeliveryID).Scan(&previous)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("lock delivery: %w", err)
		}
		err = tx.QueryRowContext(ctx, `
			UPDATE deliveries SET
			    status = $3, attempts = $2, last_error = $4, next_attempt_at = $5, updated_at = $6,
			    reference = CASE WHEN $7 <> '' THEN $7 ELSE reference END,
			    sent_at = CASE WHEN $3 IN ('sent', 'delivered') THEN coalesce(sent_at, $6) ELSE sent_at END,
			    delivered_at = CASE WHEN $3 = 'delivered' THEN $6 ELSE delivered_at END
			WHERE id = $1 AND attempts = $2 - 1 AND status IN ('accepted', 'queued')
			RETURNING appeal_id, authority_code`,
			o.DeliveryID, o.Attempt, string(o.Status), truncate(o.Error, 1000), next, o.At, o.Reference).
			Scan(&appealID, &authority)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("update delivery: %w", err)
		}
		applied = true
		if previous == schemas.StatusAccepted {
			// The message outran the relay's commit: the timeline still shows the delivery queued first.
			if err := insertEvent(ctx, tx, appealID, o.DeliveryID, schemas.EventDeliveryQueued, schemas.StatusQueued, "", o.At); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO events (appeal_id, delivery_id, type, status, detail, created_at)
			VALUES ($1, $2, $3, $4, $5, $6)`,
			appealID, o.DeliveryID, string(eventFor(o.Status)), string(o.Status), truncate(o.Error, 1000), o.At); err != nil {
			return fmt.Errorf("insert event: %w", err)
		}
		if o.Status == schemas.StatusQueued {
			if _, err := tx.ExecContext(ctx, `
				INSERT INTO outbox (delivery_id, routing_key, attempt, available_at, created_at)
				VALUES ($1, $2, $3, $4, $5)`, o.DeliveryID, authority, o.Attempt, o.NextAttemptAt, o.At); err != nil {
				return fmt.Errorf("schedule retry: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("record delivery outcome: %w", err)
	}
	return applied, nil
}

func eventFor(status schemas.DeliveryStatus) schemas.EventType {
	switch status {
	case schemas.StatusDelivered:
		return schemas.EventDeliveryDelivered
	case schemas.StatusSent:
		return schemas.EventDeliverySent
	case schemas.StatusDead:
		return schemas.EventDeliveryDead
	default:
		return schemas.EventDeliveryAttempt
	}
}

// DeliveryCounts returns how many deliveries are in each status.
func (s *Store) DeliveryCounts(ctx context.Context) (map[schemas.DeliveryStatus]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT status, count(*) FROM deliveries GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("count deliveries: %w", err)
	}
	defer rows.Close()
	out := map[schemas.DeliveryStatus]int{}
	for rows.Next() {
		var st schemas.DeliveryStatus
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("scan delivery count: %w", err)
		}
		out[st] = n
	}
	return out, rows.Err()
}

// Counts are totals over the whole store, for checks and tests.
type Counts struct {
	Appeals         int
	Deliveries      int
	Events          int
	OutboxPending   int
	DeliveredEvents int // delivery_delivered events: one per delivered delivery, never more
}

// Totals counts the rows of every table that intake writes.
func (s *Store) Totals(ctx context.Context) (Counts, error) {
	var c Counts
	err := s.db.QueryRowContext(ctx, `
		SELECT (SELECT count(*) FROM appeals), (SELECT count(*) FROM deliveries), (SELECT count(*) FROM events),
		       (SELECT count(*) FROM outbox WHERE status = 'pending'),
		       (SELECT count(*) FROM events WHERE type = $1)`, string(schemas.EventDeliveryDelivered)).
		Scan(&c.Appeals, &c.Deliveries, &c.Events, &c.OutboxPending, &c.DeliveredEvents)
	if err != nil {
		return c, fmt.Errorf("count rows: %w", err)
	}
	return c, nil
}

// DeliveredEventsPerDelivery returns, for each delivery with at least one delivery_delivered
// event, how many it has (the hub records delivered exactly once: every value must be 1).
func (s *Store) DeliveredEventsPerDelivery(ctx context.Context) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT delivery_id, count(*) FROM events WHERE type = $1 GROUP BY delivery_id`, string(schemas.EventDeliveryDelivered))
	if err != nil {
		return nil, fmt.Errorf("count delivered events: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, fmt.Errorf("scan delivered events: %w", err)
		}
		out[id] = n
	}
	return out, rows.Err()
}

// DeliveriesByStatus returns the ids of the deliveries in a status with their authority and last error.
func (s *Store) DeliveriesByStatus(ctx context.Context, status schemas.DeliveryStatus) ([]schemas.Delivery, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT id, appeal_id, authority_code, status, attempts, last_error, updated_at
		FROM deliveries WHERE status = $1 ORDER BY id`, string(status))
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	defer rows.Close()
	var out []schemas.Delivery
	for rows.Next() {
		var d schemas.Delivery
		if err := rows.Scan(&d.ID, &d.AppealID, &d.Authority, &d.Status, &d.Attempts, &d.LastError, &d.UpdatedAt); err != nil {
			return nil, fmt.Errorf("scan delivery: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
