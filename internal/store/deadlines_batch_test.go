package store_test

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"appealhub/internal/store"
	"appealhub/schemas"
)

// keepStepStatements is what a keeper step runs whatever the number of its deliveries: the
// deliveries of the chain links, the current calendar, the facts of all of them, one statement
// for the new and superseded due dates, one for the in-place updates and closes, one for the
// deadline_set events (the cursor's own statements aside).
const keepStepStatements = 6

// TestKeepStepWritesWhatThePerDeliveryCodeWrote: a keeper step over several deliveries (new due
// dates, superseded ones, one that keeps an overdue report, ones updated in place with and without
// a change, a closed one that stays, one that no longer applies, several deadline_set events)
// stores exactly the rows and events, ids and order included, that the per-delivery code it
// replaced stored, with the same statements for eight deliveries as for one; a calendar import
// recomputes as that code did.
func TestKeepStepWritesWhatThePerDeliveryCodeWrote(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, extended := b.sentCase(t, "batch-extended", true) // the answer is extended: superseded
	_, delivered := b.sentCase(t, "batch-delivered", false)
	_, simple := b.sentCase(t, "batch-simple", true)     // superseded by an earlier answer, which keeps the report
	_, answered := b.sentCase(t, "batch-answered", true) // the answer closes in place
	_, same := b.sentCase(t, "batch-same", true)         // an event that changes nothing
	_, dropped := b.sentCase(t, "batch-dropped", true)   // the answer no longer applies: closed
	_, late := b.sentCase(t, "batch-late", false)        // delivered in the second step
	b.settle(t)
	reportAt := b.now.Add(25 * time.Hour)
	reported, err := b.store.SweepOverdue(b.ctx, reportAt, overdueEvents, closedStatuses, 100)
	require.NoError(t, err)
	require.Len(t, reported, 7, "five answers and two delivery notices")

	// The transaction that wrote the current answer of a delivery.
	answerVersion := func(id string) int {
		return b.countRows(t, `SELECT xmin::text::bigint FROM due_dates WHERE delivery_id = $1 AND kind = 'answer' AND superseded_by IS NULL`, id)
	}
	sameVersion, answeredVersion := answerVersion(same), answerVersion(answered)

	stepAt := b.now.Add(26 * time.Hour)
	newDue := b.now.Add(72 * time.Hour)
	apply := func(m schemas.AuthorityMessage, to schemas.DeliveryStatus) {
		t.Helper()
		_, err := b.store.ApplyAuthorityMessages(b.ctx, "00000001", []schemas.AuthorityMessage{m}, stepAt, toStatus(to))
		require.NoError(t, err)
	}
	apply(schemas.AuthorityMessage{MessageID: "b-1", Of: extended, Type: schemas.MsgExtended, NewDueDate: &newDue}, schemas.StatusDelivered)
	apply(schemas.AuthorityMessage{MessageID: "b-2", Of: delivered, Type: schemas.MsgStatus, Text: "delivered"}, schemas.StatusDelivered)
	apply(schemas.AuthorityMessage{MessageID: "b-3", Of: simple, Type: schemas.MsgStatus, Simple: true, Text: "simple"}, schemas.StatusDelivered)
	apply(schemas.AuthorityMessage{MessageID: "b-4", Of: answered, Type: schemas.MsgStatus, Text: "answered"}, schemas.StatusAnswered)
	apply(schemas.AuthorityMessage{MessageID: "b-5", Of: same, Type: schemas.MsgStatus, Text: "nothing new"}, schemas.StatusDelivered)
	apply(schemas.AuthorityMessage{MessageID: "b-6", Of: dropped, Type: schemas.MsgStatus, Text: "dropped"}, schemas.StatusDelivered)
	_, sent := b.sentCase(t, "batch-sent", false)  // a new delivery notice
	_, fresh := b.sentCase(t, "batch-fresh", true) // a new closed notice and a new answer
	waitSealed(t, b.store)
	derive := func(cal schemas.StoredCalendar, f schemas.DeadlineFacts) ([]store.DueDateSpec, error) {
		specs, err := stubDerive(cal, f)
		if f.DeliveryID == dropped {
			specs = slices.DeleteFunc(specs, func(d store.DueDateSpec) bool { return d.Kind == schemas.DueAnswer })
		}
		return specs, err
	}

	// The facts of the step's deliveries read with one statement are what each read of its own gave.
	ids := []string{extended, delivered, simple, answered, same, dropped, sent, fresh}
	states, old, dues, oldDues, err := b.store.DeadlineStatesForTest(b.ctx, append(slices.Clone(ids), uuid.Must(uuid.NewV7()).String()))
	require.NoError(t, err)
	require.Len(t, states, len(ids), "a delivery that does not exist is absent")
	require.Equal(t, old, states)
	require.Equal(t, oldDues, dues)
	require.Len(t, dues[fresh], 0, "no due date before its first step")
	require.Len(t, dues[answered], 2)

	batch, ref, err := b.store.KeepStepBothWaysForTest(b.ctx, 1000, ownDeadlineEvents, stepAt, derive)
	require.NoError(t, err)
	require.Equal(t, ref.Step, batch.Step)
	require.Equal(t, ref.DueDates, batch.DueDates, "the same due_dates rows, ids and links included")
	require.Equal(t, ref.Events, batch.Events, "the same events, in the same order")
	require.Equal(t, 8, batch.Step.Deliveries)
	require.Equal(t, 5, batch.Step.Changed, "open and new or superseding: extended, delivered, simple, sent, fresh")
	require.Equal(t, keepStepStatements, batch.Statements)
	require.Equal(t, 2+8+14, ref.Statements, "per delivery: a read, one statement per due date written and per event")

	// KeepDeadlines runs that step.
	step, err := b.store.KeepDeadlines(b.ctx, 1000, ownDeadlineEvents, stepAt, derive)
	require.NoError(t, err)
	require.Equal(t, batch.Step.Deliveries, step.Deliveries)
	require.Equal(t, batch.Step.Changed, step.Changed)
	dueDates, events, err := b.store.DeadlineTablesForTest(b.ctx)
	require.NoError(t, err)
	require.Equal(t, batch.DueDates, dueDates)
	require.Equal(t, batch.Events, events)

	// What the step covered.
	require.Equal(t, 2, b.countRows(t, `SELECT count(*) FROM due_dates WHERE superseded_at = $1`, stepAt))
	require.Equal(t, 1, b.countRows(t, `
		SELECT count(*) FROM due_dates o JOIN due_dates n ON n.id = o.superseded_by
		WHERE o.delivery_id = $1 AND n.rule = 'stub.simple' AND n.overdue_at = $2 AND n.id > o.id`, simple, reportAt))
	require.Equal(t, 1, b.countRows(t, `
		SELECT count(*) FROM due_dates WHERE delivery_id = $1 AND rule = 'stub.extended' AND overdue_at IS NULL AND superseded_by IS NULL`,
		extended))
	require.Equal(t, 4, b.countRows(t, `SELECT count(*) FROM events WHERE type = $1 AND created_at = $2`,
		string(schemas.EventDeadlineSet), stepAt), "extended, delivered, simple, fresh")
	require.Equal(t, 1, b.countRows(t, `SELECT count(*) FROM due_dates WHERE delivery_id = $1 AND kind = 'answer' AND closed_at = $2 AND met IS NULL`,
		dropped, stepAt), "closed: no longer applies")
	require.Equal(t, 1, b.countRows(t, `SELECT count(*) FROM due_dates WHERE delivery_id = $1 AND kind = 'answer' AND closed_at = $2 AND NOT met`,
		answered, stepAt), "closed in place, missed")
	require.Equal(t, 1, b.countRows(t, `SELECT count(*) FROM due_dates WHERE delivery_id = $1 AND kind = 'delivery_notice' AND closed_at = $2 AND NOT met`,
		delivered, stepAt), "closed in place, missed")
	require.Equal(t, 2, b.countRows(t, `SELECT count(*) FROM due_dates WHERE delivery_id = $1 AND superseded_by IS NULL`, same))
	require.Equal(t, sameVersion, answerVersion(same), "an in-place update that changes nothing is not written")
	require.NotEqual(t, answeredVersion, answerVersion(answered), "one that changes something is")
	require.Equal(t, 1, b.countRows(t, `SELECT count(*) FROM due_dates WHERE delivery_id = $1`, sent))

	// One delivery, the three kinds of writes: the same statements.
	apply(schemas.AuthorityMessage{MessageID: "b-7", Of: late, Type: schemas.MsgStatus, Text: "delivered"}, schemas.StatusDelivered)
	waitSealed(t, b.store)
	batch, ref, err = b.store.KeepStepBothWaysForTest(b.ctx, 1000, ownDeadlineEvents, stepAt, derive)
	require.NoError(t, err)
	require.Equal(t, ref.DueDates, batch.DueDates)
	require.Equal(t, ref.Events, batch.Events)
	require.Equal(t, store.DeadlineStep{Deliveries: 1, Changed: 1}, batch.Step)
	require.Equal(t, keepStepStatements, batch.Statements)
	require.Equal(t, 2+1+3, ref.Statements)

	// A calendar import recomputes every open due date as the per-delivery code did.
	batch, ref, err = b.store.ImportCalendarBothWaysForTest(b.ctx, store.NewCalendar{Version: "h48", Source: []byte("hours: 48")},
		stepAt, derive)
	require.NoError(t, err)
	require.Equal(t, ref.Import, batch.Import)
	require.Equal(t, ref.DueDates, batch.DueDates)
	require.Equal(t, ref.Events, batch.Events)
	require.Positive(t, batch.Import.Changed)
	require.Less(t, batch.Import.Changed, batch.Import.Recomputed, "some are recomputed without a change")
	require.LessOrEqual(t, batch.Statements, 6, "the calendar, the list, then per %d deliveries a read, two writes and the events", 500)
	require.Greater(t, ref.Statements, batch.Statements)
}
