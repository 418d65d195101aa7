package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"appealhub/schemas"
)

// Test-only access for the event chain tests (package store_test).

// ExecForTest runs statements as they are (tamper tests).
func (s *Store) ExecForTest(ctx context.Context, query string, args ...any) error {
	if _, err := s.db.ExecContext(ctx, query, args...); err != nil {
		return fmt.Errorf("exec for test: %w", err)
	}
	return nil
}

// EventTx is a transaction, held open by the test, that adds events the way the stages do.
type EventTx struct{ tx *sql.Tx }

// BeginEventTx begins a transaction and gives it its transaction id at once.
func (s *Store) BeginEventTx(ctx context.Context) (*EventTx, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_current_xact_id()`); err != nil {
		_ = tx.Rollback()
		return nil, fmt.Errorf("take a transaction id: %w", err)
	}
	return &EventTx{tx: tx}, nil
}

// AddEvent inserts an event with insertEvent and returns its seq.
func (t *EventTx) AddEvent(ctx context.Context, appealID, deliveryID string) (int64, error) {
	if err := insertEvent(ctx, t.tx, appealID, deliveryID, schemas.EventDeliveryAttempt, schemas.StatusQueued, "test", time.Now().UTC()); err != nil {
		return 0, err
	}
	var seq int64
	if err := t.tx.QueryRowContext(ctx, `SELECT currval(pg_get_serial_sequence('events', 'seq'))`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("read event seq: %w", err)
	}
	return seq, nil
}

// Commit commits the transaction.
func (t *EventTx) Commit() error { return t.tx.Commit() }

// Rollback rolls the transaction back.
func (t *EventTx) Rollback() error { return t.tx.Rollback() }

// AddEventsForTest inserts n events of one delivery in one statement (benchmarks).
func (s *Store) AddEventsForTest(ctx context.Context, appealID, deliveryID string, n int) error {
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO events (appeal_id, delivery_id, type, status, detail, created_at)
		SELECT $1, $2, 'delivery_attempt_failed', 'queued', 'attempt ' || i, now() FROM generate_series(1, $3) AS i`,
		appealID, deliveryID, n)
	if err != nil {
		return fmt.Errorf("add events: %w", err)
	}
	return nil
}
