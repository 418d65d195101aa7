package store

import (
	"context"
	"database/sql"
	"fmt"
)

// HeldTx is a transaction a test holds open, as a relay's claim or a delivery worker's outcome in
// flight holds one.
type HeldTx struct{ tx *sql.Tx }

// HoldForTest begins a transaction, runs query in it (a SELECT … FOR UPDATE, an UPDATE) and keeps
// it open until Commit or Rollback.
func (s *Store) HoldForTest(ctx context.Context, query string, args ...any) (*HeldTx, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	if _, err := tx.ExecContext(ctx, query, args...); err != nil {
		_ = tx.Rollback()
		return nil, fmt.Errorf("hold for test: %w", err)
	}
	return &HeldTx{tx: tx}, nil
}

// Commit commits the held transaction.
func (h *HeldTx) Commit() error { return h.tx.Commit() }

// Rollback rolls the held transaction back.
func (h *HeldTx) Rollback() error { return h.tx.Rollback() }
