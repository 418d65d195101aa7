package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.uber.org/zap"

	"appealhub/internal/audit"
	"appealhub/internal/clock"
	"appealhub/internal/lifecycle"
	"appealhub/schemas"
)

// Ledger is the notifier's view of the store.
type Ledger interface {
	// NotifyEvents moves the notification cursor over up to limit sealed events, in one
	// transaction, storing the notification build makes of each event of a subscribed client's
	// case; it returns how many it stored and how many chain links it passed (0 when another
	// process holds the cursor).
	NotifyEvents(ctx context.Context, now time.Time, limit int,
		build func(schemas.NotificationSource) (schemas.NewNotification, bool, error)) (notified int, passed int64, err error)
}

// Defaults of Config.
const (
	DefaultInterval  = time.Second
	DefaultBatchSize = 500
)

// Config configures a Notifier.
type Config struct {
	// Interval is how often the notifier looks for newly sealed events. Defaults to 1s.
	Interval time.Duration
	// BatchSize is the most chain links one transaction passes over. Defaults to 500.
	BatchSize int
	// Clock dates the notifications. Defaults to the real clock.
	Clock clock.Clock
	// NotifiedFunc, when set, is called after a step that stored notifications (to wake the
	// relay). It must not block.
	NotifiedFunc func()
	// Due, when set, gives the due date a notification carries: the answer due date in force at
	// the event (nil: none yet). Without it notifications carry none.
	Due DueFunc
}

// DueFunc returns the answer due date in force at a source's event, or nil when it has none.
type DueFunc func(src schemas.NotificationSource) (*time.Time, error)

// Notifier turns the sealed events of the cases of subscribed portal clients into notifications:
// between Start and Stop it walks the event chain after its cursor and stores, in the transaction
// that moves the cursor, one notification per event the portal vocabulary shows
// (schemas.PortalEventOf), so exactly once per event and client. Several hub processes may each run
// one: one at a time moves the cursor, the others find it taken and skip the step. Notify may also
// be called directly; a Notifier is safe for concurrent use.
type Notifier struct {
	cfg    Config
	ledger Ledger
	logger *zap.Logger
	loop   lifecycle.Loop
}

// NewNotifier returns a notifier over ledger.
func NewNotifier(ledger Ledger, cfg Config, logger *zap.Logger) *Notifier {
	if logger == nil {
		logger = zap.NewNop()
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	cfg.Clock = clock.OrReal(cfg.Clock)
	return &Notifier{cfg: cfg, ledger: ledger, logger: logger.Named("notify")}
}

// Notify notifies every event sealed so far, in steps of BatchSize links, and returns how many
// notifications it stored. It returns 0 without error when another process is notifying.
func (n *Notifier) Notify(ctx context.Context) (int, error) {
	total := 0
	for {
		notified, passed, err := n.ledger.NotifyEvents(ctx, n.cfg.Clock.Now().UTC(), n.cfg.BatchSize, n.build)
		total += notified
		if notified > 0 && n.cfg.NotifiedFunc != nil {
			n.cfg.NotifiedFunc()
		}
		if err != nil || passed < int64(n.cfg.BatchSize) {
			return total, err
		}
	}
}

// Start starts notifying in the background and returns.
func (n *Notifier) Start(ctx context.Context) error {
	n.loop.Start(ctx, func(ctx context.Context) {
		audit.Follow(ctx, n.cfg.Interval, n.cfg.Clock, n.logger, "notifying portals", n.Notify)
	})
	return nil
}

// Stop stops the background notifying after the step in flight and waits for it. Safe before
// Start and repeated.
func (n *Notifier) Stop(ctx context.Context) error { return n.loop.Stop(ctx) }

// Stopped is closed when the background notifying has stopped; nil before Start.
func (n *Notifier) Stopped() <-chan struct{} { return n.loop.Stopped() }

// build is Build with the event's due date from Config.Due.
func (n *Notifier) build(src schemas.NotificationSource) (schemas.NewNotification, bool, error) {
	src.Event.DueAt = nil
	if n.cfg.Due != nil {
		due, err := n.cfg.Due(src)
		if err != nil {
			return schemas.NewNotification{}, false, fmt.Errorf("due date of event %d: %w", src.Event.Seq, err)
		}
		src.Event.DueAt = due
	}
	return Build(src)
}

// Build makes the notification of a sealed event: the entry it shows in the portal vocabulary, as
// JSON with Format set, or ok false when it shows nothing.
func Build(src schemas.NotificationSource) (schemas.NewNotification, bool, error) {
	p, ok := schemas.PortalEventOf(src.Event, src.Previous)
	if !ok {
		return schemas.NewNotification{}, false, nil
	}
	p.Format = schemas.NotificationFormat
	payload, err := json.Marshal(p)
	if err != nil {
		return schemas.NewNotification{}, false, fmt.Errorf("encode notification of event %d: %w", src.Event.Seq, err)
	}
	return schemas.NewNotification{State: p.State, Payload: payload}, true, nil
}
