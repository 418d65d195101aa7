package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"appealhub/schemas"
)

// TransitionFunc decides a delivery's next status for an authority message: changed false leaves
// the status as it is (a stale or informative message).
type TransitionFunc = func(current schemas.DeliveryStatus, m schemas.AuthorityMessage) (next schemas.DeliveryStatus, changed bool)

// ApplyAuthorityMessages records what an authority's system sent, all in one transaction: every
// message must be about a delivery to that authority (ErrNotFound otherwise, and nothing is
// stored). A message id seen before from that authority changes nothing (Duplicate). Otherwise the
// message is kept, next decides the delivery's new status, and an event is written.
func (s *Store) ApplyAuthorityMessages(ctx context.Context, authority string, msgs []schemas.AuthorityMessage,
	now time.Time, next TransitionFunc) ([]schemas.MessageResult, error) {
	results := make([]schemas.MessageResult, 0, len(msgs))
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, m := range msgs {
			r, err := applyOne(ctx, tx, authority, m, now, next)
			if err != nil {
				return err
			}
			results = append(results, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("apply authority messages: %w", err)
	}
	return results, nil
}

func applyOne(ctx context.Context, tx *sql.Tx, authority string, m schemas.AuthorityMessage, now time.Time, next TransitionFunc) (schemas.MessageResult, error) {
	r := schemas.MessageResult{MessageID: m.MessageID, Of: m.Of}
	var appealID string
	var status schemas.DeliveryStatus
	err := tx.QueryRowContext(ctx, `
		SELECT appeal_id, status FROM deliveries WHERE id = $1 AND authority_code = $2 FOR UPDATE`,
		m.Of, authority).Scan(&appealID, &status)
	if err != nil {
		return r, fmt.Errorf("message %s about delivery %s: %w", m.MessageID, m.Of, mapErr(err))
	}
	r.Status = status
	raw, err := json.Marshal(m)
	if err != nil {
		return r, fmt.Errorf("encode message: %w", err)
	}
	newStatus, changed := next(status, m)
	res, err := tx.ExecContext(ctx, `
		INSERT INTO authority_messages (authority_code, message_id, delivery_id, type, message, applied, received_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (authority_code, message_id) DO NOTHING`,
		authority, m.MessageID, m.Of, string(m.Type), raw, changed, now)
	if err != nil {
		return r, fmt.Errorf("store message: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var same bool
		if err := tx.QueryRowContext(ctx, `
			SELECT message = $3::jsonb FROM authority_messages WHERE authority_code = $1 AND message_id = $2`,
			authority, m.MessageID, raw).Scan(&same); err != nil {
			return r, fmt.Errorf("compare repeated message: %w", err)
		}
		if !same {
			return r, fmt.Errorf("message %s: %w", m.MessageID, ErrConflict)
		}
		r.Duplicate = true
		return r, nil
	}
	detail := ""
	if changed {
		r.Applied, r.Status = true, newStatus
		if _, err := tx.ExecContext(ctx, `
			UPDATE deliveries SET status = $2, updated_at = $3,
			    delivered_at = CASE WHEN delivered_at IS NULL AND $2 <> 'refused' THEN $3 ELSE delivered_at END,
			    registration_number = CASE WHEN $4 <> '' THEN $4 ELSE registration_number END,
			    registered_at = coalesce($5, registered_at),
			    refusal_code = CASE WHEN $6 <> '' THEN $6 ELSE refusal_code END
			WHERE id = $1`, m.Of, string(newStatus), now, m.RegistrationNumber, nullTimePtr(m.RegistrationDate), m.RefusalCode); err != nil {
			return r, fmt.Errorf("update delivery: %w", err)
		}
	} else {
		detail = "no change of status"
	}
	if err := insertEvent(ctx, tx, appealID, m.Of, schemas.AuthorityEvent(m.Type), r.Status, detail, now); err != nil {
		return r, err
	}
	return r, nil
}

func nullTimePtr(t *time.Time) sql.NullTime {
	if t == nil {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: *t, Valid: true}
}
