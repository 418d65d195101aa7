package store_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/internal/store"
	"appealhub/internal/store/storetest"
	"appealhub/schemas"
)

// The store's deadline tests derive due dates with stubDerive, a rule simple enough to check by
// hand; the terms of the law are internal/deadline's and are tested there.

var ownDeadlineEvents = []schemas.EventType{schemas.EventDeadlineSet, schemas.EventDeadlineRecomputed,
	schemas.EventDeadlineOverdue, schemas.EventDeliveryNoticeMissing}

var overdueEvents = map[schemas.DueKind]schemas.EventType{
	schemas.DueAnswer: schemas.EventDeadlineOverdue, schemas.DueDeliveryNotice: schemas.EventDeliveryNoticeMissing}

var closedStatuses = []schemas.DeliveryStatus{schemas.StatusAnswered, schemas.StatusRefused, schemas.StatusForwarded,
	schemas.StatusReturned, schemas.StatusNotConsidered, schemas.StatusDead}

// stubDerive: the delivery notice is due 6 hours after sending; the answer N hours after delivery,
// N being the calendar's source ("hours: N"; 24 without a calendar), 1 hour when simple, or the
// latest later extension; the answer closes when the delivery is answered.
func stubDerive(cal schemas.StoredCalendar, f schemas.DeadlineFacts) ([]store.DueDateSpec, error) {
	hours, version := 24, "none"
	if cal.ID != 0 {
		n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(string(cal.Source)), "hours: "))
		if err != nil {
			return nil, fmt.Errorf("stub calendar: %w", err)
		}
		hours, version = n, cal.Version
	}
	var out []store.DueDateSpec
	if f.SentAt != nil {
		d := store.DueDateSpec{Kind: schemas.DueDeliveryNotice, DueAt: f.SentAt.Add(6 * time.Hour),
			Explanation: schemas.DueExplanation{Rule: "stub.notice", Start: *f.SentAt, Term: "6 hours", CalendarVersion: version, Steps: []string{"sent"}}}
		if f.DeliveredAt != nil {
			met := f.DeliveredAt.Before(d.DueAt)
			d.ClosedAt, d.Met = f.DeliveredAt, &met
		}
		out = append(out, d)
	}
	if f.DeliveredAt != nil {
		rule, due := "stub.answer", f.DeliveredAt.Add(time.Duration(hours)*time.Hour)
		if f.Simple {
			rule, due = "stub.simple", f.DeliveredAt.Add(time.Hour)
		}
		for _, e := range f.Extensions {
			if e.NewDueDate.After(due) {
				rule, due = "stub.extended", e.NewDueDate
			}
		}
		d := store.DueDateSpec{Kind: schemas.DueAnswer, DueAt: due,
			Explanation: schemas.DueExplanation{Rule: rule, Start: *f.DeliveredAt, Term: "stub", CalendarVersion: version, Steps: []string{"delivered"}}}
		if f.Status == schemas.StatusAnswered {
			met := f.StatusAt.Before(due)
			d.ClosedAt, d.Met = &f.StatusAt, &met
		}
		out = append(out, d)
	}
	return out, nil
}

// keepAll runs keeper steps until the cursor reaches the chain head.
func keepAll(t *testing.T, s *store.Store, limit int, now time.Time) int {
	t.Helper()
	ctx := context.Background()
	total := 0
	for {
		step, err := s.KeepDeadlines(ctx, limit, ownDeadlineEvents, now, stubDerive)
		require.NoError(t, err)
		total += step.Deliveries
		st, err := s.ChainStatus(ctx)
		require.NoError(t, err)
		if !step.Busy && step.Cursor == st.Head.Pos {
			return total
		}
	}
}

// settle seals every event and keeps the due dates up to the chain head.
func (b *testBundle) settle(t *testing.T) {
	t.Helper()
	waitSealed(t, b.store)
	keepAll(t, b.store, 100, b.now)
}

// sentCase makes a case to one authority whose delivery is sent, or delivered when delivered.
func (b *testBundle) sentCase(t *testing.T, key string, delivered bool) (schemas.StoredCase, string) {
	t.Helper()
	c := b.newCase(t, key, "00000001")
	b.relayAll(t)
	full, err := b.store.Case(b.ctx, "portal", c.ID)
	require.NoError(t, err)
	st := schemas.StatusSent
	if delivered {
		st = schemas.StatusDelivered
	}
	applied, err := b.store.RecordOutcome(b.ctx, schemas.DeliveryOutcome{DeliveryID: full.Deliveries[0].ID, Attempt: 1, Status: st, At: b.now})
	require.NoError(t, err)
	require.True(t, applied)
	return c, full.Deliveries[0].ID
}

// eventsOfType returns the case's events of type typ.
func (b *testBundle) eventsOfType(t *testing.T, appealID string, typ schemas.EventType) []schemas.Event {
	t.Helper()
	c, err := b.store.Case(b.ctx, "portal", appealID)
	require.NoError(t, err)
	var out []schemas.Event
	for _, e := range c.Events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func (b *testBundle) dueOf(t *testing.T, deliveryID string) map[schemas.DueKind]schemas.DueDate {
	t.Helper()
	dues, err := b.store.DueDates(b.ctx, deliveryID)
	require.NoError(t, err)
	out := map[schemas.DueKind]schemas.DueDate{}
	for _, d := range dues {
		out[d.Kind] = d
	}
	return out
}

// toStatus passes every authority message as a change to the status s.
func toStatus(s schemas.DeliveryStatus) store.TransitionFunc {
	return func(current schemas.DeliveryStatus, _ schemas.AuthorityMessage) (schemas.DeliveryStatus, bool) {
		return s, s != current
	}
}

func TestKeepDeadlinesFollowsTheDelivery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c, id := b.sentCase(t, "keep-1", false)
	b.settle(t)
	dues := b.dueOf(t, id)
	require.Len(t, dues, 1, "sent: only the delivery notice is due")
	notice := dues[schemas.DueDeliveryNotice]
	require.True(t, b.now.Add(6*time.Hour).Equal(notice.DueAt))
	require.Equal(t, schemas.DueOpen, notice.State)
	require.Equal(t, "stub.notice", notice.Explanation.Rule)
	require.Equal(t, "none", notice.Explanation.CalendarVersion)
	require.Empty(t, b.eventsOfType(t, c.ID, schemas.EventDeadlineSet), "no event for a delivery notice")

	// The authority's delivered message: the notice is met, the answer is due.
	delivered := b.now.Add(time.Hour)
	_, err := b.store.ApplyAuthorityMessages(b.ctx, "00000001", []schemas.AuthorityMessage{{MessageID: "m-1", Of: id, Type: schemas.MsgDelivered}},
		delivered, toStatus(schemas.StatusDelivered))
	require.NoError(t, err)
	b.settle(t)
	dues = b.dueOf(t, id)
	require.Equal(t, schemas.DueMet, dues[schemas.DueDeliveryNotice].State)
	require.True(t, delivered.Equal(*dues[schemas.DueDeliveryNotice].ClosedAt))
	answer := dues[schemas.DueAnswer]
	require.True(t, delivered.Add(24*time.Hour).Equal(answer.DueAt))
	require.Equal(t, schemas.DueOpen, answer.State)
	set := b.eventsOfType(t, c.ID, schemas.EventDeadlineSet)
	require.Len(t, set, 1)
	require.Equal(t, id, set[0].DeliveryID)
	require.Equal(t, schemas.StatusDelivered, set[0].Status)
	require.Contains(t, set[0].Detail, "answer due "+answer.DueAt.In(time.UTC).Format(time.RFC3339))

	// Marked simple, then extended: each change supersedes the answer due date and is an event.
	_, err = b.store.ApplyAuthorityMessages(b.ctx, "00000001", []schemas.AuthorityMessage{{MessageID: "m-2", Of: id, Type: schemas.MsgStatus,
		Simple: true, Text: "simple"}}, delivered.Add(time.Minute), toStatus(schemas.StatusDelivered))
	require.NoError(t, err)
	b.settle(t)
	require.Equal(t, "stub.simple", b.dueOf(t, id)[schemas.DueAnswer].Explanation.Rule)
	newDue := delivered.Add(72 * time.Hour)
	_, err = b.store.ApplyAuthorityMessages(b.ctx, "00000001", []schemas.AuthorityMessage{{MessageID: "m-3", Of: id, Type: schemas.MsgExtended,
		NewDueDate: &newDue, Reason: "inspection"}}, delivered.Add(2*time.Minute), toStatus(schemas.StatusDelivered))
	require.NoError(t, err)
	b.settle(t)
	answer = b.dueOf(t, id)[schemas.DueAnswer]
	require.Equal(t, "stub.extended", answer.Explanation.Rule)
	require.True(t, newDue.Equal(answer.DueAt))
	require.Len(t, b.eventsOfType(t, c.ID, schemas.EventDeadlineSet), 3)
	require.Equal(t, 3, b.countRows(t, `SELECT count(*) FROM due_dates WHERE delivery_id = $1 AND kind = 'answer'`, id), "the history is kept")
	require.Equal(t, 1, b.countRows(t, `SELECT count(*) FROM due_dates WHERE delivery_id = $1 AND kind = 'answer' AND superseded_by IS NULL`, id))

	// Events that change nothing (the keeper's own, a repeated message) leave the due dates alone.
	keepAll(t, b.store, 100, b.now)
	require.Len(t, b.eventsOfType(t, c.ID, schemas.EventDeadlineSet), 3)

	// Answered in time: met, closed, and the case view shows it.
	_, err = b.store.ApplyAuthorityMessages(b.ctx, "00000001", []schemas.AuthorityMessage{{MessageID: "m-4", Of: id, Type: schemas.MsgAnswered,
		Outcome: schemas.OutcomeExplained, Text: "answer"}}, delivered.Add(48*time.Hour), toStatus(schemas.StatusAnswered))
	require.NoError(t, err)
	b.settle(t)
	full, err := b.store.Case(b.ctx, "portal", c.ID)
	require.NoError(t, err)
	require.Len(t, full.Deliveries[0].Due, 2)
	for _, d := range full.Deliveries[0].Due {
		require.Equal(t, schemas.DueMet, d.State, d.Kind)
		require.NotNil(t, d.ClosedAt)
	}
	cursor, err := b.store.DeadlineCursor(b.ctx)
	require.NoError(t, err)
	st, err := b.store.ChainStatus(b.ctx)
	require.NoError(t, err)
	require.Equal(t, st.Head.Pos, cursor)
}

func (b *testBundle) countRows(t *testing.T, query string, args ...any) int {
	t.Helper()
	n, err := b.store.CountForTest(b.ctx, query, args...)
	require.NoError(t, err)
	return n
}

// TestKeepDeadlinesRollsBackAFailedStep: a derive error stores nothing and leaves the cursor; the
// next step does the work once.
func TestKeepDeadlinesRollsBackAFailedStep(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c, id := b.sentCase(t, "fail-1", true)
	waitSealed(t, b.store)
	boom := errors.New("boom")
	_, err := b.store.KeepDeadlines(b.ctx, 100, ownDeadlineEvents, b.now, func(schemas.StoredCalendar, schemas.DeadlineFacts) ([]store.DueDateSpec, error) {
		return nil, boom
	})
	require.ErrorIs(t, err, boom)
	require.Empty(t, b.dueOf(t, id))
	cursor, err := b.store.DeadlineCursor(b.ctx)
	require.NoError(t, err)
	require.Zero(t, cursor)
	keepAll(t, b.store, 100, b.now)
	require.Len(t, b.dueOf(t, id), 2)
	require.Len(t, b.eventsOfType(t, c.ID, schemas.EventDeadlineSet), 1)
}

// TestTwoKeepersAndTwoSweepersActOnce runs the keeper and sweep steps of two hub processes (two
// store handles) at once while deliveries are sent and sealed: every delivery gets one answer due
// date and one deadline_set event, and every overdue due date one event.
func TestTwoKeepersAndTwoSweepersActOnce(t *testing.T) {
	t.Parallel()
	cfg := storetest.Config()
	b := seeded(t, storetest.Open(t, cfg))
	other := storetest.Open(t, cfg)
	const cases = 10
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	late := b.now.Add(48 * time.Hour) // past every answer (24 h) and delivery notice (6 h)
	for _, s := range []*store.Store{b.store, other} {
		wg.Go(func() {
			for {
				if _, err := s.KeepDeadlines(context.Background(), 3, ownDeadlineEvents, b.now, stubDerive); err != nil {
					errs <- err
					return
				}
				if _, err := s.SweepOverdue(context.Background(), late, overdueEvents, closedStatuses, 2); err != nil {
					errs <- err
					return
				}
				select {
				case <-done:
					return
				default:
				}
			}
		})
	}
	var cs []schemas.StoredCase
	for i := range cases {
		c, _ := b.sentCase(t, fmt.Sprintf("two-%d", i), i%2 == 0) // even: delivered; odd: sent only
		cs = append(cs, c)
		waitSealed(t, b.store)
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	keepAll(t, other, 5, b.now)
	for _, s := range []*store.Store{b.store, other} {
		_, err := s.SweepOverdue(b.ctx, late, overdueEvents, closedStatuses, 100)
		require.NoError(t, err)
	}
	for i, c := range cs {
		set := b.eventsOfType(t, c.ID, schemas.EventDeadlineSet)
		overdue := b.eventsOfType(t, c.ID, schemas.EventDeadlineOverdue)
		missing := b.eventsOfType(t, c.ID, schemas.EventDeliveryNoticeMissing)
		if i%2 == 0 {
			require.Len(t, set, 1, "case %d", i)
			require.Len(t, overdue, 1, "case %d: the answer is overdue once", i)
			require.Empty(t, missing, "case %d: delivered in time", i)
		} else {
			require.Empty(t, set, "case %d", i)
			require.Empty(t, overdue, "case %d", i)
			require.Len(t, missing, 1, "case %d: the delivery notice is missing once", i)
		}
	}
	require.Equal(t, cases, b.countRows(t, `SELECT count(*) FROM due_dates WHERE overdue_at IS NOT NULL`))
}

func TestSweepOverdue(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c1, d1 := b.sentCase(t, "sweep-1", true)
	c2, d2 := b.sentCase(t, "sweep-2", true)
	b.settle(t)
	// The second is answered (late) before the sweep, but the keeper has not closed its due date
	// yet: the sweep reads the delivery's status and leaves it.
	_, err := b.store.ApplyAuthorityMessages(b.ctx, "00000001", []schemas.AuthorityMessage{{MessageID: "a-2", Of: d2, Type: schemas.MsgAnswered,
		Outcome: schemas.OutcomeExplained, Text: "late"}}, b.now.Add(30*time.Hour), toStatus(schemas.StatusAnswered))
	require.NoError(t, err)

	early, err := b.store.SweepOverdue(b.ctx, b.now.Add(23*time.Hour), overdueEvents, closedStatuses, 10)
	require.NoError(t, err)
	require.Empty(t, early, "nothing is due yet")
	got, err := b.store.SweepOverdue(b.ctx, b.now.Add(25*time.Hour), overdueEvents, closedStatuses, 10)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, d1, got[0].DeliveryID)
	require.Equal(t, schemas.DueAnswer, got[0].Kind)
	require.Equal(t, schemas.EventDeadlineOverdue, got[0].Event)
	again, err := b.store.SweepOverdue(b.ctx, b.now.Add(26*time.Hour), overdueEvents, closedStatuses, 10)
	require.NoError(t, err)
	require.Empty(t, again, "reported once")
	ev := b.eventsOfType(t, c1.ID, schemas.EventDeadlineOverdue)
	require.Len(t, ev, 1)
	require.Equal(t, d1, ev[0].DeliveryID)
	require.Contains(t, ev[0].Detail, "answer due ")
	answer := b.dueOf(t, d1)[schemas.DueAnswer]
	require.Equal(t, schemas.DueOverdue, answer.State)
	require.True(t, b.now.Add(25*time.Hour).Equal(*answer.OverdueSince))

	// The keeper closes the late answer as missed.
	b.settle(t)
	require.Equal(t, schemas.DueMissed, b.dueOf(t, d2)[schemas.DueAnswer].State)
	require.Empty(t, b.eventsOfType(t, c2.ID, schemas.EventDeadlineOverdue))

	// An extension to a later date: a new due date, not reported until it passes too; an
	// extension that is already past when it comes keeps the report.
	ext := b.now.Add(40 * time.Hour)
	_, err = b.store.ApplyAuthorityMessages(b.ctx, "00000001", []schemas.AuthorityMessage{{MessageID: "e-1", Of: d1, Type: schemas.MsgExtended,
		NewDueDate: &ext, Reason: "more time"}}, b.now.Add(26*time.Hour), toStatus(schemas.StatusDelivered))
	require.NoError(t, err)
	b.settle(t)
	answer = b.dueOf(t, d1)[schemas.DueAnswer]
	require.Equal(t, schemas.DueOpen, answer.State)
	got, err = b.store.SweepOverdue(b.ctx, b.now.Add(41*time.Hour), overdueEvents, closedStatuses, 10)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Len(t, b.eventsOfType(t, c1.ID, schemas.EventDeadlineOverdue), 2, "the extended due date passed too")
	past := b.now.Add(41 * time.Hour)
	_, err = b.store.ApplyAuthorityMessages(b.ctx, "00000001", []schemas.AuthorityMessage{{MessageID: "e-2", Of: d1, Type: schemas.MsgExtended,
		NewDueDate: &past, Reason: "after the fact"}}, b.now.Add(42*time.Hour), toStatus(schemas.StatusDelivered))
	require.NoError(t, err)
	b.settle(t)
	require.Equal(t, schemas.DueOverdue, b.dueOf(t, d1)[schemas.DueAnswer].State, "the report carries over")
	got, err = b.store.SweepOverdue(b.ctx, b.now.Add(43*time.Hour), overdueEvents, closedStatuses, 10)
	require.NoError(t, err)
	require.Empty(t, got)
}

func TestOverdueListing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var deliveries []string
	for i := range 5 {
		_, id := b.sentCase(t, fmt.Sprintf("list-%d", i), i < 4) // the last is sent only
		deliveries = append(deliveries, id)
	}
	b.settle(t)
	now := b.now.Add(30 * time.Hour)
	all, more, err := b.store.Overdue(b.ctx, schemas.OverdueFilter{Now: now, Limit: 10},
		[]schemas.DueKind{schemas.DueAnswer, schemas.DueDeliveryNotice}, closedStatuses)
	require.NoError(t, err)
	require.False(t, more)
	require.Len(t, all, 5)
	require.Equal(t, schemas.DueDeliveryNotice, all[0].Kind, "the earliest due first")
	require.Equal(t, deliveries[4], all[0].DeliveryID)
	require.Equal(t, int64(24*3600), all[0].LateSeconds)
	require.Regexp(t, `^ZV-2026-\d{8}$`, all[1].TrackingNumber)
	require.Equal(t, "00000001", all[1].Authority)
	require.Equal(t, schemas.CaseAppeal, all[1].CaseKind)
	require.Equal(t, schemas.StatusDelivered, all[1].Status)
	require.Equal(t, "stub.answer", all[1].Rule)
	require.Nil(t, all[1].ReportedAt)

	answers, _, err := b.store.Overdue(b.ctx, schemas.OverdueFilter{Now: now, Limit: 10, Kind: schemas.DueAnswer},
		[]schemas.DueKind{schemas.DueAnswer, schemas.DueDeliveryNotice}, closedStatuses)
	require.NoError(t, err)
	require.Len(t, answers, 4)
	none, _, err := b.store.Overdue(b.ctx, schemas.OverdueFilter{Now: now, Limit: 10, Authority: "00000002"},
		[]schemas.DueKind{schemas.DueAnswer, schemas.DueDeliveryNotice}, closedStatuses)
	require.NoError(t, err)
	require.Empty(t, none)

	// Paged two at a time: the same items, in order.
	var paged []schemas.OverdueItem
	var after *schemas.OverdueCursor
	for {
		page, more, err := b.store.Overdue(b.ctx, schemas.OverdueFilter{Now: now, Limit: 2, After: after},
			[]schemas.DueKind{schemas.DueAnswer, schemas.DueDeliveryNotice}, closedStatuses)
		require.NoError(t, err)
		paged = append(paged, page...)
		if !more {
			break
		}
		c, err := schemas.ParseOverdueCursor(page[len(page)-1].Cursor.String())
		require.NoError(t, err)
		after = &c
	}
	require.Equal(t, all, paged)
}

func TestImportCalendar(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c, id := b.sentCase(t, "cal-1", true)
	_, closedID := b.sentCase(t, "cal-2", true)
	b.settle(t)
	_, err := b.store.ApplyAuthorityMessages(b.ctx, "00000001", []schemas.AuthorityMessage{{MessageID: "a-1", Of: closedID, Type: schemas.MsgAnswered,
		Outcome: schemas.OutcomeExplained, Text: "done"}}, b.now.Add(time.Hour), toStatus(schemas.StatusAnswered))
	require.NoError(t, err)
	b.settle(t)
	_, err = b.store.CurrentCalendar(b.ctx)
	require.ErrorIs(t, err, store.ErrNotFound)

	v1 := store.NewCalendar{Version: "v1", Source: []byte("hours: 24"), By: "ops"}
	seeded, err := b.store.SeedCalendar(b.ctx, v1, b.now, stubDerive)
	require.NoError(t, err)
	require.True(t, seeded.Imported)
	require.Equal(t, 1, seeded.Recomputed, "the open delivery; the answered one is closed")
	require.Zero(t, seeded.Changed, "the same due dates under v1")
	require.Equal(t, "v1", b.dueOf(t, id)[schemas.DueAnswer].Explanation.CalendarVersion, "updated in place")
	again, err := b.store.SeedCalendar(b.ctx, store.NewCalendar{Version: "v0", Source: []byte("hours: 1")}, b.now, stubDerive)
	require.NoError(t, err)
	require.False(t, again.Imported, "a seed never replaces a stored calendar")
	require.Equal(t, "v1", again.Calendar.Version)

	v2 := store.NewCalendar{Version: "v2", Source: []byte("hours: 48"), By: "ops"}
	res, err := b.store.ImportCalendar(b.ctx, v2, b.now.Add(time.Minute), stubDerive)
	require.NoError(t, err)
	require.True(t, res.Imported)
	require.Equal(t, 1, res.Recomputed)
	require.Equal(t, 1, res.Changed)
	answer := b.dueOf(t, id)[schemas.DueAnswer]
	require.True(t, b.now.Add(48*time.Hour).Equal(answer.DueAt))
	require.Equal(t, "v2", answer.Explanation.CalendarVersion)
	rec := b.eventsOfType(t, c.ID, schemas.EventDeadlineRecomputed)
	require.Len(t, rec, 1)
	require.Contains(t, rec[0].Detail, "calendar v2: answer due ")
	require.Equal(t, schemas.DueMet, b.dueOf(t, closedID)[schemas.DueAnswer].State, "a closed due date is not recomputed")

	same, err := b.store.ImportCalendar(b.ctx, v2, b.now, stubDerive)
	require.NoError(t, err)
	require.False(t, same.Imported, "the current calendar again: nothing changes")
	_, err = b.store.ImportCalendar(b.ctx, store.NewCalendar{Version: "v2", Source: []byte("hours: 12")}, b.now, stubDerive)
	require.ErrorIs(t, err, store.ErrConflict)
	_, err = b.store.ImportCalendar(b.ctx, v1, b.now, stubDerive)
	require.ErrorIs(t, err, store.ErrConflict, "an older version again")
	all, err := b.store.Calendars(b.ctx)
	require.NoError(t, err)
	require.Len(t, all, 2)
	require.Equal(t, "v2", all[0].Version)
	require.Equal(t, "ops", all[0].ImportedBy)
	require.Len(t, all[0].SHA256, 32)

	// The keeper derives with the current calendar from now on.
	_, id3 := b.sentCase(t, "cal-3", true)
	b.settle(t)
	require.True(t, b.now.Add(48*time.Hour).Equal(b.dueOf(t, id3)[schemas.DueAnswer].DueAt))
}
