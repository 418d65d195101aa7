package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
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
// concurrent use by several processes. A step runs the same statements however many deliveries
// it concerns (keepStep).
func (s *Store) KeepDeadlines(ctx context.Context, limit int, skip []schemas.EventType, now time.Time, derive DeriveFunc) (DeadlineStep, error) {
	var out DeadlineStep
	step, err := s.advanceCursor(ctx, deadlineCursor, limit, func(tx *sql.Tx, from, to int64) error {
		var err error
		out, err = keepStep(ctx, tx, from, to, skip, now, derive)
		return err
	})
	if err != nil {
		return DeadlineStep{}, fmt.Errorf("keep deadlines: %w", err)
	}
	out.Passed, out.Cursor, out.Busy = step.Passed, step.Cursor, step.Busy
	return out, nil
}

// keepStep recomputes, in tx, the due dates of the deliveries that the events sealed at positions
// (from, to] concern (events of the types in skip excepted), in delivery id order, and adds a
// deadline_set event for each delivery whose answer due date was set or changed, in that order. It
// runs at most six statements whatever the number of deliveries: the deliveries, the current
// calendar, rederive's read and two writes, and one INSERT of the events. It sets Deliveries and
// Changed of the step.
func keepStep(ctx context.Context, tx txQueryer, from, to int64, skip []schemas.EventType, now time.Time,
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
	changed, err := rederive(ctx, tx, ids, cal, now, derive)
	if err != nil {
		return out, err
	}
	var events []deadlineEvent
	for i, id := range ids {
		out.Deliveries++
		out.Changed += len(changed[i])
		if j := slices.IndexFunc(changed[i], func(d DueDateSpec) bool { return d.Kind == schemas.DueAnswer }); j >= 0 {
			d := changed[i][j]
			events = append(events, deadlineEvent{deliveryID: id, typ: schemas.EventDeadlineSet, detail: fmt.Sprintf(
				"answer due %s (%s, calendar %s)", d.DueAt.Format(time.RFC3339), d.Explanation.Rule, d.Explanation.CalendarVersion)})
		}
	}
	return out, insertDeadlineEvents(ctx, tx, events, now)
}

// txQueryer is what the deadline code needs of its transaction (an interface, so that a test can
// count the statements of a step).
type txQueryer interface {
	queryer
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// chainDeliveries returns the deliveries that the events sealed at positions (from, to] concern,
// events of the types in skip excepted, in id order.
func chainDeliveries(ctx context.Context, tx queryer, from, to int64, skip []schemas.EventType) ([]string, error) {
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

// rederive recomputes the due dates of the deliveries ids (distinct, as PostgreSQL prints them):
// deadlineStates reads the facts of all of them and locks their current due dates in one
// statement, derive computes the due dates of each in the order of ids, and dueWrites stores what
// changed with at most two statements; so it runs at most three statements however many
// deliveries there are. An error of derive stops it before anything is written. It returns, for
// each of ids, the due dates inserted or superseded that are open (none for a delivery that does
// not exist).
func rederive(ctx context.Context, tx txQueryer, ids []string, cal schemas.StoredCalendar, now time.Time,
	derive DeriveFunc) ([][]DueDateSpec, error) {
	states, err := deadlineStates(ctx, tx, ids)
	if err != nil {
		return nil, err
	}
	var w dueWrites
	changed := make([][]DueDateSpec, len(ids))
	for i, id := range ids {
		st, ok := states[id]
		if !ok {
			continue // no such delivery
		}
		specs, err := derive(cal, st.facts)
		if err != nil {
			return nil, fmt.Errorf("derive the due dates of delivery %s: %w", id, err)
		}
		if changed[i], err = w.add(st.facts, st.current, specs, now); err != nil {
			return nil, err
		}
	}
	if err := w.store(ctx, tx, now); err != nil {
		return nil, err
	}
	return changed, nil
}

// deadlineFacts reads what the due dates of a delivery depend on, in one statement.
func deadlineFacts(ctx context.Context, tx *sql.Tx, deliveryID string) (schemas.DeadlineFacts, error) {
	rows, err := tx.QueryContext(ctx, deadlineFactsSQL, deliveryID, string(schemas.CaseInfoRequest),
		pq.Array(statusNames(deliveredStatuses)), string(schemas.MsgExtended))
	if err != nil {
		return schemas.DeadlineFacts{}, fmt.Errorf("read the deadline facts of delivery %s: %w", deliveryID, err)
	}
	facts, _, err := scanDeadlineFacts(rows, false)
	if err != nil {
		return schemas.DeadlineFacts{}, fmt.Errorf("read the deadline facts of delivery %s: %w", deliveryID, err)
	}
	if len(facts) == 0 {
		return schemas.DeadlineFacts{}, fmt.Errorf("read the deadline facts of delivery %s: %w", deliveryID, ErrNotFound)
	}
	return facts[0], nil
}

// deliveryDeadlines is what deadlineStates reads of a delivery: its facts and its current due
// dates by kind, locked until the transaction ends.
type deliveryDeadlines struct {
	facts   schemas.DeadlineFacts
	current map[schemas.DueKind]currentDue
}

// deadlineStates reads, in one statement, the facts of the deliveries ids and their current due
// dates, locked (FOR UPDATE) until the transaction ends, as dueWrites needs them; by delivery id
// (a delivery that does not exist is absent).
func deadlineStates(ctx context.Context, tx queryer, ids []string) (map[string]deliveryDeadlines, error) {
	rows, err := tx.QueryContext(ctx, deadlineStatesSQL, pq.Array(ids), string(schemas.CaseInfoRequest),
		pq.Array(statusNames(deliveredStatuses)), string(schemas.MsgExtended))
	if err != nil {
		return nil, fmt.Errorf("read the deadline facts of %d deliveries: %w", len(ids), err)
	}
	facts, dues, err := scanDeadlineFacts(rows, true)
	if err != nil {
		return nil, fmt.Errorf("read the deadline facts of %d deliveries: %w", len(ids), err)
	}
	out := make(map[string]deliveryDeadlines, len(facts))
	for i, f := range facts {
		current, err := decodeCurrentDues(dues[i])
		if err != nil {
			return nil, fmt.Errorf("read the due dates of delivery %s: %w", f.DeliveryID, err)
		}
		out[f.DeliveryID] = deliveryDeadlines{facts: f, current: current}
	}
	return out, nil
}

// deadlineFactsQuery reads the facts of deliveries with their extensions (the authority's
// extended messages that state a new due date): for each delivery, one row per extension in the
// order the hub received them, the delivery's facts repeated on each, or one row with NULL
// extension columns when there is none; the rows of a delivery come together, in delivery id
// order. The rows are scanned like any other, so the times are what a query of their own gave.
// The first %s is for a WITH clause, the second for a last column, the third for a join, the
// fourth is the condition on the deliveries d (deadlineStatesSQL).
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
	FROM deliveries d JOIN appeals a ON a.id = d.appeal_id%s
	LEFT JOIN LATERAL (
	    SELECT m.message_id, m.received_at, m.message ->> 'new_due_date' AS new_due_date
	    FROM authority_messages m
	    WHERE m.delivery_id = d.id AND m.type = $4 AND m.message ? 'new_due_date') x ON true
	WHERE %s
	ORDER BY d.id, x.received_at, x.message_id`

var (
	// deadlineFactsSQL reads the facts of delivery $1 alone (the notifier's view).
	deadlineFactsSQL = fmt.Sprintf(deadlineFactsQuery, "", "", "", "d.id = $1")
	// deadlineStatesSQL reads the facts of the deliveries $1 (an array) and also locks their
	// current due dates and returns those of each as a JSON array of dueJSON (NULL when there are
	// none). The locking CTE is materialized: it runs once, locking the rows in (delivery, kind)
	// order, as the per-delivery reads it replaced did one delivery after the other; a row the
	// overdue sweep holds is waited for and read as that sweep committed it, as a SELECT … FOR
	// UPDATE of its own did. The aggregate is joined by delivery, so each delivery's due dates are
	// read once however many extension rows it has.
	deadlineStatesSQL = fmt.Sprintf(deadlineFactsQuery, `
	WITH cur_dues AS MATERIALIZED (
		SELECT id, delivery_id, kind, due_at, rule, calendar_version, closed_at IS NOT NULL AS closed, overdue_at
		FROM due_dates WHERE delivery_id = ANY($1) AND superseded_by IS NULL ORDER BY delivery_id, kind FOR UPDATE),
	dues AS (
		SELECT c.delivery_id, json_agg(json_build_object('id', c.id, 'kind', c.kind,
		           'due_at', (extract(epoch FROM c.due_at) * 1000000)::bigint, 'rule', c.rule,
		           'calendar_version', c.calendar_version, 'closed', c.closed,
		           'overdue_at', (extract(epoch FROM c.overdue_at) * 1000000)::bigint) ORDER BY c.kind) AS agg
		FROM cur_dues c GROUP BY c.delivery_id)`, `,
	       du.agg`, `
	LEFT JOIN dues du ON du.delivery_id = d.id`, "d.id = ANY($1)")
)

// dueJSON is a current due_dates row as deadlineStatesSQL returns it; times are microseconds since
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

// scanDeadlineFacts reads, and closes, the rows of deadlineFactsSQL or, withDues, of
// deadlineStatesSQL: the facts of each delivery in the order of the rows and, withDues, the JSON
// of each one's current due dates (aligned with the facts).
func scanDeadlineFacts(rows *sql.Rows, withDues bool) ([]schemas.DeadlineFacts, [][]byte, error) {
	defer rows.Close()
	var facts []schemas.DeadlineFacts
	var dues [][]byte
	for rows.Next() {
		var f schemas.DeadlineFacts
		var sent, delivered, simple, extReceived sql.NullTime
		var body, agg []byte
		var extID, extDue sql.NullString
		dest := []any{&f.DeliveryID, &f.AppealID, &f.Authority, &f.CaseKind, &f.Status, &f.StatusAt, &sent, &delivered, &body, &simple,
			&extID, &extReceived, &extDue}
		if withDues {
			dest = append(dest, &agg)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, nil, err
		}
		if n := len(facts); n == 0 || facts[n-1].DeliveryID != f.DeliveryID {
			// The first row of a delivery: the others repeat its facts.
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
			facts, dues = append(facts, f), append(dues, agg)
		}
		if !extID.Valid {
			continue // the delivery has no extension
		}
		if !extDue.Valid {
			// A JSON null new_due_date: the string it is read into cannot hold it.
			return nil, nil, fmt.Errorf("scan extension: new_due_date of message %s is null", extID.String)
		}
		e := schemas.DeadlineExtension{MessageID: extID.String, ReceivedAt: extReceived.Time}
		var err error
		if e.NewDueDate, err = time.Parse(time.RFC3339Nano, extDue.String); err != nil {
			continue // stored by a decoder that checked it; never expected
		}
		last := &facts[len(facts)-1]
		last.Extensions = append(last.Extensions, e)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	return facts, dues, nil
}

// decodeCurrentDues decodes deadlineStatesSQL's JSON array of current due dates, by kind.
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

// dueWrites collects the due date writes of several deliveries (add) and stores them with at most
// two statements (store): one that supersedes rows and inserts every new row, one that updates
// rows in place. The per-delivery code it replaced ran one statement per write.
type dueWrites struct {
	inserts []dueInsert // in the order their ids are drawn: deliveries, then due dates, in add order
	updates []dueUpdate
}

// dueInsert is a new due_dates row; supersedes is the current row it replaces (0: none).
type dueInsert struct {
	deliveryID, appealID string
	d                    DueDateSpec
	explanation          []byte
	overdue              *time.Time
	supersedes           int64
}

// dueUpdate is an in-place update of the current row id: its explanation, calendar version and
// how it ended; or, when closeAt is set, the close of a due date that no longer applies (closed_at
// set, the rest kept).
type dueUpdate struct {
	id          int64
	explanation []byte
	version     string
	closedAt    *time.Time
	met         *bool
	closeAt     *time.Time
}

// add records the writes of the due dates specs derived for delivery f: a kind without a current
// row gets one; a current row that is closed stays as it is; one whose due date and rule are the
// same is updated in place (its explanation, and how it ended); otherwise a new row supersedes it.
// A new row takes over the old one's overdue report when it is not later than the moment of that
// report. An open current row of a kind not derived any more is closed at now. current are the
// delivery's current due dates as deadlineStates read and locked them; the kinds handled are
// deleted from it. It returns the due dates inserted or superseded that are open.
func (w *dueWrites) add(f schemas.DeadlineFacts, current map[schemas.DueKind]currentDue, specs []DueDateSpec,
	now time.Time) ([]DueDateSpec, error) {
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
			w.updates = append(w.updates, dueUpdate{id: cur.id, explanation: explanation, version: d.Explanation.CalendarVersion,
				closedAt: d.ClosedAt, met: d.Met})
			continue
		}
		in := dueInsert{deliveryID: f.DeliveryID, appealID: f.AppealID, d: d, explanation: explanation}
		if ok {
			in.supersedes = cur.id
			if cur.overdueAt != nil && !d.DueAt.After(*cur.overdueAt) {
				in.overdue = cur.overdueAt
			}
		}
		w.inserts = append(w.inserts, in)
		if d.ClosedAt == nil {
			changed = append(changed, d)
		}
	}
	// A kind that no longer applies, in kind order (the order does not change what is stored).
	for _, kind := range slices.Sorted(maps.Keys(current)) {
		if cur := current[kind]; !cur.closed {
			w.updates = append(w.updates, dueUpdate{id: cur.id, closeAt: &now})
		}
	}
	return changed, nil
}

// store runs the writes add recorded: at most two statements, none when there is nothing to write.
func (w *dueWrites) store(ctx context.Context, tx txQueryer, now time.Time) error {
	if err := w.insert(ctx, tx, now); err != nil {
		return err
	}
	return w.update(ctx, tx)
}

// insert stores every new row with one statement. Each row's id is drawn from the table's sequence
// once (the materialized CTE n), in the order of the rows, so ids come in the order the
// per-delivery code drew them, one nextval per row. The CTE old then points each row
// that is superseded at its successor and takes it out of the current index (due_dates_current,
// which is checked row by row, not at the end of the statement); a superseding row takes its id
// from old's RETURNING, so it cannot be formed, let alone checked against the index, before the old
// row left it, whatever the plan (and a missing old row leaves the id NULL, an error). superseded_by
// is checked at commit (DEFERRABLE INITIALLY DEFERRED).
func (w *dueWrites) insert(ctx context.Context, tx txQueryer, now time.Time) error {
	if len(w.inserts) == 0 {
		return nil
	}
	n := len(w.inserts)
	deliveries, appeals, kinds, dueAt := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	rules, versions, explanations := make([]string, n), make([]string, n), make([]string, n)
	closedAt, overdueAt := make([]sql.NullString, n), make([]sql.NullString, n)
	met, supersedes := make([]sql.NullBool, n), make([]int64, n)
	for i, in := range w.inserts {
		deliveries[i], appeals[i], kinds[i] = in.deliveryID, in.appealID, string(in.d.Kind)
		dueAt[i], closedAt[i], overdueAt[i] = timestampText(in.d.DueAt), nullTimestampText(in.d.ClosedAt), nullTimestampText(in.overdue)
		rules[i], versions[i], explanations[i] = in.d.Explanation.Rule, in.d.Explanation.CalendarVersion, string(in.explanation)
		met[i], supersedes[i] = nullBool(in.d.Met), in.supersedes
	}
	if _, err := tx.ExecContext(ctx, `
		WITH n AS MATERIALIZED (
			SELECT u.*, nextval(pg_get_serial_sequence('due_dates', 'id')) AS id
			FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::jsonb[],
			            $8::timestamptz[], $9::boolean[], $10::timestamptz[], $11::bigint[])
			     WITH ORDINALITY AS u (delivery_id, appeal_id, kind, due_at, rule, calendar_version, explanation,
			                           closed_at, met, overdue_at, supersedes, ord)
			ORDER BY u.ord),
		old AS (
			UPDATE due_dates o SET superseded_by = n.id, superseded_at = $12
			FROM n WHERE o.id = n.supersedes
			RETURNING o.id, o.superseded_by)
		INSERT INTO due_dates (id, delivery_id, appeal_id, kind, due_at, rule, calendar_version, explanation, created_at,
		                       closed_at, met, overdue_at)
		SELECT CASE WHEN n.supersedes = 0 THEN n.id ELSE old.superseded_by END, n.delivery_id, n.appeal_id, n.kind, n.due_at,
		       n.rule, n.calendar_version, n.explanation, $12, n.closed_at, n.met, n.overdue_at
		FROM n LEFT JOIN old ON old.id = n.supersedes
		ORDER BY n.ord`,
		pq.Array(deliveries), pq.Array(appeals), pq.Array(kinds), pq.Array(dueAt), pq.Array(rules), pq.Array(versions),
		pq.Array(explanations), pq.Array(closedAt), pq.Array(met), pq.Array(overdueAt), pq.Array(supersedes), now); err != nil {
		return fmt.Errorf("insert %d due dates: %w", n, mapErr(err))
	}
	return nil
}

// update stores every in-place update and close with one statement. A row whose explanation (as
// jsonb prints it, so the stored value is the same to the byte), calendar version, closed_at and
// met would stay as they are is not written: it is locked already (deadlineStates), nothing
// depends on its row version, and due_dates has no trigger, so skipping it stores exactly what
// writing it did, without the dead row.
func (w *dueWrites) update(ctx context.Context, tx txQueryer) error {
	if len(w.updates) == 0 {
		return nil
	}
	n := len(w.updates)
	ids, explanations, versions := make([]int64, n), make([]sql.NullString, n), make([]sql.NullString, n)
	closedAt, met, closing := make([]sql.NullString, n), make([]sql.NullBool, n), make([]bool, n)
	for i, u := range w.updates {
		ids[i] = u.id
		if u.closeAt != nil {
			closedAt[i], closing[i] = nullTimestampText(u.closeAt), true
			continue
		}
		explanations[i] = sql.NullString{String: string(u.explanation), Valid: true}
		versions[i] = sql.NullString{String: u.version, Valid: true}
		closedAt[i], met[i] = nullTimestampText(u.closedAt), nullBool(u.met)
	}
	if _, err := tx.ExecContext(ctx, `
		UPDATE due_dates d
		SET explanation = CASE WHEN u.closing THEN d.explanation ELSE u.explanation END,
		    calendar_version = CASE WHEN u.closing THEN d.calendar_version ELSE u.calendar_version END,
		    closed_at = u.closed_at,
		    met = CASE WHEN u.closing THEN d.met ELSE u.met END
		FROM unnest($1::bigint[], $2::jsonb[], $3::text[], $4::timestamptz[], $5::boolean[], $6::boolean[])
		     AS u (id, explanation, calendar_version, closed_at, met, closing)
		WHERE d.id = u.id
		  AND (u.closing OR (d.explanation::text, d.calendar_version, d.closed_at, d.met)
		                    IS DISTINCT FROM (u.explanation::text, u.calendar_version, u.closed_at, u.met))`,
		pq.Array(ids), pq.Array(explanations), pq.Array(versions), pq.Array(closedAt), pq.Array(met), pq.Array(closing)); err != nil {
		return fmt.Errorf("update %d due dates: %w", n, err)
	}
	return nil
}

// timestampText is t as lib/pq sends a time parameter, for an array parameter: the same instant
// is stored as with a parameter of its own (to the microsecond).
func timestampText(t time.Time) string {
	return string(pq.FormatTimestamp(t))
}

func nullTimestampText(t *time.Time) sql.NullString {
	if t == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: timestampText(*t), Valid: true}
}

func nullBool(b *bool) sql.NullBool {
	if b == nil {
		return sql.NullBool{}
	}
	return sql.NullBool{Bool: *b, Valid: true}
}

// deadlineEvent is an event about a delivery's due dates.
type deadlineEvent struct {
	deliveryID string
	typ        schemas.EventType
	detail     string
}

// insertDeadlineEvents adds events about deliveries' due dates, each with its delivery's status,
// with one statement (none when there are none). They are inserted, and take their seq, in the
// order given, which is the order of the audit chain. An event of a delivery that does not exist
// is not added.
func insertDeadlineEvents(ctx context.Context, tx txQueryer, events []deadlineEvent, at time.Time) error {
	if len(events) == 0 {
		return nil
	}
	ids, types, details := make([]string, len(events)), make([]string, len(events)), make([]string, len(events))
	for i, e := range events {
		ids[i], types[i], details[i] = e.deliveryID, string(e.typ), e.detail
	}
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO events (appeal_id, delivery_id, type, status, detail, created_at)
		SELECT d.appeal_id, d.id, u.type, d.status, u.detail, $4
		FROM unnest($1::uuid[], $2::text[], $3::text[]) WITH ORDINALITY AS u (delivery_id, type, detail, ord)
		JOIN deliveries d ON d.id = u.delivery_id
		ORDER BY u.ord`, pq.Array(ids), pq.Array(types), pq.Array(details), at); err != nil {
		return fmt.Errorf("insert %d deadline events: %w", len(events), err)
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

// recomputeChunk is how many deliveries recomputeOpen recomputes with one rederive and one INSERT
// of events: the statements are the same however many there are, only their arrays grow.
const recomputeChunk = 500

// recomputeOpen recomputes the due dates of every delivery with an open due date, in delivery id
// order, recomputeChunk deliveries at a time.
func recomputeOpen(ctx context.Context, tx txQueryer, cal schemas.StoredCalendar, now time.Time, derive DeriveFunc, out *CalendarImport) error {
	ids, err := queryStrings(ctx, tx, `
		SELECT DISTINCT delivery_id::text FROM due_dates WHERE superseded_by IS NULL AND closed_at IS NULL ORDER BY 1`)
	if err != nil {
		return fmt.Errorf("list deliveries with open due dates: %w", err)
	}
	for chunk := range slices.Chunk(ids, recomputeChunk) {
		changed, err := rederive(ctx, tx, chunk, cal, now, derive)
		if err != nil {
			return err
		}
		var events []deadlineEvent
		for i, id := range chunk {
			out.Recomputed++
			if len(changed[i]) == 0 {
				continue
			}
			out.Changed++
			parts := make([]string, len(changed[i]))
			for j, d := range changed[i] {
				parts[j] = fmt.Sprintf("%s due %s (%s)", d.Kind, d.DueAt.Format(time.RFC3339), d.Explanation.Rule)
			}
			events = append(events, deadlineEvent{deliveryID: id, typ: schemas.EventDeadlineRecomputed,
				detail: "calendar " + cal.Version + ": " + strings.Join(parts, "; ")})
		}
		if err := insertDeadlineEvents(ctx, tx, events, now); err != nil {
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
		events := make([]deadlineEvent, len(out))
		for i, r := range out {
			events[i] = deadlineEvent{deliveryID: r.DeliveryID, typ: r.Event,
				detail: fmt.Sprintf("%s due %s passed", r.Kind, r.DueAt.UTC().Format(time.RFC3339))}
		}
		return insertDeadlineEvents(ctx, tx, events, now)
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
