package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"appealhub/schemas"
)

// InboxPut puts a delivery in its pull-mode authority's inbox (once: a repeated call changes
// nothing and returns false). The delivery stays queued until the system fetches it.
func (s *Store) InboxPut(ctx context.Context, deliveryID string, at time.Time) (added bool, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var appealID string
		err := tx.QueryRowContext(ctx, `
			INSERT INTO inbox (delivery_id, authority_code, created_at, visible_at)
			SELECT id, authority_code, $2, $2 FROM deliveries WHERE id = $1 AND status IN ('accepted', 'queued')
			ON CONFLICT (delivery_id) DO NOTHING
			RETURNING (SELECT appeal_id FROM deliveries WHERE id = $1)`, deliveryID, at).Scan(&appealID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("insert inbox item: %w", err)
		}
		added = true
		return insertEvent(ctx, tx, appealID, deliveryID, schemas.EventDeliveryInInbox, schemas.StatusQueued, "", at)
	})
	if err != nil {
		return false, fmt.Errorf("put in inbox: %w", err)
	}
	return added, nil
}

// InboxFetch claims up to limit items of the authority's inbox that are visible at now, hides them
// for visibility, and returns them. The first fetch of an item marks its delivery sent: the
// document has left the hub. An item fetched and not acknowledged comes back after visibility.
func (s *Store) InboxFetch(ctx context.Context, authority string, now time.Time, limit int, visibility time.Duration) ([]schemas.InboxItem, error) {
	var items []schemas.InboxItem
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `
			WITH claimed AS (
				SELECT delivery_id FROM inbox
				WHERE authority_code = $1 AND acked_at IS NULL AND visible_at <= $2
				ORDER BY created_at, delivery_id
				LIMIT $3
				FOR UPDATE SKIP LOCKED)
			UPDATE inbox i SET fetch_count = i.fetch_count + 1, last_fetched_at = $2, visible_at = $4
			FROM claimed c, deliveries d, appeals a
			WHERE i.delivery_id = c.delivery_id AND d.id = i.delivery_id AND a.id = d.appeal_id
			RETURNING i.delivery_id, a.id, a.tracking_number, i.fetch_count, i.visible_at, i.created_at`,
			authority, now, limit, now.Add(visibility))
		if err != nil {
			return fmt.Errorf("claim inbox items: %w", err)
		}
		type first struct{ delivery, appeal string }
		var firsts []first
		var order []time.Time
		for rows.Next() {
			var it schemas.InboxItem
			var appealID string
			var created time.Time
			if err := rows.Scan(&it.DeliveryID, &appealID, &it.TrackingNumber, &it.FetchCount, &it.VisibleUntil, &created); err != nil {
				rows.Close()
				return fmt.Errorf("scan inbox item: %w", err)
			}
			if it.FetchCount == 1 {
				firsts = append(firsts, first{it.DeliveryID, appealID})
			}
			items = append(items, it)
			order = append(order, created)
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("read inbox items: %w", err)
		}
		sortItems(items, order)
		for _, f := range firsts {
			res, err := tx.ExecContext(ctx, `
				UPDATE deliveries SET status = 'sent', attempts = attempts + 1, sent_at = coalesce(sent_at, $2), updated_at = $2
				WHERE id = $1 AND status IN ('accepted', 'queued')`, f.delivery, now)
			if err != nil {
				return fmt.Errorf("mark delivery sent: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				if err := insertEvent(ctx, tx, f.appeal, f.delivery, schemas.EventDeliveryFetched, schemas.StatusSent, "", now); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("fetch inbox: %w", err)
	}
	return items, nil
}

// InboxTask returns what is needed to encode an inbox item for its authority (ErrNotFound when the
// delivery is not in that authority's inbox).
func (s *Store) InboxTask(ctx context.Context, authority, deliveryID string) (schemas.DeliveryTask, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `
		SELECT count(*) FROM inbox WHERE delivery_id = $1 AND authority_code = $2`, deliveryID, authority).Scan(&n); err != nil {
		return schemas.DeliveryTask{}, fmt.Errorf("find inbox item: %w", err)
	}
	if n == 0 {
		return schemas.DeliveryTask{}, fmt.Errorf("find inbox item: %w", ErrNotFound)
	}
	return s.DeliveryTask(ctx, deliveryID)
}

// InboxAck takes an item off the authority's inbox: its system has the document, so the delivery
// is delivered. Acknowledging twice is fine; an item not in that authority's inbox is ErrNotFound.
func (s *Store) InboxAck(ctx context.Context, authority, deliveryID string, now time.Time) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var acked sql.NullTime
		err := tx.QueryRowContext(ctx, `
			SELECT acked_at FROM inbox WHERE delivery_id = $1 AND authority_code = $2 FOR UPDATE`,
			deliveryID, authority).Scan(&acked)
		if err != nil {
			return fmt.Errorf("find inbox item: %w", mapErr(err))
		}
		if acked.Valid {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE inbox SET acked_at = $2 WHERE delivery_id = $1`, deliveryID, now); err != nil {
			return fmt.Errorf("ack inbox item: %w", err)
		}
		var appealID string
		err = tx.QueryRowContext(ctx, `
			UPDATE deliveries SET status = 'delivered', delivered_at = $2, sent_at = coalesce(sent_at, $2),
			    attempts = greatest(attempts, 1), updated_at = $2
			WHERE id = $1 AND status IN ('accepted', 'queued', 'sent', 'dead')
			RETURNING appeal_id`, deliveryID, now).Scan(&appealID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // already further along (an authority message came first)
		}
		if err != nil {
			return fmt.Errorf("mark delivery delivered: %w", err)
		}
		return insertEvent(ctx, tx, appealID, deliveryID, schemas.EventDeliveryDelivered, schemas.StatusDelivered, "acknowledged from the inbox", now)
	})
	if err != nil {
		return fmt.Errorf("acknowledge inbox item: %w", err)
	}
	return nil
}

func insertEvent(ctx context.Context, tx *sql.Tx, appealID, deliveryID string, t schemas.EventType, st schemas.DeliveryStatus, detail string, at time.Time) error {
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO events (appeal_id, delivery_id, type, status, detail, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		appealID, deliveryID, string(t), string(st), truncate(detail, 1000), at); err != nil {
		return fmt.Errorf("insert event: %w", err)
	}
	return nil
}

// sortItems orders items by when they entered the inbox (RETURNING gives no order).
func sortItems(items []schemas.InboxItem, created []time.Time) {
	for i := 1; i < len(items); i++ {
		for j := i; j > 0 && created[j].Before(created[j-1]); j-- {
			items[j], items[j-1] = items[j-1], items[j]
			created[j], created[j-1] = created[j-1], created[j]
		}
	}
}
