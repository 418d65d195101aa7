package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lib/pq"

	"appealhub/schemas"
)

// The deadline keeper's per-delivery code as it was before a step read the facts of all its
// deliveries with one statement and wrote its due dates and events with a few (keepStep,
// rederive, dueWrites, insertDeadlineEvents): the reference the batch is held equal to.

// DeadlineWritesForTest is what a keeper step or a calendar import left, in a transaction rolled
// back after (tests only): every due_dates row and every event (its transaction id aside), as
// JSON text in id and seq order, and the statements it ran.
type DeadlineWritesForTest struct {
	Step       DeadlineStep
	Import     CalendarImport
	DueDates   []string
	Events     []string
	Statements int
}

// KeepStepBothWaysForTest runs the keeper's next step over up to limit chain links (as
// KeepDeadlines would, the cursor aside) twice from the same state: the step KeepDeadlines runs
// (keepStep) and the per-delivery code it replaced (oldKeepStep), each in a transaction it rolls
// back, setting the sequences back after each, so that the same writes draw the same ids.
func (s *Store) KeepStepBothWaysForTest(ctx context.Context, limit int, skip []schemas.EventType, now time.Time,
	derive DeriveFunc) (batch, old DeadlineWritesForTest, err error) {
	var from, to int64
	if err := s.db.QueryRowContext(ctx, `SELECT pos FROM deadline_cursor`).Scan(&from); err != nil {
		return batch, old, err
	}
	if err := s.db.QueryRowContext(ctx, `SELECT coalesce(max(pos), $1) FROM event_chain WHERE pos > $1 AND pos <= $1 + $2`,
		from, limit).Scan(&to); err != nil {
		return batch, old, err
	}
	if batch, err = s.deadlineWritesForTest(ctx, func(tx txQueryer, w *DeadlineWritesForTest) (err error) {
		w.Step, err = keepStep(ctx, tx, from, to, skip, now, derive)
		return err
	}); err != nil {
		return batch, old, fmt.Errorf("keepStep: %w", err)
	}
	if old, err = s.deadlineWritesForTest(ctx, func(tx txQueryer, w *DeadlineWritesForTest) (err error) {
		w.Step, err = oldKeepStep(ctx, tx, from, to, skip, now, derive)
		return err
	}); err != nil {
		return batch, old, fmt.Errorf("oldKeepStep: %w", err)
	}
	return batch, old, nil
}

// ImportCalendarBothWaysForTest imports c as the current calendar and recomputes the open due
// dates twice from the same state, with recomputeOpen and with the per-delivery code it replaced,
// as KeepStepBothWaysForTest does.
func (s *Store) ImportCalendarBothWaysForTest(ctx context.Context, c NewCalendar, now time.Time,
	derive DeriveFunc) (batch, old DeadlineWritesForTest, err error) {
	run := func(recompute func(context.Context, txQueryer, schemas.StoredCalendar, time.Time, DeriveFunc, *CalendarImport) error) (DeadlineWritesForTest, error) {
		return s.deadlineWritesForTest(ctx, func(tx txQueryer, w *DeadlineWritesForTest) error {
			var stored schemas.StoredCalendar
			sum := sha256.Sum256(c.Source)
			if err := tx.QueryRowContext(ctx, `
				INSERT INTO calendars (version, source, sha256, imported_at, imported_by) VALUES ($1, $2, $3, $4, $5)
				RETURNING `+calendarColumns, c.Version, c.Source, sum[:], now, c.By).
				Scan(&stored.ID, &stored.Version, &stored.Source, &stored.SHA256, &stored.ImportedAt, &stored.ImportedBy); err != nil {
				return fmt.Errorf("insert calendar: %w", err)
			}
			w.Import.Calendar, w.Import.Imported = stored, true
			return recompute(ctx, tx, stored, now, derive, &w.Import)
		})
	}
	if batch, err = run(recomputeOpen); err != nil {
		return batch, old, fmt.Errorf("recomputeOpen: %w", err)
	}
	if old, err = run(oldRecomputeOpen); err != nil {
		return batch, old, fmt.Errorf("oldRecomputeOpen: %w", err)
	}
	return batch, old, nil
}

// DeadlineTablesForTest returns every due_dates row and every event as DeadlineWritesForTest
// shows them.
func (s *Store) DeadlineTablesForTest(ctx context.Context) (dueDates, events []string, err error) {
	return deadlineTablesForTest(ctx, s.db)
}

func deadlineTablesForTest(ctx context.Context, q queryer) (dueDates, events []string, err error) {
	if dueDates, err = queryStrings(ctx, q, `SELECT row_to_json(d)::text FROM due_dates d ORDER BY id`); err != nil {
		return nil, nil, err
	}
	events, err = queryStrings(ctx, q, `
		SELECT json_build_array(seq, appeal_id, delivery_id, type, status, detail, created_at)::text FROM events ORDER BY seq`)
	return dueDates, events, err
}

// deadlineWritesForTest runs fn in a transaction with a statement counter, reads the tables, rolls
// back and sets the sequences of due_dates, events and calendars back to where they were.
func (s *Store) deadlineWritesForTest(ctx context.Context, fn func(txQueryer, *DeadlineWritesForTest) error) (DeadlineWritesForTest, error) {
	var w DeadlineWritesForTest
	type seqState struct {
		name   string
		last   int64
		called bool
	}
	var seqs []seqState
	for _, col := range [][2]string{{"due_dates", "id"}, {"events", "seq"}, {"calendars", "id"}} {
		var st seqState
		if err := s.db.QueryRowContext(ctx, `SELECT pg_get_serial_sequence($1, $2)`, col[0], col[1]).Scan(&st.name); err != nil {
			return w, err
		}
		if err := s.db.QueryRowContext(ctx, `SELECT last_value, is_called FROM `+st.name).Scan(&st.last, &st.called); err != nil {
			return w, err
		}
		seqs = append(seqs, st)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return w, err
	}
	err = func() error {
		defer func() { _ = tx.Rollback() }()
		counting := &countingTx{Tx: tx}
		if err := fn(counting, &w); err != nil {
			return err
		}
		w.Statements = counting.n
		w.DueDates, w.Events, err = deadlineTablesForTest(ctx, tx)
		return err
	}()
	for _, st := range seqs {
		if _, serr := s.db.ExecContext(ctx, `SELECT setval($1, $2, $3)`, st.name, st.last, st.called); serr != nil && err == nil {
			err = serr
		}
	}
	return w, err
}

// countingTx counts the statements run in a transaction.
type countingTx struct {
	*sql.Tx
	n int
}

func (c *countingTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	c.n++
	return c.Tx.ExecContext(ctx, query, args...)
}

func (c *countingTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	c.n++
	return c.Tx.QueryContext(ctx, query, args...)
}

func (c *countingTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	c.n++
	return c.Tx.QueryRowContext(ctx, query, args...)
}

// oldKeepStep is keepStep as it was: per delivery, a read, a statement per due date written and
// one per event.
func oldKeepStep(ctx context.Context, tx txQueryer, from, to int64, skip []schemas.EventType, now time.Time,
	derive DeriveFunc) (DeadlineStep, error) {
	var out DeadlineStep
	ids, err := chainDeliveries(ctx, tx, from, to, skip)
	if err != nil || len(ids) == 0 {
		return out, err
	}
	cal, err := currentCalendar(ctx, tx)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return out, err
	}
	for _, id := range ids {
		changed, err := oldRederive(ctx, tx, id, cal, now, derive)
		if err != nil {
			return out, err
		}
		out.Deliveries++
		out.Changed += len(changed)
		if i := slices.IndexFunc(changed, func(d DueDateSpec) bool { return d.Kind == schemas.DueAnswer }); i >= 0 {
			d := changed[i]
			if err := oldInsertDeadlineEvent(ctx, tx, id, schemas.EventDeadlineSet, fmt.Sprintf("answer due %s (%s, calendar %s)",
				d.DueAt.Format(time.RFC3339), d.Explanation.Rule, d.Explanation.CalendarVersion), now); err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

// oldRecomputeOpen is recomputeOpen as it was, one delivery at a time.
func oldRecomputeOpen(ctx context.Context, tx txQueryer, cal schemas.StoredCalendar, now time.Time, derive DeriveFunc, out *CalendarImport) error {
	ids, err := queryStrings(ctx, tx, `
		SELECT DISTINCT delivery_id::text FROM due_dates WHERE superseded_by IS NULL AND closed_at IS NULL ORDER BY 1`)
	if err != nil {
		return fmt.Errorf("list deliveries with open due dates: %w", err)
	}
	for _, id := range ids {
		changed, err := oldRederive(ctx, tx, id, cal, now, derive)
		if err != nil {
			return err
		}
		out.Recomputed++
		if len(changed) == 0 {
			continue
		}
		out.Changed++
		parts := make([]string, len(changed))
		for i, d := range changed {
			parts[i] = fmt.Sprintf("%s due %s (%s)", d.Kind, d.DueAt.Format(time.RFC3339), d.Explanation.Rule)
		}
		if err := oldInsertDeadlineEvent(ctx, tx, id, schemas.EventDeadlineRecomputed,
			"calendar "+cal.Version+": "+strings.Join(parts, "; "), now); err != nil {
			return err
		}
	}
	return nil
}

// oldRederive reads a delivery's facts, derives its due dates and stores them; it returns the due
// dates that were inserted or superseded and are open.
func oldRederive(ctx context.Context, tx txQueryer, deliveryID string, cal schemas.StoredCalendar, now time.Time, derive DeriveFunc) ([]DueDateSpec, error) {
	f, current, err := oldDeadlineState(ctx, tx, deliveryID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	specs, err := derive(cal, f)
	if err != nil {
		return nil, fmt.Errorf("derive the due dates of delivery %s: %w", deliveryID, err)
	}
	return oldApplyDueDates(ctx, tx, f, current, specs, now)
}

// oldDeadlineStateSQL is the keeper's read of one delivery as it was.
const oldDeadlineStateSQL = `
	WITH cur_dues AS (
		SELECT id, kind, due_at, rule, calendar_version, closed_at IS NOT NULL AS closed, overdue_at
		FROM due_dates WHERE delivery_id = $1 AND superseded_by IS NULL ORDER BY kind FOR UPDATE)
	SELECT d.id, d.appeal_id, d.authority_code, a.case_kind, d.status,
	       coalesce((SELECT min(e.created_at) FROM events e
	                 WHERE e.appeal_id = d.appeal_id AND e.delivery_id = d.id AND e.status = d.status), d.updated_at),
	       d.sent_at,
	       coalesce(d.delivered_at, (SELECT min(e.created_at) FROM events e
	                 WHERE e.appeal_id = d.appeal_id AND e.delivery_id = d.id AND e.status = ANY($3))),
	       CASE WHEN a.case_kind = $2 THEN a.body END,
	       (SELECT min(m.received_at) FROM authority_messages m WHERE m.delivery_id = d.id AND m.message @> '{"simple": true}'),
	       x.message_id, x.received_at, x.new_due_date,
	       (SELECT json_agg(json_build_object('id', c.id, 'kind', c.kind,
	                'due_at', (extract(epoch FROM c.due_at) * 1000000)::bigint, 'rule', c.rule,
	                'calendar_version', c.calendar_version, 'closed', c.closed,
	                'overdue_at', (extract(epoch FROM c.overdue_at) * 1000000)::bigint))
	        FROM cur_dues c)
	FROM deliveries d JOIN appeals a ON a.id = d.appeal_id
	LEFT JOIN LATERAL (
	    SELECT m.message_id, m.received_at, m.message ->> 'new_due_date' AS new_due_date
	    FROM authority_messages m
	    WHERE m.delivery_id = d.id AND m.type = $4 AND m.message ? 'new_due_date') x ON true
	WHERE d.id = $1
	ORDER BY x.received_at, x.message_id`

// oldDeadlineState is readDeadlineFacts with the current due dates, as it was.
func oldDeadlineState(ctx context.Context, tx txQueryer, deliveryID string) (schemas.DeadlineFacts, map[schemas.DueKind]currentDue, error) {
	var f schemas.DeadlineFacts
	rows, err := tx.QueryContext(ctx, oldDeadlineStateSQL, deliveryID, string(schemas.CaseInfoRequest),
		pq.Array(statusNames(deliveredStatuses)), string(schemas.MsgExtended))
	if err != nil {
		return f, nil, fmt.Errorf("read the deadline facts of delivery %s: %w", deliveryID, err)
	}
	defer rows.Close()
	var dues []byte
	found := false
	for rows.Next() {
		var sent, delivered, simple, extReceived sql.NullTime
		var body []byte
		var extID, extDue sql.NullString
		if err := rows.Scan(&f.DeliveryID, &f.AppealID, &f.Authority, &f.CaseKind, &f.Status, &f.StatusAt, &sent, &delivered, &body, &simple,
			&extID, &extReceived, &extDue, &dues); err != nil {
			return f, nil, fmt.Errorf("read the deadline facts of delivery %s: %w", deliveryID, err)
		}
		if !found {
			found = true
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
		}
		if !extID.Valid {
			continue
		}
		if !extDue.Valid {
			return f, nil, fmt.Errorf("scan extension: new_due_date of message %s is null", extID.String)
		}
		e := schemas.DeadlineExtension{MessageID: extID.String, ReceivedAt: extReceived.Time}
		if e.NewDueDate, err = time.Parse(time.RFC3339Nano, extDue.String); err != nil {
			continue
		}
		f.Extensions = append(f.Extensions, e)
	}
	if err := rows.Err(); err != nil {
		return f, nil, fmt.Errorf("read the deadline facts of delivery %s: %w", deliveryID, err)
	}
	if !found {
		return f, nil, fmt.Errorf("read the deadline facts of delivery %s: %w", deliveryID, ErrNotFound)
	}
	current, err := decodeCurrentDues(dues)
	if err != nil {
		return f, nil, fmt.Errorf("read the due dates of delivery %s: %w", deliveryID, err)
	}
	return f, current, nil
}

// oldApplyDueDates is applyDueDates as it was: a statement per due date written.
func oldApplyDueDates(ctx context.Context, tx txQueryer, f schemas.DeadlineFacts, current map[schemas.DueKind]currentDue,
	specs []DueDateSpec, now time.Time) ([]DueDateSpec, error) {
	var changed []DueDateSpec
	for _, d := range specs {
		explanation, err := json.Marshal(d.Explanation)
		if err != nil {
			return nil, fmt.Errorf("encode the explanation: %w", err)
		}
		cur, ok := current[d.Kind]
		delete(current, d.Kind)
		switch {
		case ok && cur.closed:
			continue
		case ok && cur.dueAt.Equal(d.DueAt) && cur.rule == d.Explanation.Rule:
			if _, err := tx.ExecContext(ctx, `
				UPDATE due_dates SET explanation = $2, calendar_version = $3, closed_at = $4, met = $5 WHERE id = $1`,
				cur.id, explanation, d.Explanation.CalendarVersion, nullTimePtr(d.ClosedAt), nullBool(d.Met)); err != nil {
				return nil, fmt.Errorf("update due date: %w", err)
			}
			continue
		}
		var overdue *time.Time
		if ok && cur.overdueAt != nil && !d.DueAt.After(*cur.overdueAt) {
			overdue = cur.overdueAt
		}
		if err := oldInsertDueDate(ctx, tx, f, d, explanation, overdue, ok, cur.id, now); err != nil {
			return nil, err
		}
		if d.ClosedAt == nil {
			changed = append(changed, d)
		}
	}
	for _, cur := range current {
		if cur.closed {
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE due_dates SET closed_at = $2 WHERE id = $1`, cur.id, now); err != nil {
			return nil, fmt.Errorf("close due date: %w", err)
		}
	}
	return changed, nil
}

// oldInsertDueDate is insertDueDate as it was: one due date, one statement.
func oldInsertDueDate(ctx context.Context, tx txQueryer, f schemas.DeadlineFacts, d DueDateSpec, explanation []byte, overdue *time.Time,
	supersede bool, supersededID int64, now time.Time) error {
	args := []any{f.DeliveryID, f.AppealID, string(d.Kind), d.DueAt, d.Explanation.Rule, d.Explanation.CalendarVersion, explanation, now,
		nullTimePtr(d.ClosedAt), nullBool(d.Met), nullTimePtr(overdue)}
	if !supersede {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO due_dates (delivery_id, appeal_id, kind, due_at, rule, calendar_version, explanation, created_at,
			                       closed_at, met, overdue_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, args...); err != nil {
			return fmt.Errorf("insert due date: %w", mapErr(err))
		}
		return nil
	}
	if _, err := tx.ExecContext(ctx, `
		WITH old AS (
			UPDATE due_dates SET superseded_by = nextval(pg_get_serial_sequence('due_dates', 'id')), superseded_at = $8
			WHERE id = $12
			RETURNING superseded_by)
		INSERT INTO due_dates (id, delivery_id, appeal_id, kind, due_at, rule, calendar_version, explanation, created_at,
		                       closed_at, met, overdue_at)
		VALUES ((SELECT superseded_by FROM old), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		append(args, supersededID)...); err != nil {
		return fmt.Errorf("supersede due date %d: %w", supersededID, mapErr(err))
	}
	return nil
}

// oldInsertDeadlineEvent is insertDeadlineEvent as it was: one event, one statement.
func oldInsertDeadlineEvent(ctx context.Context, tx txQueryer, deliveryID string, t schemas.EventType, detail string, at time.Time) error {
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO events (appeal_id, delivery_id, type, status, detail, created_at)
		SELECT appeal_id, id, $2, status, $3, $4 FROM deliveries WHERE id = $1`,
		deliveryID, string(t), detail, at); err != nil {
		return fmt.Errorf("insert %s event: %w", t, err)
	}
	return nil
}
