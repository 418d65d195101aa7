package router

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"appealhub/config"
	"appealhub/internal/audit"
	"appealhub/internal/clock"
	"appealhub/internal/lifecycle"
	"appealhub/internal/metrics"
	"appealhub/internal/store"
)

// The reconciler (docs/adr/0007-reconciler.md): every reconcile.interval it sends again, for the
// same attempt, the push deliveries in transit that nothing has come of for longer than their
// quiet time (reconcile.after, and never less than the publish timeout plus the authority's
// request timeout), and reports what it cannot fix. Every hub process runs one; they share the
// work through row locks (FOR NO KEY UPDATE SKIP LOCKED), so each stuck delivery is sent again
// once.

var _ reconcileStore = (*store.Store)(nil)

// reconcileStore is the reconciler's view of the store.
type reconcileStore interface {
	ReconcileStuck(ctx context.Context, rule store.ReconcileRule) ([]store.Reconciled, error)
	StuckReport(ctx context.Context, rule store.ReconcileRule) ([]store.Stuck, error)
}

// reconcileSample is how many deliveries one report line names.
const reconcileSample = 5

// reconciler runs the reconciler of one hub process.
type reconciler struct {
	cfg            config.Reconcile
	publishTimeout time.Duration
	requestTimeout time.Duration
	st             reconcileStore
	clock          clock.Clock
	metrics        *metrics.Metrics
	logger         *zap.Logger
	// sentFunc is called after deliveries were sent again (their outbox rows are due now).
	sentFunc func()
	loop     lifecycle.Loop
}

// newReconciler returns the reconciler of cfg.Reconcile; the publish timeout is the longer of the
// relay's and the broker's, the request timeout delivery.request_timeout. A section not filled or
// out of range takes the defaults.
func newReconciler(cfg config.Config, st reconcileStore, c clock.Clock, m *metrics.Metrics, logger *zap.Logger, sent func()) *reconciler {
	rc := cfg.Reconcile
	if rc.Interval <= 0 {
		rc.Interval = config.DefaultReconcileInterval
	}
	if rc.After <= 0 {
		rc.After = config.DefaultReconcileAfter
	}
	if rc.BatchSize <= 0 {
		rc.BatchSize = config.DefaultReconcileBatchSize
	}
	if sent == nil {
		sent = func() {}
	}
	return &reconciler{cfg: rc, publishTimeout: max(cfg.Relay.PublishTimeout, cfg.Broker.PublishTimeout),
		requestTimeout: cmp.Or(cfg.Delivery.RequestTimeout, config.DefaultDeliveryRequestTimeout), st: st,
		clock: clock.OrReal(c), metrics: m, logger: logger.Named("reconcile"), sentFunc: sent}
}

// Start runs the reconciler in the background: at once, then every interval.
func (r *reconciler) Start(ctx context.Context) error {
	r.loop.Start(ctx, func(ctx context.Context) {
		audit.Follow(ctx, r.cfg.Interval, r.clock, r.logger, "reconciling deliveries in transit", r.Reconcile)
	})
	return nil
}

// Stop stops the reconciler after the pass in flight. Safe before Start and repeated.
func (r *reconciler) Stop(ctx context.Context) error { return r.loop.Stop(ctx) }

// rule is the stuck rule at now.
func (r *reconciler) rule(now time.Time) store.ReconcileRule {
	return store.ReconcileRule{Now: now, After: r.cfg.After, PublishTimeout: r.publishTimeout,
		RequestTimeout: r.requestTimeout, Limit: r.cfg.BatchSize}
}

// Reconcile makes one pass: it sends again every stuck delivery, in batches of batch_size, logging
// each (delivery id, tracking number, authority, attempt, reason) and counting it by reason, then
// reports what it cannot fix. It returns how many deliveries it sent again.
func (r *reconciler) Reconcile(ctx context.Context) (int, error) {
	total := 0
	for {
		sent, err := r.st.ReconcileStuck(ctx, r.rule(r.clock.Now()))
		if err != nil {
			return total, err
		}
		for _, d := range sent {
			r.logger.Warn("delivery stuck in transit: sent again", zap.String("delivery_id", d.DeliveryID),
				zap.String("tracking_number", d.TrackingNumber), zap.String("authority", d.Authority),
				zap.Int("attempt", d.Attempt+1), zap.String("reason", d.Reason), zap.Time("since", d.Since))
			r.metrics.Reconciled(d.Reason)
		}
		if len(sent) > 0 {
			r.sentFunc()
		}
		total += len(sent)
		if len(sent) < r.cfg.BatchSize {
			break
		}
	}
	return total, r.report(ctx)
}

// report logs what is stuck and cannot be fixed here: one line per kind and authority, with how
// many, since when, and a few of them.
func (r *reconciler) report(ctx context.Context) error {
	stuck, err := r.st.StuckReport(ctx, r.rule(r.clock.Now()))
	if err != nil {
		return err
	}
	type group struct {
		kind, authority string
		items           []store.Stuck
	}
	var groups []*group
	for _, s := range stuck {
		i := slices.IndexFunc(groups, func(g *group) bool { return g.kind == s.Kind && g.authority == s.Authority })
		if i < 0 {
			groups = append(groups, &group{kind: s.Kind, authority: s.Authority})
			i = len(groups) - 1
		}
		groups[i].items = append(groups[i].items, s)
	}
	for _, g := range groups {
		first := g.items[0] // the oldest
		ids := make([]string, 0, reconcileSample)
		for _, s := range g.items[:min(len(g.items), reconcileSample)] {
			ids = append(ids, fmt.Sprintf("%s (%s)", s.DeliveryID, s.TrackingNumber))
		}
		fields := []zap.Field{zap.String("kind", g.kind), zap.String("authority", g.authority),
			zap.Int("deliveries", len(g.items)), zap.Time("since", first.Since), zap.Strings("sample", ids)}
		msg := "deliveries in transit to a closed authority: an operator must move them"
		if g.kind == store.StuckUnpublished {
			msg = "outbox rows overdue and not published: the relay cannot publish them"
			fields = append(fields, zap.Int("publish_failures", first.PublishFailures), zap.String("last_error", first.LastError))
		}
		r.logger.Warn(msg, fields...)
	}
	return nil
}
