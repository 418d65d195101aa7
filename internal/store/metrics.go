package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"appealhub/schemas"
)

// Levels are the levels of work the metrics endpoint reports from the database: what is waiting,
// what has ended dead and what is overdue, read in one snapshot.
type Levels struct {
	// OutboxPending counts the outbox rows not yet published (both families: deliveries and
	// portal notifications).
	OutboxPending int
	// OutboxOldest is the age at now of the oldest pending outbox row (0 when none is pending).
	OutboxOldest time.Duration
	// DeadByAuthority counts the dead deliveries of each authority code (codes with none are left out).
	DeadByAuthority map[string]int
	// OverdueByKind counts the current due dates that are open and reported overdue, by kind.
	OverdueByKind map[schemas.DueKind]int
}

// Levels reads the levels at now in one read-only transaction. It honours ctx: a caller bounds it
// with a timeout so that a scrape never hangs on an unreachable database.
func (s *Store) Levels(ctx context.Context, now time.Time) (Levels, error) {
	l := Levels{DeadByAuthority: map[string]int{}, OverdueByKind: map[schemas.DueKind]int{}}
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return l, fmt.Errorf("read levels: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var oldest sql.NullTime
	if err := tx.QueryRowContext(ctx, `SELECT count(*), min(created_at) FROM outbox WHERE status = 'pending'`).
		Scan(&l.OutboxPending, &oldest); err != nil {
		return l, fmt.Errorf("read outbox level: %w", err)
	}
	if oldest.Valid {
		l.OutboxOldest = max(now.Sub(oldest.Time), 0)
	}
	if err := countInto(ctx, tx, l.DeadByAuthority, `
		SELECT authority_code, count(*) FROM deliveries WHERE status = $1 GROUP BY authority_code`,
		string(schemas.StatusDead)); err != nil {
		return l, fmt.Errorf("count dead deliveries: %w", err)
	}
	overdue := map[string]int{}
	if err := countInto(ctx, tx, overdue, `
		SELECT kind, count(*) FROM due_dates
		WHERE superseded_by IS NULL AND closed_at IS NULL AND overdue_at IS NOT NULL GROUP BY kind`); err != nil {
		return l, fmt.Errorf("count overdue due dates: %w", err)
	}
	for k, n := range overdue {
		l.OverdueByKind[schemas.DueKind(k)] = n
	}
	return l, nil
}

// countInto adds the (key, count) rows of query to into.
func countInto(ctx context.Context, tx *sql.Tx, into map[string]int, query string, args ...any) error {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return err
		}
		into[k] = n
	}
	return rows.Err()
}
