package router

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"appealhub/config"
	"appealhub/internal/audit"
	"appealhub/internal/clock"
	"appealhub/internal/deadline"
	"appealhub/internal/httpapi"
	"appealhub/internal/lifecycle"
	"appealhub/internal/store"
	"appealhub/schemas"
)

// Deadlines (docs/deadlines.md): the keeper derives the due dates of deliveries from the sealed
// event chain, the sweep reports what is overdue, and the hub lists it for operators.

var (
	_ httpapi.OverdueLister = (*Hub)(nil)
	_ deadlineStore         = (*store.Store)(nil)
)

// deadlineStore is the deadline keeper's view of the store.
type deadlineStore interface {
	SeedCalendar(ctx context.Context, c store.NewCalendar, now time.Time, derive store.DeriveFunc) (store.CalendarImport, error)
	KeepDeadlines(ctx context.Context, limit int, skip []schemas.EventType, now time.Time, derive store.DeriveFunc) (store.DeadlineStep, error)
	SweepOverdue(ctx context.Context, now time.Time, events map[schemas.DueKind]schemas.EventType,
		closed []schemas.DeliveryStatus, limit int) ([]store.OverdueReport, error)
}

// ownDeadlineEvents are the events the deadline keeper and sweep write: the keeper does not
// recompute on them.
var ownDeadlineEvents = []schemas.EventType{schemas.EventDeadlineSet, schemas.EventDeadlineRecomputed,
	schemas.EventDeadlineOverdue, schemas.EventDeliveryNoticeMissing}

// overdueEvents are the event each alarmed due kind raises when it passes.
var overdueEvents = map[schemas.DueKind]schemas.EventType{
	schemas.DueAnswer:         schemas.EventDeadlineOverdue,
	schemas.DueDeliveryNotice: schemas.EventDeliveryNoticeMissing,
}

// calendars parses stored calendars once per version. Safe for concurrent use.
type calendars struct {
	mu     sync.Mutex
	parsed map[string]*deadline.Calendar
}

// get returns the parsed calendar c; the calendar embedded in the binary when none is stored.
func (cs *calendars) get(c schemas.StoredCalendar) (*deadline.Calendar, error) {
	if c.ID == 0 {
		return deadline.Default(), nil
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cal, ok := cs.parsed[c.Version]; ok {
		return cal, nil
	}
	cal, err := deadline.Parse(c.Source)
	if err != nil {
		return nil, fmt.Errorf("stored calendar %s: %w", c.Version, err)
	}
	if cs.parsed == nil {
		cs.parsed = map[string]*deadline.Calendar{}
	}
	cs.parsed[c.Version] = cal
	return cal, nil
}

// derive is the store.DeriveFunc: the due dates internal/deadline computes from the facts.
func (cs *calendars) derive(c schemas.StoredCalendar, f schemas.DeadlineFacts) ([]store.DueDateSpec, error) {
	cal, err := cs.get(c)
	if err != nil {
		return nil, err
	}
	dues := cal.Derive(f)
	out := make([]store.DueDateSpec, len(dues))
	for i, d := range dues {
		out[i] = store.DueDateSpec{Kind: d.Kind, DueAt: d.At, Explanation: d.Explanation, ClosedAt: d.ClosedAt, Met: d.Met}
	}
	return out, nil
}

// dueAsOf is the notify.DueFunc: the answer due date of the event's delivery as the facts stood
// at the event, so that a notification shows the term in force when its event happened, however
// late the notifier makes it.
func (cs *calendars) dueAsOf(src schemas.NotificationSource) (*time.Time, error) {
	if src.Deadline == nil {
		return nil, nil
	}
	dues, err := cs.derive(src.Calendar, src.Deadline.AsOf(src.Event.At, src.Event.Status))
	if err != nil {
		return nil, err
	}
	for _, d := range dues {
		if d.Kind == schemas.DueAnswer {
			at := d.DueAt.UTC()
			return &at, nil
		}
	}
	return nil, nil
}

// ImportCalendar parses a calendar file and imports it as the current calendar, recomputing the
// due dates of open deliveries (`appealhub calendar import`). A file that does not parse is a
// *deadline.ParseError.
func ImportCalendar(ctx context.Context, st *store.Store, source []byte, by string, now time.Time) (store.CalendarImport, error) {
	cal, err := deadline.Parse(source)
	if err != nil {
		return store.CalendarImport{}, err
	}
	cs := &calendars{parsed: map[string]*deadline.Calendar{cal.Version(): cal}}
	return st.ImportCalendar(ctx, store.NewCalendar{Version: cal.Version(), Source: source, By: by}, now, cs.derive)
}

// deadlineKeeper runs the deadline keeper and the overdue sweep of one hub process; several
// processes may run theirs at once (the keeper takes turns through a lock, the sweep skips rows
// another process is reporting).
type deadlineKeeper struct {
	cfg       config.Deadlines
	st        deadlineStore
	clock     clock.Clock
	logger    *zap.Logger
	calendars calendars
	keepLoop  lifecycle.Loop
	sweepLoop lifecycle.Loop
}

func newDeadlineKeeper(cfg config.Deadlines, st deadlineStore, c clock.Clock, logger *zap.Logger) *deadlineKeeper {
	return &deadlineKeeper{cfg: cfg, st: st, clock: clock.OrReal(c), logger: logger.Named("deadlines")}
}

// Start stores the embedded calendar when the database has none, then starts the keeper and the
// sweep in the background.
func (k *deadlineKeeper) Start(ctx context.Context) error {
	res, err := k.st.SeedCalendar(ctx, store.NewCalendar{Version: deadline.Default().Version(), Source: deadline.DefaultSource(),
		By: "appealhub (embedded)"}, k.clock.Now(), k.calendars.derive)
	if err != nil {
		return err
	}
	if res.Imported {
		k.logger.Info("stored the embedded working-day calendar", zap.String("calendar_version", res.Calendar.Version))
	}
	k.keepLoop.Start(ctx, func(ctx context.Context) {
		audit.Follow(ctx, k.cfg.KeepInterval, k.clock, k.logger, "keeping due dates", k.Keep)
	})
	k.sweepLoop.Start(ctx, func(ctx context.Context) {
		audit.Follow(ctx, k.cfg.SweepInterval, k.clock, k.logger, "sweeping overdue due dates", k.Sweep)
	})
	return nil
}

// Stop stops both loops after the step in flight. Safe before Start and repeated.
func (k *deadlineKeeper) Stop(ctx context.Context) error {
	return errors.Join(k.keepLoop.Stop(ctx), k.sweepLoop.Stop(ctx))
}

// Keep derives the due dates from every event sealed so far, in steps of BatchSize links, and
// returns how many deliveries it recomputed. It returns 0 without error when another process is
// keeping.
func (k *deadlineKeeper) Keep(ctx context.Context) (int, error) {
	total := 0
	for {
		step, err := k.st.KeepDeadlines(ctx, k.cfg.BatchSize, ownDeadlineEvents, k.clock.Now(), k.calendars.derive)
		if err != nil {
			return total, err
		}
		total += step.Deliveries
		if step.Busy || step.Passed < int64(k.cfg.BatchSize) {
			return total, nil
		}
	}
}

// Sweep reports every due date overdue by now, in steps of BatchSize, and returns how many.
func (k *deadlineKeeper) Sweep(ctx context.Context) (int, error) {
	total := 0
	closed := deadline.ClosedStatuses()
	for {
		reports, err := k.st.SweepOverdue(ctx, k.clock.Now(), overdueEvents, closed, k.cfg.BatchSize)
		if err != nil {
			return total, err
		}
		for _, r := range reports {
			k.logger.Info("overdue", zap.String("delivery_id", r.DeliveryID), zap.String("appeal_id", r.AppealID),
				zap.String("kind", string(r.Kind)), zap.Time("due_at", r.DueAt))
		}
		total += len(reports)
		if len(reports) < k.cfg.BatchSize {
			return total, nil
		}
	}
}

// Overdue lists the overdue due dates for operators (GET /v1/overdue), judged at the hub's clock.
func (h *Hub) Overdue(ctx context.Context, f schemas.OverdueFilter) (schemas.OverduePage, error) {
	f.Now = h.clock.Now()
	kinds := []schemas.DueKind{schemas.DueAnswer, schemas.DueDeliveryNotice}
	items, more, err := h.store.Overdue(ctx, f, kinds, deadline.ClosedStatuses())
	if err != nil {
		return schemas.OverduePage{}, fmt.Errorf("list overdue: %w: %w", schemas.ErrUnavailable, err)
	}
	page := schemas.OverduePage{Items: items}
	if more && len(items) > 0 {
		page.NextCursor = items[len(items)-1].Cursor.String()
	}
	return page, nil
}
