package store

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
)

// A cursor over the sealed event chain lets a reader react to every event exactly once, however
// many hub processes run it: the cursor is a one-row table holding the last chain position
// handled; each step takes a transaction advisory lock (one process at a time moves the cursor),
// handles the links after the cursor and moves it, in one transaction. The notary of the signed
// receipts (receipt_cursor) and the portal notifier (notification_cursor) are such readers.

// chainCursor names one cursor: its table (one row, column pos) and the name of its lock.
type chainCursor struct {
	table string
	lock  string
}

var (
	receiptCursor      = chainCursor{table: "receipt_cursor", lock: "appealhub:receipts:"}
	notificationCursor = chainCursor{table: "notification_cursor", lock: "appealhub:notifications:"}
)

// CursorStep is what one step of a cursor over the event chain did.
type CursorStep struct {
	Passed int64 // chain links the cursor moved over
	Cursor int64 // the last chain position handled after the step
	Busy   bool  // another process was moving the cursor: this step did nothing
}

// lockKey is the transaction advisory lock of c in this store's schema.
func (s *Store) lockKey(c chainCursor) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(c.lock + s.schema))
	return int64(h.Sum64() >> 1)
}

// advanceCursor moves c over up to limit chain links in one transaction: handle gets the
// transaction and the positions (from, to] to handle, and the cursor then moves to to. Either all
// of it is committed or nothing, so every link is handled exactly once. When another process holds
// the cursor's lock it returns at once with Busy set; when the chain has nothing after the cursor,
// handle is not called.
func (s *Store) advanceCursor(ctx context.Context, c chainCursor, limit int, handle func(tx *sql.Tx, from, to int64) error) (CursorStep, error) {
	var out CursorStep
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var locked bool
		if err := tx.QueryRowContext(ctx, `SELECT pg_try_advisory_xact_lock($1)`, s.lockKey(c)).Scan(&locked); err != nil {
			return fmt.Errorf("take the lock of %s: %w", c.table, err)
		}
		if !locked {
			out.Busy = true
			return nil
		}
		var from, to int64
		// FOR UPDATE: a writer that did not take the lock still waits here and then sees the moved cursor.
		if err := tx.QueryRowContext(ctx, `SELECT pos FROM `+c.table+` FOR UPDATE`).Scan(&from); err != nil {
			return fmt.Errorf("read %s: %w", c.table, err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(pos), $1) FROM event_chain WHERE pos > $1 AND pos <= $1 + $2`,
			from, limit).Scan(&to); err != nil {
			return fmt.Errorf("read the chain ahead of %s: %w", c.table, err)
		}
		out.Cursor = from
		if to == from {
			return nil
		}
		if err := handle(tx, from, to); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE `+c.table+` SET pos = $1`, to); err != nil {
			return fmt.Errorf("move %s: %w", c.table, err)
		}
		out.Cursor, out.Passed = to, to-from
		return nil
	})
	return out, err
}

// cursorPos returns the last chain position c has handled (0: none).
func (s *Store) cursorPos(ctx context.Context, c chainCursor) (int64, error) {
	var pos int64
	if err := s.db.QueryRowContext(ctx, `SELECT pos FROM `+c.table).Scan(&pos); err != nil {
		return 0, fmt.Errorf("read %s: %w", c.table, err)
	}
	return pos, nil
}
