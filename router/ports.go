package router

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"appealhub/internal/broker"
	"appealhub/internal/httpapi"
	"appealhub/internal/metrics"
	"appealhub/internal/store"
	"appealhub/internal/tracing"
	"appealhub/router/delivery"
	"appealhub/router/intake"
	"appealhub/schemas"
)

// Authenticate maps a bearer token to its client (tokens are stored as SHA-256 hashes). An unknown
// token is unauthorized; a database that cannot answer is schemas.ErrUnavailable (503), so that a
// client retries instead of being told its credentials are wrong.
func (h *Hub) Authenticate(ctx context.Context, token string) (httpapi.Principal, error) {
	sum := sha256.Sum256([]byte(token))
	c, err := h.store.ClientByTokenHash(ctx, sum[:])
	if errors.Is(err, schemas.ErrNotFound) {
		return httpapi.Principal{}, schemas.Errorf(schemas.CodeUnauthorized, "the bearer token is not valid")
	}
	if err != nil {
		return httpapi.Principal{}, fmt.Errorf("authenticate: %w: %w", schemas.ErrUnavailable, err)
	}
	return httpapi.Principal{ClientID: c.ID, Kind: c.Kind, Authority: c.Authority}, nil
}

// Submit accepts a portal submission.
func (h *Hub) Submit(ctx context.Context, req httpapi.SubmitRequest) (schemas.Receipt, error) {
	r, err := h.submitObserved(ctx, intake.Request{ClientID: req.ClientID, IdempotencyKey: req.IdempotencyKey,
		Body: req.Body, TraceParent: req.TraceParent})
	if err == nil {
		h.outboxChanged()
	}
	return r, err
}

// Case returns a case the client submitted; any other id is not_found.
func (h *Hub) Case(ctx context.Context, clientID, id string) (schemas.Case, error) {
	if _, err := uuid.Parse(id); err != nil {
		return schemas.Case{}, schemas.Errorf(schemas.CodeNotFound, "no such case")
	}
	c, err := h.store.Case(ctx, clientID, id)
	if errors.Is(err, schemas.ErrNotFound) {
		return schemas.Case{}, schemas.Errorf(schemas.CodeNotFound, "no such case")
	}
	if err != nil {
		return schemas.Case{}, fmt.Errorf("read case: %w: %w", schemas.ErrUnavailable, err)
	}
	return c, nil
}

// Ready reports the database, the schema version, the broker connections of deliveries and of
// portal notifications (each publisher and consumer: up and not blocked) and the subscriptions.
func (h *Hub) Ready(ctx context.Context) []httpapi.Check {
	checks := []httpapi.Check{{Name: "database", OK: true}, {Name: "schema", OK: true}}
	if err := h.store.Ping(ctx); err != nil {
		checks[0] = httpapi.Check{Name: "database", OK: false, Detail: err.Error()}
		checks[1] = httpapi.Check{Name: "schema", OK: false, Detail: "database unreachable"}
	} else if err := h.checkSchema(ctx); err != nil {
		checks[1] = httpapi.Check{Name: "schema", OK: false, Detail: err.Error()}
	}
	for _, b := range h.brokerConns() {
		st := h.brokerStatus(b)
		c := httpapi.Check{Name: b.name, OK: st.Connected && !st.Blocked}
		switch {
		case !st.Connected:
			c.Detail = "not connected: " + st.LastError
		case st.Blocked:
			c.Detail = "broker_blocked"
		}
		checks = append(checks, c)
	}
	return append(checks, h.subscriptionsCheck())
}

// subscriptionsCheck reports how far the authority queues are consumed. Until every subscription
// made at start has had its first attempt (consumed, or failed and now retrying), the hub is not
// ready: a load balancer must not count on a process whose consumers are still being set up
// (with thousands of authorities this takes seconds). After that, a subscription that cannot
// consume (its queue being re-declared, say) is reported in the detail but does not make the hub
// unready: intake does not depend on it, and one broken authority must not take the hub down.
func (h *Hub) subscriptionsCheck() httpapi.Check {
	p := h.consumer.Progress()
	c := httpapi.Check{Name: "subscriptions", OK: true}
	if p.Consuming < p.Subscribed {
		c.Detail = fmt.Sprintf("%d of %d authority queues consumed", p.Consuming, p.Subscribed)
	}
	if p.Untried == 0 {
		h.subscribedOnce.Store(true)
	}
	c.OK = h.subscribedOnce.Load()
	return c
}

// schemaRecheck is how long a successful schema check stands: migrations only move forward, so
// /readyz (polled every few seconds by load balancers) need not read the version table each time.
const schemaRecheck = time.Minute

// checkSchema checks the database schema version at most once per schemaRecheck while it is current.
func (h *Hub) checkSchema(ctx context.Context) error {
	if last := h.schemaCheckedAt.Load(); last != 0 && time.Since(time.Unix(0, last)) < schemaRecheck {
		return nil
	}
	check := h.store.CheckSchema
	if f := h.obs.schemaOverride.Load(); f != nil {
		check = *f
	}
	if err := check(ctx); err != nil {
		return err
	}
	h.schemaCheckedAt.Store(time.Now().UnixNano())
	return nil
}

// handle is the consumer's handler: it decodes the message and lets the delivery worker act.
func (h *Hub) handle(ctx context.Context, d broker.Delivery) broker.Outcome {
	var msg schemas.DeliveryMessage
	if err := json.Unmarshal(d.Body, &msg); err != nil {
		h.logger.Warn("unreadable delivery message: dead-lettered")
		h.obs.metrics.DeadLettered(d.RoutingKey)
		return broker.Reject
	}
	if h.refreshWorn(ctx, d, msg) {
		return broker.Ack
	}
	traceParent, _ := d.Headers["traceparent"].(string)
	ctx, span := h.obs.tracer.Start(ctx, spanDeliveryProcess, tracing.Consumer, traceParent)
	span.Set("delivery_id", msg.DeliveryID)
	span.Set("authority", msg.Authority)
	outcome := h.worker.Handle(ctx, msg)
	span.End(nil)
	switch outcome {
	case delivery.Ack:
		return broker.Ack
	case delivery.Reject:
		h.obs.metrics.DeadLettered(d.RoutingKey)
		return broker.Reject
	default:
		return broker.Requeue
	}
}

// maxRefreshes is how often one attempt's message is replaced by a fresh one (refreshWorn).
const maxRefreshes = 3

// refreshWorn replaces a delivery message the broker has delivered at least half its delivery
// limit times (x-delivery-count) with a fresh one through the outbox, and reports whether it did
// (the caller then acknowledges the worn one without sending). Every connection lost with the
// message in flight counts one delivery: without this, a flapping network would make the broker
// dead-letter healthy deliveries, which would then wait for the reconciler. Each attempt is
// refreshed at most maxRefreshes times, so a message that keeps killing its consumer still ends in
// hub.dead.
func (h *Hub) refreshWorn(ctx context.Context, d broker.Delivery, msg schemas.DeliveryMessage) bool {
	count, ok := headerInt(d.Headers, "x-delivery-count")
	if !ok || count < int64(max(h.cfg.Broker.DeliveryLimit/2, 1)) || msg.DeliveryID == "" {
		return false
	}
	refreshed, err := h.store.RefreshDeliveryMessage(ctx, msg.DeliveryID, msg.Attempt, int(count), maxRefreshes, h.clock.Now())
	if err != nil {
		h.logger.Warn("cannot replace a worn delivery message; handling it", zap.String("delivery_id", msg.DeliveryID), zap.Error(err))
		return false
	}
	if refreshed {
		h.logger.Info("delivery message replaced by a fresh one", zap.String("delivery_id", msg.DeliveryID),
			zap.String("authority", msg.Authority), zap.Int64("delivery_count", count))
		h.obs.metrics.Reconciled(store.ReconcileRedeliveryLimit)
		h.outboxChanged()
	}
	return refreshed
}

// relayPublisher publishes outbox messages as delivery messages on the broker, each in a span that
// continues its case's trace, and records how long the confirms took.
type relayPublisher struct {
	pub     *broker.Publisher
	tracer  *tracing.Tracer
	metrics *metrics.Metrics
	logger  *zap.Logger
}

func (p *relayPublisher) Connected() bool {
	st := p.pub.Status()
	return st.Connected && !st.Blocked
}

func (p *relayPublisher) Publish(ctx context.Context, msgs []schemas.OutboxMessage) []error {
	errs := make([]error, len(msgs))
	codes := make([]string, len(msgs))
	for i, m := range msgs {
		codes[i] = m.Authority
	}
	ensured := p.pub.EnsureAuthorities(ctx, codes)
	out := make([]broker.Message, 0, len(msgs))
	idx := make([]int, 0, len(msgs))
	spans := make([]tracing.Span, len(msgs))
	traceIDs := make([]string, len(msgs))
	for i, m := range msgs {
		if err := ensured[m.Authority]; err != nil {
			errs[i] = err
			continue
		}
		body, err := json.Marshal(schemas.DeliveryMessage{DeliveryID: m.DeliveryID, AppealID: m.AppealID,
			TrackingNumber: m.TrackingNumber, Authority: m.Authority, Attempt: m.Attempt})
		if err != nil {
			errs[i] = err
			continue
		}
		headers := map[string]any{
			"delivery_id":     m.DeliveryID,
			"appeal_id":       m.AppealID,
			"tracking_number": m.TrackingNumber,
			"attempt":         int64(m.Attempt),
		}
		mctx, span := p.tracer.Start(ctx, spanPublish, tracing.Producer, m.TraceParent)
		span.Set("delivery_id", m.DeliveryID)
		span.Set("authority", m.Authority)
		spans[i], traceIDs[i] = span, tracing.TraceID(mctx)
		if tp := tracing.TraceParent(mctx); tp != "" {
			headers["traceparent"] = tp
		}
		out = append(out, broker.Message{RoutingKey: m.Authority, MessageID: m.DeliveryID + "/" + strconv.Itoa(m.Attempt+1),
			CorrelationID: m.AppealID, ContentType: "application/json", Headers: headers, Body: body})
		idx = append(idx, i)
	}
	start := time.Now()
	errs = publishInto(ctx, p.pub, out, idx, errs)
	if len(out) > 0 {
		failed := 0
		for _, i := range idx {
			if errs[i] != nil {
				failed++
			}
		}
		p.metrics.Published("delivery", time.Since(start), len(out)-failed, failed)
	}
	for i, m := range msgs {
		spans[i].End(errs[i])
		if p.logger != nil && p.logger.Core().Enabled(zap.DebugLevel) {
			p.logger.Debug("delivery message published", zap.String("delivery_id", m.DeliveryID),
				zap.String("authority", m.Authority), zap.Int("attempt", m.Attempt+1), zap.String("trace_id", traceIDs[i]),
				zap.Error(errs[i]))
		}
	}
	return errs
}

// publishInto publishes out as one batch and records each message's result in errs at the index
// idx gives it; errs of messages not published stay as they are.
func publishInto(ctx context.Context, pub *broker.Publisher, out []broker.Message, idx []int, errs []error) []error {
	if len(out) == 0 {
		return errs
	}
	for j, err := range pub.PublishBatch(ctx, out) {
		errs[idx[j]] = err
	}
	return errs
}
