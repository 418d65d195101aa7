package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"appealhub/schemas"
)

// CaseTrace is everything the hub knows of a case's way, for operators: the case with its
// deliveries (and their due dates) and timeline, the outbox rows that carried each attempt, the
// authorities' messages about it and the receipts the hub issued.
type CaseTrace struct {
	Case     schemas.Case
	ClientID string
	Outbox   []OutboxRecord
	Messages []MessageRecord
	Receipts []ReceiptRecord
}

// OutboxRecord is one outbox row of a delivery: one attempt handed to the broker.
type OutboxRecord struct {
	DeliveryID      string
	Attempt         int
	Status          string
	AvailableAt     time.Time
	PublishedAt     *time.Time
	PublishFailures int
	LastError       string
}

// MessageRecord is one message an authority's system sent about a delivery.
type MessageRecord struct {
	DeliveryID string
	Authority  string
	MessageID  string
	Type       string
	Applied    bool
	ReceivedAt time.Time
}

// ReceiptRecord is one hub-signed receipt of a case (without its content).
type ReceiptRecord struct {
	ID         string
	Type       string
	DeliveryID string
	CreatedAt  time.Time
}

// TraceCase finds a case by its id or its tracking number (ErrNotFound if there is none) and
// returns its trace.
func (s *Store) TraceCase(ctx context.Context, ref string) (CaseTrace, error) {
	var t CaseTrace
	ref = strings.TrimSpace(ref)
	var id string
	var err error
	if uuidPattern.MatchString(ref) {
		err = s.db.QueryRowContext(ctx, `SELECT id, client_id FROM appeals WHERE id = $1`, ref).Scan(&id, &t.ClientID)
	} else {
		err = s.db.QueryRowContext(ctx, `SELECT id, client_id FROM appeals WHERE tracking_number = $1`, strings.ToUpper(ref)).
			Scan(&id, &t.ClientID)
	}
	if err != nil {
		return t, fmt.Errorf("find case: %w", mapErr(err))
	}
	if t.Case, err = s.Case(ctx, t.ClientID, id); err != nil {
		return t, err
	}
	if t.Outbox, err = s.outboxOf(ctx, id); err != nil {
		return t, err
	}
	if t.Messages, err = s.messagesOf(ctx, id); err != nil {
		return t, err
	}
	if t.Receipts, err = s.receiptsOf(ctx, id); err != nil {
		return t, err
	}
	return t, nil
}

func (s *Store) outboxOf(ctx context.Context, appealID string) ([]OutboxRecord, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT o.delivery_id, o.attempt, o.status, o.available_at, o.published_at, o.publish_failures, o.last_error
		FROM outbox o JOIN deliveries d ON d.id = o.delivery_id
		WHERE d.appeal_id = $1 ORDER BY o.id`, appealID)
	if err != nil {
		return nil, fmt.Errorf("read outbox rows: %w", err)
	}
	defer rows.Close()
	out := []OutboxRecord{}
	for rows.Next() {
		var r OutboxRecord
		var published sql.NullTime
		if err := rows.Scan(&r.DeliveryID, &r.Attempt, &r.Status, &r.AvailableAt, &published, &r.PublishFailures, &r.LastError); err != nil {
			return nil, fmt.Errorf("scan outbox row: %w", err)
		}
		r.PublishedAt = nullTime(published)
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *Store) messagesOf(ctx context.Context, appealID string) ([]MessageRecord, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT m.delivery_id, m.authority_code, m.message_id, m.type, m.applied, m.received_at
		FROM authority_messages m JOIN deliveries d ON d.id = m.delivery_id
		WHERE d.appeal_id = $1 ORDER BY m.received_at, m.message_id`, appealID)
	if err != nil {
		return nil, fmt.Errorf("read authority messages: %w", err)
	}
	defer rows.Close()
	out := []MessageRecord{}
	for rows.Next() {
		var r MessageRecord
		if err := rows.Scan(&r.DeliveryID, &r.Authority, &r.MessageID, &r.Type, &r.Applied, &r.ReceivedAt); err != nil {
			return nil, fmt.Errorf("scan authority message: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *Store) receiptsOf(ctx context.Context, appealID string) ([]ReceiptRecord, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT id, type, coalesce(delivery_id::text, ''), created_at FROM receipts
		WHERE appeal_id = $1 ORDER BY chain_pos, type`, appealID)
	if err != nil {
		return nil, fmt.Errorf("read receipts: %w", err)
	}
	defer rows.Close()
	out := []ReceiptRecord{}
	for rows.Next() {
		var r ReceiptRecord
		if err := rows.Scan(&r.ID, &r.Type, &r.DeliveryID, &r.CreatedAt); err != nil {
			return nil, fmt.Errorf("scan receipt: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
