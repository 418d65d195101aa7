package router

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"appealhub/config"
	"appealhub/internal/broker"
	"appealhub/internal/httpapi"
	"appealhub/internal/metrics"
	"appealhub/internal/tracing"
	"appealhub/router/delivery"
	"appealhub/router/intake"
	"appealhub/schemas"
)

var _ intake.Verifier = countingVerifier{}

// Span names (docs/observability.md): one trace follows a case from the portal's request to the
// authority's system.
const (
	spanIntake          = "appeal.intake"
	spanPublish         = "outbox.publish"
	spanDeliveryProcess = "delivery.process"
	spanDeliverySend    = "delivery.send"
)

// tracerShutdownTimeout bounds the flush of the last spans when the hub stops.
const tracerShutdownTimeout = 5 * time.Second

// observability is a hub's metrics and tracing.
type observability struct {
	metrics *metrics.Metrics
	tracer  *tracing.Tracer
	// ownTracer is true when the hub built the tracer (and shuts it down).
	ownTracer bool
	// statusOverride, when set (tests), replaces what a broker connection reports.
	statusOverride atomic.Pointer[func(name string, st broker.Status) broker.Status]
	// schemaOverride, when set (tests), replaces the store's schema check of readiness.
	schemaOverride atomic.Pointer[func(ctx context.Context) error]
}

// newObservability builds the metrics and, unless one is given, the tracer of cfg.Tracing.
func newObservability(ctx context.Context, cfg config.Config, tracer *tracing.Tracer) (*observability, error) {
	o := &observability{metrics: metrics.New(), tracer: tracer}
	if tracer == nil {
		t, err := tracing.New(ctx, tracing.Config{Exporter: cfg.Tracing.Exporter, Endpoint: cfg.Tracing.Endpoint,
			SampleRatio: cfg.Tracing.SampleRatio, ServiceName: "appealhub", ServiceVersion: cfg.Identity.SystemID})
		if err != nil {
			return nil, err
		}
		o.tracer, o.ownTracer = t, true
	}
	return o, nil
}

// shutdown flushes the spans of a tracer the hub built.
func (o *observability) shutdown(ctx context.Context) error {
	if !o.ownTracer {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tracerShutdownTimeout)
	defer cancel()
	return o.tracer.Shutdown(ctx)
}

// observabilityMounts are the handlers of the metrics.
func (h *Hub) observabilityMounts() []httpapi.Mount {
	return []httpapi.Mount{{Pattern: "GET /metrics", Handler: h.obs.metrics.Handler()}}
}

// Metrics returns the hub's metrics (for tests and extra collectors).
func (h *Hub) Metrics() *metrics.Metrics { return h.obs.metrics }

// brokerConn is one broker connection (or group of connections) readiness and metrics report.
type brokerConn struct {
	// name is the readiness check's name; the metrics label is the same without "broker_".
	name   string
	status func() broker.Status
}

// brokerConns lists the hub's broker connections: the delivery publisher and consumer, and the
// portal notifications' publisher and consumer.
func (h *Hub) brokerConns() []brokerConn {
	return []brokerConn{
		{"broker_publish", h.publisher.Status},
		{"broker_consume", h.consumer.Status},
		{"broker_portal_publish", h.portal.publisher.Status},
		{"broker_portal_consume", h.portal.consumer.Status},
	}
}

// brokerStatus is what c reports now.
func (h *Hub) brokerStatus(c brokerConn) broker.Status {
	st := c.status()
	if f := h.obs.statusOverride.Load(); f != nil {
		st = (*f)(c.name, st)
	}
	return st
}

// registerMetrics gives the metrics the broker connections and the database levels to read at
// each scrape.
func (h *Hub) registerMetrics() {
	for _, c := range h.brokerConns() {
		name := c.name[len("broker_"):]
		h.obs.metrics.AddConnection(name, func() (bool, bool) {
			st := h.brokerStatus(c)
			return st.Connected, st.Blocked
		})
	}
	h.obs.metrics.SetLevels(func(ctx context.Context) (metrics.Levels, error) {
		l, err := h.store.Levels(ctx, h.clock.Now())
		if err != nil {
			return metrics.Levels{}, err
		}
		out := metrics.Levels{OutboxPending: l.OutboxPending, OutboxOldest: l.OutboxOldest,
			DeadByAuthority: l.DeadByAuthority, OverdueByKind: make(map[string]int, len(l.OverdueByKind))}
		for k, n := range l.OverdueByKind {
			out.OverdueByKind[string(k)] = n
		}
		return out, nil
	})
}

// submitObserved runs intake inside its span, continuing the portal's trace, and counts the answer.
func (h *Hub) submitObserved(ctx context.Context, req intake.Request) (schemas.Receipt, error) {
	ctx, span := h.obs.tracer.Start(ctx, spanIntake, tracing.Server, req.TraceParent)
	req.TraceParent = tracing.TraceParent(ctx) // stored with the case: the relay continues from it
	r, err := h.intake.Submit(ctx, req)
	perr, refused := errors.AsType[*schemas.Error](err)
	switch {
	case err == nil:
		span.Set("appeal_id", r.ID)
		span.Set("tracking_number", r.TrackingNumber)
		span.End(nil)
	case refused:
		h.obs.metrics.Intake(metrics.IntakeRefused, string(perr.Code))
		span.Set("problem", string(perr.Code))
		span.End(nil) // the portal's mistake, not the hub's failure
	default:
		h.obs.metrics.Intake(metrics.IntakeUnavailable, "")
		span.End(err)
	}
	return r, err
}

// intakeAccepted is intake's AcceptedFunc.
func (h *Hub) intakeAccepted(created bool) {
	if created {
		h.obs.metrics.Intake(metrics.IntakeAccepted, "")
	} else {
		h.obs.metrics.Intake(metrics.IntakeReplayed, "")
	}
}

// traceSend is the delivery worker's TraceFunc: a client span under the delivery's process span.
func (h *Hub) traceSend(ctx context.Context, task schemas.DeliveryTask) (string, func(error)) {
	ctx, span := h.obs.tracer.Start(ctx, spanDeliverySend, tracing.Client, task.TraceParent)
	span.Set("delivery_id", task.DeliveryID)
	span.Set("authority", task.Authority)
	return tracing.TraceParent(ctx), span.End
}

// deliveryAttempted is the delivery worker's AttemptFunc.
func (h *Hub) deliveryAttempted(a delivery.Attempt) {
	outcome := metrics.DeliveryRetry
	switch {
	case a.CircuitOpen:
		outcome = metrics.DeliveryCircuitOpen
	case a.Status == schemas.StatusDelivered:
		outcome = metrics.DeliveryDelivered
	case a.Status == schemas.StatusSent:
		outcome = metrics.DeliverySent
	case a.Status == schemas.StatusDead:
		outcome = metrics.DeliveryDead
	}
	h.obs.metrics.DeliveryAttempt(a.Authority, outcome, a.Duration)
}

// countingVerifier counts intake's signature verifications by result.
type countingVerifier struct {
	v intake.Verifier
	m *metrics.Metrics
}

// countVerifications wraps v (nil stays nil: no verifier is configured).
func countVerifications(v intake.Verifier, m *metrics.Metrics) intake.Verifier {
	if v == nil {
		return nil
	}
	return countingVerifier{v: v, m: m}
}

func (c countingVerifier) Check(ctx context.Context, sig, content []byte, at time.Time) (schemas.Signer, error) {
	s, err := c.v.Check(ctx, sig, content, at)
	result := "valid"
	if err != nil {
		result = "error"
		if perr, ok := errors.AsType[*schemas.Error](err); ok {
			result = string(perr.Code)
		}
	}
	c.m.SignatureVerified(result)
	return s, err
}
