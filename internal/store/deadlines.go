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

// Deadlines (migration 00013, docs/deadlines.md): the working-day calendars and the due dates of
// deliveries. The store reads the facts of a delivery and writes the due dates a DeriveFunc
// computes from them; the terms of the law are the caller's (internal/deadline).

// DueDateSpec is a due date the caller computed for a delivery.
type DueDateSpec struct {
	Kind        schemas.DueKind
	DueAt       time.Time
	Explanation schemas.DueExplanation // Rule and CalendarVersion are stored in columns too
	// ClosedAt and Met record how it ended (nil: open; Met nil: it no longer applies).
	ClosedAt *time.Time
	Met      *bool
}

// NewCalendar is a calendar version to import. The caller has parsed and checked Source.
type NewCalendar struct {
	Version string
	Source  []byte
	By      string
}

// DeriveFunc computes the due dates of a delivery from its facts with the calendar cal (the
// current one; ID 0 when none is stored). An error stops the step: nothing of it is stored.
type DeriveFunc func(cal schemas.StoredCalendar, f schemas.DeadlineFacts) ([]DueDateSpec, error)

// DeadlineStep is what one step of the deadline keeper did.
type DeadlineStep struct {
	Deliveries int   // deliveries whose due dates were recomputed
	Changed    int   // due dates inserted or superseded
	Passed     int64 // chain links the cursor moved over
	Cursor     int64 // the last chain position handled after the step
	Busy       bool  // another process was keeping: this step did nothing
}

// CalendarImport is what importing a calendar did.
type CalendarImport struct {
	Calendar schemas.StoredCalendar
	// Imported is false when the same file was the current calendar already, or, for
	// SeedCalendar, when some calendar was stored already.
	Imported bool
	// Recomputed counts the open deliveries whose due dates were recomputed, Changed those whose
	// due dates changed (each got a deadline_recomputed event).
	Recomputed int
	Changed    int
}

// deadlineCursor is the deadline keeper's cursor over the event chain; a calendar import takes
// its lock too, so that the two never recompute at once.
var deadlineCursor = chainCursor{table: "deadline_cursor", lock: "appealhub:deadlines:"}

// KeepDeadlines moves the deadline cursor over up to limit links of the sealed event chain in one
// transaction: for every delivery that an event after the cursor concerns (events of the types in
// skip excepted), it reads the delivery's facts, derives its due dates with the current calendar
// and stores what changed (a deadline_set event when the answer due date is set or changes); then
// it records the new cursor. Either all of it is committed or nothing, so every event is handled
// exactly once. When another process holds the lock it returns at once with Busy set. Safe for
// concurrent use by several processes.
func (s *Store) KeepDeadlines(ctx context.Context, limit int, skip []schemas.EventType, now time.Time, derive DeriveFunc) (DeadlineStep, error) {
	var out DeadlineStep
	step, err := s.advanceCursor(ctx, deadlineCursor, limit, func(tx *sql.Tx, from, to int64) error {
		ids, err := chainDeliveries(ctx, tx, from, to, skip)
		if err != nil || len(ids) == 0 {
			return err
		}
		cal, err := currentCalendar(ctx, tx)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		for _, id := range ids {
			changed, err := rederive(ctx, tx, id, cal, now, derive)
			if err != nil {
				return err
			}
			out.Deliveries++
			out.Changed += len(changed)
			if i := slices.IndexFunc(changed, func(d DueDateSpec) bool { return d.Kind == schemas.DueAnswer }); i >= 0 {
				d := changed[i]
				if err := insertDeadlineEvent(ctx, tx, id, schemas.EventDeadlineSet, fmt.Sprintf("answer due %s (%s, calendar %s)",
					d.DueAt.Format(time.RFC3339), d.Explanation.Rule, d.Explanation.CalendarVersion), now); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return DeadlineStep{}, fmt.Errorf("keep deadlines: %w", err)
	}
	out.Passed, out.Cursor, out.Busy = step.Passed, step.Cursor, step.Busy
	return out, nil
}

// chainDeliveries returns the deliveries that the events sealed at positions (from, to] concern,
// events of the types in skip excepted, in id order.
func chainDeliveries(ctx context.Context, tx *sql.Tx, from, to int64, skip []schemas.EventType) ([]string, error) {
	names := make([]string, len(skip))
	for i, t := range skip {
		names[i] = string(t)
	}
	ids, err := queryStrings(ctx, tx, `
		SELECT DISTINCT e.delivery_id::text
		FROM event_chain c JOIN events e ON e.seq = c.seq
		WHERE c.pos > $1 AND c.pos <= $2 AND e.delivery_id IS NOT NULL AND e.type <> ALL($3)
		ORDER BY 1`, from, to, pq.Array(names))
	if err != nil {
		return nil, fmt.Errorf("read the deliveries of sealed events: %w", err)
	}
	return ids, nil
}

// queryStrings returns the one text column of a query's rows.
func queryStrings(ctx context.Context, q queryer, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// DeadlineCursor returns the last chain position the deadline keeper has handled (0: none).
func (s *Store) DeadlineCursor(ctx context.Context) (int64, error) {
	return s.cursorPos(ctx, deadlineCursor)
}

// rederive reads a delivery's facts, derives its due dates and stores them; it returns the due
// dates that were inserted or superseded and are open.
func rederive(ctx context.Context, tx *sql.Tx, deliveryID string, cal schemas.StoredCalendar, now time.Time, derive DeriveFunc) ([]DueDateSpec, error) {
	f, current, err := deadlineState(ctx, tx, deliveryID)
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
	return applyDueDates(ctx, tx, f, current, specs, now)
}

// deadlineFacts reads what the due dates of a delivery depend on, in one statement.
func deadlineFacts(ctx context.Context, tx *sql.Tx, deliveryID string) (schemas.DeadlineFacts, error) {
	f, _, err := readDeadlineFacts(ctx, tx, deliveryID, false)
	return f, err
}

// deadlineState reads, in one statement, the facts of a delivery and its current due dates, locked
// (FOR UPDATE) until the transaction ends, as applyDueDates needs them.
func deadlineState(ctx context.Context, tx *sql.Tx, deliveryID string) (schemas.DeadlineFacts, map[schemas.DueKind]currentDue, error) {
	return readDeadlineFacts(ctx, tx, deliveryID, true)
}

// deadlineFactsQuery reads the facts of delivery $1 with its extensions (the authority's extended
// messages that state a new due date): one row per extension in the order the hub received them,
// the delivery's facts repeated on each, or one row with NULL extension columns when there is
// none. The rows are scanned like any other, so the times are what a query of their own gave. The
// first %s is for a WITH clause, the second for a last column (deadlineStateSQL).
const deadlineFactsQuery = `%s
	SELECT d.id, d.appeal_id, d.authority_code, a.case_kind, d.status,
	       coalesce((SELECT min(e.created_at) FROM events e
	                 WHERE e.appeal_id = d.appeal_id AND e.delivery_id = d.id AND e.status = d.status), d.updated_at),
	       d.sent_at,
	       coalesce(d.delivered_at, (SELECT min(e.created_at) FROM events e
	                 WHERE e.appeal_id = d.appeal_id AND e.delivery_id = d.id AND e.status = ANY($3))),
	       CASE WHEN a.case_kind = $2 THEN a.body END,
	       (SELECT min(m.received_at) FROM authority_messages m WHERE m.delivery_id = d.id AND m.message @> '{"simple": true}'),
	       x.message_id, x.received_at, x.new_due_date%s
	FROM deliveries d JOIN appeals a ON a.id = d.appeal_id
	LEFT JOIN LATERAL (
	    SELECT m.message_id, m.received_at, m.message ->> 'new_due_date' AS new_due_date
	    FROM authority_messages m
	    WHERE m.delivery_id = d.id AND m.type = $4 AND m.message ? 'new_due_date') x ON true
	WHERE d.id = $1
	ORDER BY x.received_at, x.message_id`

var (
	// deadlineFactsSQL reads the facts alone (the notifier's view).
	deadlineFactsSQL = fmt.Sprintf(deadlineFactsQuery, "", "")
	// deadlineStateSQL also locks the delivery's current due dates and returns them as a JSON
	// array of dueJSON (NULL when there are none). The CTE is read by an uncorrelated sub-select,
	// evaluated once however many extension rows there are; a row the overdue sweep holds is
	// waited for and read as that sweep committed it, as a SELECT … FOR UPDATE of its own did.
	deadlineStateSQL = fmt.Sprintf(deadlineFactsQuery, `
	WITH cur_dues AS (
		SELECT id, kind, due_at, rule, calendar_version, closed_at IS NOT NULL AS closed, overdue_at
		FROM due_dates WHERE delivery_id = $1 AND superseded_by IS NULL ORDER BY kind FOR UPDATE)`, `,
	       (SELECT json_agg(json_build_object('id', c.id, 'kind', c.kind,
	                'due_at', (extract(epoch FROM c.due_at) * 1000000)::bigint, 'rule', c.rule,
	                'calendar_version', c.calendar_version, 'closed', c.closed,
	                'overdue_at', (extract(epoch FROM c.overdue_at) * 1000000)::bigint))
	        FROM cur_dues c)`)
)

// dueJSON is a current due_dates row as deadlineStateSQL returns it; times are microseconds since
// the epoch (exact whatever the session's time zone).
type dueJSON struct {
	ID              int64           `json:"id"`
	Kind            schemas.DueKind `json:"kind"`
	DueAt           int64           `json:"due_at"`
	Rule            string          `json:"rule"`
	CalendarVersion string          `json:"calendar_version"`
	Closed          bool            `json:"closed"`
	OverdueAt       *int64          `json:"overdue_at"`
}

// readDeadlineFacts runs deadlineStateSQL when withDues is set, deadlineFactsSQL otherwise (the
// current due dates are then nil).
func readDeadlineFacts(ctx context.Context, tx *sql.Tx, deliveryID string, withDues bool) (schemas.DeadlineFacts, map[schemas.DueKind]currentDue, error) {
	var f schemas.DeadlineFacts
	query := deadlineFactsSQL
	if withDues {
		query = deadlineStateSQL
	}
	rows, err := tx.QueryContext(ctx, query, deliveryID, string(schemas.CaseInfoRequest),
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
		dest := []any{&f.DeliveryID, &f.AppealID, &f.Authority, &f.CaseKind, &f.Status, &f.StatusAt, &sent, &delivered, &body, &simple,
			&extID, &extReceived, &extDue}
		if withDues {
			dest = append(dest, &dues)
		}
		if err := rows.Scan(dest...); err != nil {
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
			continue // the delivery has no extension
		}
		if !extDue.Valid {
			// A JSON null new_due_date: the string it is read into cannot hold it.
			return f, nil, fmt.Errorf("scan extension: new_due_date of message %s is null", extID.String)
		}
		e := schemas.DeadlineExtension{MessageID: extID.String, ReceivedAt: extReceived.Time}
		if e.NewDueDate, err = time.Parse(time.RFC3339Nano, extDue.String); err != nil {
			continue // stored by a decoder that checked it; never expected
		}
		f.Extensions = append(f.Extensions, e)
	}
	if err := rows.Err(); err != nil {
		return f, nil, fmt.Errorf("read the deadline facts of delivery %s: %w", deliveryID, err)
	}
	if !found {
		return f, nil, fmt.Errorf("read the deadline facts of delivery %s: %w", deliveryID, ErrNotFound)
	}
	if !withDues {
		return f, nil, nil
	}
	current, err := decodeCurrentDues(dues)
	if err != nil {
		return f, nil, fmt.Errorf("read the due dates of delivery %s: %w", deliveryID, err)
	}
	return f, current, nil
}

// decodeCurrentDues decodes deadlineStateSQL's JSON array of current due dates, by kind.
func decodeCurrentDues(agg []byte) (map[schemas.DueKind]currentDue, error) {
	current := map[schemas.DueKind]currentDue{}
	if agg == nil {
		return current, nil
	}
	var rows []dueJSON
	if err := json.Unmarshal(agg, &rows); err != nil {
		return nil, fmt.Errorf("decode current due dates: %w", err)
	}
	for _, r := range rows {
		c := currentDue{id: r.ID, dueAt: time.UnixMicro(r.DueAt).UTC(), rule: r.Rule, version: r.CalendarVersion, closed: r.Closed}
		if r.OverdueAt != nil {
			at := time.UnixMicro(*r.OverdueAt).UTC()
			c.overdueAt = &at
		}
		current[r.Kind] = c
	}
	return current, nil
}

// deliveredStatuses are the statuses only a document the authority's system has reaches.
var deliveredStatuses = []schemas.DeliveryStatus{schemas.StatusDelivered, schemas.StatusRegistered, schemas.StatusAnswered,
	schemas.StatusReturned, schemas.StatusNotConsidered}

// currentDue is a current due_dates row.
type currentDue struct {
	id        int64
	dueAt     time.Time
	rule      string
	version   string
	closed    bool
	overdueAt *time.Time
}

// applyDueDates stores the derived due dates of a delivery: a kind without a current row gets
// one; a current row that is closed stays as it is; one whose due date and rule are the same is
// updated in place (its explanation, and how it ended); otherwise a new row supersedes it. A new
// row takes over the old one's overdue report when it is not later than the moment of that report.
// current are the delivery's current due dates as deadlineState read and locked them; the kinds
// handled are deleted from it. It returns the due dates inserted or superseded that are open.
func applyDueDates(ctx context.Context, tx *sql.Tx, f schemas.DeadlineFacts, current map[schemas.DueKind]currentDue,
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
		if err := insertDueDate(ctx, tx, f, d, explanation, overdue, ok, cur.id, now); err != nil {
			return nil, err
		}
		if d.ClosedAt == nil {
			changed = append(changed, d)
		}
	}
	for _, cur := range current { // a kind that no longer applies
		if cur.closed {
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE due_dates SET closed_at = $2 WHERE id = $1`, cur.id, now); err != nil {
			return nil, fmt.Errorf("close due date: %w", err)
		}
	}
	return changed, nil
}

// insertDueDate inserts the due date d of delivery f, in one statement. When it supersedes the
// current row supersededID (supersede set), that statement's UPDATE draws the new row's id from
// the table's sequence and takes the old row out of the current index (due_dates_current); the
// INSERT's id is read from that UPDATE's RETURNING, so the new row cannot be formed, let alone
// checked against the index, before the old one left it (and a missing old row leaves the id NULL,
// an error). Otherwise the row takes its id from the column default, the same sequence. Either
// way ids are drawn in the order the due dates are stored, as when each had a nextval of its own.
func insertDueDate(ctx context.Context, tx *sql.Tx, f schemas.DeadlineFacts, d DueDateSpec, explanation []byte, overdue *time.Time,
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

func nullBool(b *bool) sql.NullBool {
	if b == nil {
		return sql.NullBool{}
	}
	return sql.NullBool{Bool: *b, Valid: true}
}

// insertDeadlineEvent adds an event about a delivery's due dates, with the delivery's status.
func insertDeadlineEvent(ctx context.Context, tx *sql.Tx, deliveryID string, t schemas.EventType, detail string, at time.Time) error {
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO events (appeal_id, delivery_id, type, status, detail, created_at)
		SELECT appeal_id, id, $2, status, $3, $4 FROM deliveries WHERE id = $1`,
		deliveryID, string(t), detail, at); err != nil {
		return fmt.Errorf("insert %s event: %w", t, err)
	}
	return nil
}

// SeedCalendar imports c only when no calendar is stored yet (every hub process does it at start
// with the calendar embedded in the binary; the first one wins).
func (s *Store) SeedCalendar(ctx context.Context, c NewCalendar, now time.Time, derive DeriveFunc) (CalendarImport, error) {
	return s.importCalendar(ctx, c, true, now, derive)
}

// ImportCalendar stores c as the current calendar and recomputes, in the same transaction, the
// due dates of every delivery that has an open one, with a deadline_recomputed event for each
// delivery whose due dates changed. Importing the current calendar again does nothing (Imported
// false); a version imported before with other content, or that is not the current one, is
// ErrConflict. It waits for a keeper step in flight.
func (s *Store) ImportCalendar(ctx context.Context, c NewCalendar, now time.Time, derive DeriveFunc) (CalendarImport, error) {
	return s.importCalendar(ctx, c, false, now, derive)
}

func (s *Store) importCalendar(ctx context.Context, c NewCalendar, seedOnly bool, now time.Time, derive DeriveFunc) (CalendarImport, error) {
	var out CalendarImport
	sum := sha256.Sum256(c.Source)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, s.lockKey(deadlineCursor)); err != nil {
			return fmt.Errorf("take the deadline lock: %w", err)
		}
		cur, err := currentCalendar(ctx, tx)
		switch {
		case err == nil && seedOnly:
			out.Calendar = cur
			return nil
		case err == nil && cur.Version == c.Version:
			if string(cur.SHA256) != string(sum[:]) {
				return fmt.Errorf("calendar version %s was imported before with other content: give the file a new version: %w", c.Version, ErrConflict)
			}
			out.Calendar = cur
			return nil
		case err != nil && !errors.Is(err, ErrNotFound):
			return err
		}
		var stored schemas.StoredCalendar
		err = tx.QueryRowContext(ctx, `
			INSERT INTO calendars (version, source, sha256, imported_at, imported_by) VALUES ($1, $2, $3, $4, $5)
			RETURNING `+calendarColumns, c.Version, c.Source, sum[:], now, c.By).
			Scan(&stored.ID, &stored.Version, &stored.Source, &stored.SHA256, &stored.ImportedAt, &stored.ImportedBy)
		if errors.Is(mapErr(err), ErrDuplicate) {
			return fmt.Errorf("calendar version %s was imported before and is not the current one: give the file a new version: %w", c.Version, ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("insert calendar: %w", err)
		}
		out.Calendar, out.Imported = stored, true
		return recomputeOpen(ctx, tx, stored, now, derive, &out)
	})
	if err != nil {
		return CalendarImport{}, fmt.Errorf("import calendar %s: %w", c.Version, err)
	}
	return out, nil
}

// recomputeOpen recomputes the due dates of every delivery with an open due date.
func recomputeOpen(ctx context.Context, tx *sql.Tx, cal schemas.StoredCalendar, now time.Time, derive DeriveFunc, out *CalendarImport) error {
	ids, err := queryStrings(ctx, tx, `
		SELECT DISTINCT delivery_id::text FROM due_dates WHERE superseded_by IS NULL AND closed_at IS NULL ORDER BY 1`)
	if err != nil {
		return fmt.Errorf("list deliveries with open due dates: %w", err)
	}
	for _, id := range ids {
		changed, err := rederive(ctx, tx, id, cal, now, derive)
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
		if err := insertDeadlineEvent(ctx, tx, id, schemas.EventDeadlineRecomputed,
			"calendar "+cal.Version+": "+strings.Join(parts, "; "), now); err != nil {
			return err
		}
	}
	return nil
}

const calendarColumns = `id, version, source, sha256, imported_at, imported_by`

func currentCalendar(ctx context.Context, q interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}) (schemas.StoredCalendar, error) {
	var c schemas.StoredCalendar
	err := q.QueryRowContext(ctx, `SELECT `+calendarColumns+` FROM calendars ORDER BY id DESC LIMIT 1`).
		Scan(&c.ID, &c.Version, &c.Source, &c.SHA256, &c.ImportedAt, &c.ImportedBy)
	if err != nil {
		return schemas.StoredCalendar{}, fmt.Errorf("read the current calendar: %w", mapErr(err))
	}
	return c, nil
}

// CurrentCalendar returns the current calendar (ErrNotFound when none is stored).
func (s *Store) CurrentCalendar(ctx context.Context) (schemas.StoredCalendar, error) {
	return currentCalendar(ctx, s.db)
}

// Calendars returns every imported calendar, the current one first.
func (s *Store) Calendars(ctx context.Context) ([]schemas.StoredCalendar, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+calendarColumns+` FROM calendars ORDER BY id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list calendars: %w", err)
	}
	defer rows.Close()
	var out []schemas.StoredCalendar
	for rows.Next() {
		var c schemas.StoredCalendar
		if err := rows.Scan(&c.ID, &c.Version, &c.Source, &c.SHA256, &c.ImportedAt, &c.ImportedBy); err != nil {
			return nil, fmt.Errorf("scan calendar: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// OverdueReport is a due date the sweep reported overdue.
type OverdueReport struct {
	DueID      int64
	DeliveryID string
	AppealID   string
	Kind       schemas.DueKind
	DueAt      time.Time
	Event      schemas.EventType
}

// SweepOverdue reports, in one transaction, up to limit due dates of the kinds in events that
// passed by now and are open, unreported, and of a delivery not in one of the closed statuses (a
// delivery notice also not of a delivery with its notice): each gets overdue_at set and one event
// of its kind's type. Rows another process is reporting are skipped, so several processes may
// sweep at once and each due date is reported exactly once.
func (s *Store) SweepOverdue(ctx context.Context, now time.Time, events map[schemas.DueKind]schemas.EventType,
	closed []schemas.DeliveryStatus, limit int) ([]OverdueReport, error) {
	kinds := make([]string, 0, len(events))
	for k := range events {
		kinds = append(kinds, string(k))
	}
	var out []OverdueReport
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `
			WITH due AS (
				SELECT dd.id FROM due_dates dd JOIN deliveries d ON d.id = dd.delivery_id
				WHERE dd.superseded_by IS NULL AND dd.closed_at IS NULL AND dd.overdue_at IS NULL AND dd.due_at <= $1
				  AND dd.kind = ANY($2) AND d.status <> ALL($3)
				  AND NOT (dd.kind = $5 AND d.delivered_at IS NOT NULL)
				ORDER BY dd.due_at, dd.id LIMIT $4
				FOR UPDATE OF dd SKIP LOCKED)
			UPDATE due_dates x SET overdue_at = $1 FROM due WHERE x.id = due.id
			RETURNING x.id, x.delivery_id::text, x.appeal_id::text, x.kind, x.due_at`,
			now, pq.Array(kinds), pq.Array(statusNames(closed)), limit, string(schemas.DueDeliveryNotice))
		if err != nil {
			return fmt.Errorf("mark overdue due dates: %w", err)
		}
		for rows.Next() {
			var r OverdueReport
			if err := rows.Scan(&r.DueID, &r.DeliveryID, &r.AppealID, &r.Kind, &r.DueAt); err != nil {
				rows.Close()
				return fmt.Errorf("scan overdue due date: %w", err)
			}
			r.Event = events[r.Kind]
			out = append(out, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("mark overdue due dates: %w", err)
		}
		slices.SortFunc(out, func(a, b OverdueReport) int { return a.DueAt.Compare(b.DueAt) })
		for _, r := range out {
			if err := insertDeadlineEvent(ctx, tx, r.DeliveryID, r.Event,
				fmt.Sprintf("%s due %s passed", r.Kind, r.DueAt.UTC().Format(time.RFC3339)), now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sweep overdue due dates: %w", err)
	}
	return out, nil
}

func statusNames(ss []schemas.DeliveryStatus) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return out
}

// Overdue lists, in due date order, the current due dates of the kinds given that passed by
// f.Now and are open, of deliveries not in one of the closed statuses, with f's filters; More
// says whether more follow the page.
func (s *Store) Overdue(ctx context.Context, f schemas.OverdueFilter, kinds []schemas.DueKind, closed []schemas.DeliveryStatus) (items []schemas.OverdueItem, more bool, err error) {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	if f.Kind != "" {
		names = []string{string(f.Kind)}
	}
	after, afterID := time.Time{}, int64(0)
	if f.After != nil {
		after, afterID = f.After.DueAt, f.After.ID
	}
	rows, err := s.db.QueryContext(ctx, `
		SELECT dd.id, dd.delivery_id::text, dd.appeal_id::text, a.tracking_number, d.authority_code, a.case_kind, d.status,
		       dd.kind, dd.due_at, dd.overdue_at, dd.rule
		FROM due_dates dd
		JOIN deliveries d ON d.id = dd.delivery_id
		JOIN appeals a ON a.id = dd.appeal_id
		WHERE dd.superseded_by IS NULL AND dd.closed_at IS NULL AND dd.due_at <= $1
		  AND dd.kind = ANY($2) AND d.status <> ALL($3)
		  AND NOT (dd.kind = $8 AND d.delivered_at IS NOT NULL)
		  AND ($4 = '' OR d.authority_code = $4)
		  AND ($6 = 0 OR (dd.due_at, dd.id) > ($5, $6))
		ORDER BY dd.due_at, dd.id
		LIMIT $7`, f.Now, pq.Array(names), pq.Array(statusNames(closed)), f.Authority, after, afterID, f.Limit+1,
		string(schemas.DueDeliveryNotice))
	if err != nil {
		return nil, false, fmt.Errorf("list overdue due dates: %w", err)
	}
	defer rows.Close()
	items = []schemas.OverdueItem{}
	for rows.Next() {
		var it schemas.OverdueItem
		var reported sql.NullTime
		if err := rows.Scan(&it.Cursor.ID, &it.DeliveryID, &it.AppealID, &it.TrackingNumber, &it.Authority, &it.CaseKind,
			&it.Status, &it.Kind, &it.DueAt, &reported, &it.Rule); err != nil {
			return nil, false, fmt.Errorf("scan overdue due date: %w", err)
		}
		it.Cursor.DueAt = it.DueAt
		it.DueAt = it.DueAt.UTC()
		it.LateSeconds = int64(f.Now.Sub(it.DueAt) / time.Second)
		if it.ReportedAt = nullTime(reported); it.ReportedAt != nil {
			*it.ReportedAt = it.ReportedAt.UTC()
		}
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("list overdue due dates: %w", err)
	}
	if len(items) > f.Limit {
		return items[:f.Limit], true, nil
	}
	return items, false, nil
}

// DueDates returns the current due dates of a delivery, by kind.
func (s *Store) DueDates(ctx context.Context, deliveryID string) ([]schemas.DueDate, error) {
	byDelivery, err := s.dueDatesWhere(ctx, `delivery_id = $1`, deliveryID)
	if err != nil {
		return nil, err
	}
	return byDelivery[deliveryID], nil
}

// attachDueDates sets the current due dates of each delivery of a case (the case view).
func (s *Store) attachDueDates(ctx context.Context, appealID string, deliveries []schemas.Delivery) error {
	byDelivery, err := s.dueDatesWhere(ctx, `appeal_id = $1`, appealID)
	if err != nil {
		return err
	}
	for i := range deliveries {
		deliveries[i].Due = byDelivery[deliveries[i].ID]
	}
	return nil
}

func (s *Store) dueDatesWhere(ctx context.Context, where string, arg any) (map[string][]schemas.DueDate, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT delivery_id::text, kind, due_at, explanation, closed_at, met, overdue_at
		FROM due_dates WHERE `+where+` AND superseded_by IS NULL ORDER BY delivery_id, kind`, arg)
	if err != nil {
		return nil, fmt.Errorf("read due dates: %w", err)
	}
	defer rows.Close()
	out := map[string][]schemas.DueDate{}
	for rows.Next() {
		var id string
		var d schemas.DueDate
		var explanation []byte
		var closed, overdue sql.NullTime
		var met sql.NullBool
		if err := rows.Scan(&id, &d.Kind, &d.DueAt, &explanation, &closed, &met, &overdue); err != nil {
			return nil, fmt.Errorf("scan due date: %w", err)
		}
		if err := json.Unmarshal(explanation, &d.Explanation); err != nil {
			return nil, fmt.Errorf("decode the explanation of a due date of delivery %s: %w", id, err)
		}
		d.DueAt = d.DueAt.UTC()
		d.ClosedAt, d.OverdueSince = utcPtr(nullTime(closed)), utcPtr(nullTime(overdue))
		d.State = dueState(d.ClosedAt != nil, met, d.OverdueSince != nil)
		out[id] = append(out[id], d)
	}
	return out, rows.Err()
}

func utcPtr(t *time.Time) *time.Time {
	if t != nil {
		*t = t.UTC()
	}
	return t
}

func dueState(closed bool, met sql.NullBool, overdue bool) schemas.DueState {
	switch {
	case closed && !met.Valid:
		return schemas.DueClosed
	case closed && met.Bool:
		return schemas.DueMet
	case closed:
		return schemas.DueMissed
	case overdue:
		return schemas.DueOverdue
	default:
		return schemas.DueOpen
	}
}
