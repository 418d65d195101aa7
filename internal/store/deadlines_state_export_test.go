package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"

	"appealhub/schemas"
)

// CurrentDueForTest is a current due_dates row as dueWrites.add sees it (tests only).
type CurrentDueForTest struct {
	ID        int64
	DueAt     time.Time
	Rule      string
	Version   string
	Closed    bool
	OverdueAt *time.Time
}

// DeadlineReadsForTest reads a delivery's deadline facts, in a transaction it rolls back, three
// ways: deadlineFacts (the notifier's), deadlineStates (the keeper's, with the current due dates),
// and the three statements these replaced (oldDeadlineReads), so that tests can hold them equal.
func (s *Store) DeadlineReadsForTest(ctx context.Context, deliveryID string) (facts, state, old schemas.DeadlineFacts,
	dues, oldDues map[schemas.DueKind]CurrentDueForTest, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return facts, state, old, nil, nil, err
	}
	defer func() { _ = tx.Rollback() }()
	if facts, err = deadlineFacts(ctx, tx, deliveryID); err != nil {
		return facts, state, old, nil, nil, fmt.Errorf("deadlineFacts: %w", err)
	}
	state, current, err := deadlineState(ctx, tx, deliveryID)
	if err != nil {
		return facts, state, old, nil, nil, fmt.Errorf("deadlineState: %w", err)
	}
	old, oldCurrent, err := oldDeadlineReads(ctx, tx, deliveryID)
	if err != nil {
		return facts, state, old, nil, nil, fmt.Errorf("oldDeadlineReads: %w", err)
	}
	return facts, state, old, duesForTest(current), duesForTest(oldCurrent), nil
}

// DeadlineStatesForTest reads the facts and current due dates of the deliveries ids with one
// deadlineStates (the keeper's read of a step), and of each with oldDeadlineReads, in a
// transaction it rolls back; by delivery id.
func (s *Store) DeadlineStatesForTest(ctx context.Context, ids []string) (states, old map[string]schemas.DeadlineFacts,
	dues, oldDues map[string]map[schemas.DueKind]CurrentDueForTest, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	defer func() { _ = tx.Rollback() }()
	read, err := deadlineStates(ctx, tx, ids)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("deadlineStates: %w", err)
	}
	states, old = map[string]schemas.DeadlineFacts{}, map[string]schemas.DeadlineFacts{}
	dues, oldDues = map[string]map[schemas.DueKind]CurrentDueForTest{}, map[string]map[schemas.DueKind]CurrentDueForTest{}
	for id, st := range read {
		states[id], dues[id] = st.facts, duesForTest(st.current)
	}
	for _, id := range ids {
		f, current, err := oldDeadlineReads(ctx, tx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, nil, nil, fmt.Errorf("oldDeadlineReads: %w", err)
		}
		old[id], oldDues[id] = f, duesForTest(current)
	}
	return states, old, dues, oldDues, nil
}

// deadlineState reads one delivery with deadlineStates (ErrNotFound when there is none).
func deadlineState(ctx context.Context, tx *sql.Tx, deliveryID string) (schemas.DeadlineFacts, map[schemas.DueKind]currentDue, error) {
	states, err := deadlineStates(ctx, tx, []string{deliveryID})
	if err != nil {
		return schemas.DeadlineFacts{}, nil, err
	}
	st, ok := states[deliveryID]
	if !ok {
		return schemas.DeadlineFacts{}, nil, fmt.Errorf("read the deadline facts of delivery %s: %w", deliveryID, ErrNotFound)
	}
	return st.facts, st.current, nil
}

func duesForTest(m map[schemas.DueKind]currentDue) map[schemas.DueKind]CurrentDueForTest {
	out := map[schemas.DueKind]CurrentDueForTest{}
	for k, c := range m {
		out[k] = CurrentDueForTest{ID: c.id, DueAt: c.dueAt, Rule: c.rule, Version: c.version, Closed: c.closed, OverdueAt: c.overdueAt}
	}
	return out
}

// oldDeadlineReads is the reference: the facts statement, the extensions statement and the
// current due dates statement as they were before deadlineState read them in one.
func oldDeadlineReads(ctx context.Context, tx *sql.Tx, deliveryID string) (schemas.DeadlineFacts, map[schemas.DueKind]currentDue, error) {
	var f schemas.DeadlineFacts
	var sent, delivered, simple sql.NullTime
	var body []byte
	err := tx.QueryRowContext(ctx, `
		SELECT d.id, d.appeal_id, d.authority_code, a.case_kind, d.status,
		       coalesce((SELECT min(e.created_at) FROM events e
		                 WHERE e.appeal_id = d.appeal_id AND e.delivery_id = d.id AND e.status = d.status), d.updated_at),
		       d.sent_at,
		       coalesce(d.delivered_at, (SELECT min(e.created_at) FROM events e
		                 WHERE e.appeal_id = d.appeal_id AND e.delivery_id = d.id AND e.status = ANY($3))),
		       CASE WHEN a.case_kind = $2 THEN a.body END,
		       (SELECT min(m.received_at) FROM authority_messages m WHERE m.delivery_id = d.id AND m.message @> '{"simple": true}')
		FROM deliveries d JOIN appeals a ON a.id = d.appeal_id
		WHERE d.id = $1`, deliveryID, string(schemas.CaseInfoRequest), pq.Array(statusNames(deliveredStatuses))).
		Scan(&f.DeliveryID, &f.AppealID, &f.Authority, &f.CaseKind, &f.Status, &f.StatusAt, &sent, &delivered, &body, &simple)
	if err != nil {
		return f, nil, mapErr(err)
	}
	f.SentAt, f.DeliveredAt, f.SimpleAt = nullTime(sent), nullTime(delivered), nullTime(simple)
	f.Simple = f.SimpleAt != nil
	if body != nil {
		var sub struct {
			Urgent bool `json:"urgent"`
		}
		if json.Unmarshal(body, &sub) == nil {
			f.Urgent = sub.Urgent
		}
	}
	rows, err := tx.QueryContext(ctx, `
		SELECT message_id, received_at, message ->> 'new_due_date' FROM authority_messages
		WHERE delivery_id = $1 AND type = $2 AND message ? 'new_due_date'
		ORDER BY received_at, message_id`, deliveryID, string(schemas.MsgExtended))
	if err != nil {
		return f, nil, err
	}
	for rows.Next() {
		var e schemas.DeadlineExtension
		var due string
		if err := rows.Scan(&e.MessageID, &e.ReceivedAt, &due); err != nil {
			rows.Close()
			return f, nil, err
		}
		if e.NewDueDate, err = time.Parse(time.RFC3339Nano, due); err != nil {
			continue
		}
		f.Extensions = append(f.Extensions, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return f, nil, err
	}
	rows, err = tx.QueryContext(ctx, `
		SELECT id, kind, due_at, rule, calendar_version, closed_at IS NOT NULL, overdue_at
		FROM due_dates WHERE delivery_id = $1 AND superseded_by IS NULL ORDER BY kind FOR UPDATE`, f.DeliveryID)
	if err != nil {
		return f, nil, err
	}
	defer rows.Close()
	current := map[schemas.DueKind]currentDue{}
	for rows.Next() {
		var c currentDue
		var kind schemas.DueKind
		var overdue sql.NullTime
		if err := rows.Scan(&c.id, &kind, &c.dueAt, &c.rule, &c.version, &c.closed, &overdue); err != nil {
			return f, nil, err
		}
		c.overdueAt = nullTime(overdue)
		current[kind] = c
	}
	return f, current, rows.Err()
}
