package router

import (
	"context"
	"encoding/json"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"appealhub/internal/broker"
	"appealhub/internal/store"
	"appealhub/router/delivery"
	"appealhub/schemas"
)

// The hub consumes the broker's sink queues, hub.dead and hub.unroutable
// (docs/adr/0008-sink-queues.md). A delivery message lands there when the broker dead-lettered it
// (its delivery limit reached because connections were cut with it in flight, say) or could not
// route it (its authority's queue deleted by an operator): its delivery would otherwise wait for
// the reconciler's quiet time. The hub sends such a delivery again at once, at most
// reconcile.sink_resends times per attempt and sink with a growing wait, then records it dead for
// operators. Whatever it cannot account for
// (an unreadable message, one of an unknown delivery, a portal notification) is kept in the
// database (sink_letters) before it is acknowledged: nothing leaves a sink unrecorded.

// sinkConcurrency is the prefetch and the number of handlers of each sink queue.
const sinkConcurrency = 4

// newSinkConsumer returns the consumer of the sink queues, on connections of its own
// ("appealhub.sinks.consume").
func newSinkConsumer(bcfg broker.Config, logger *zap.Logger) *broker.Consumer {
	bcfg.Family = broker.FamilySink
	bcfg.ConnectionName = "appealhub.sinks"
	bcfg.Declarations = nil
	return broker.NewConsumer(bcfg, logger)
}

// subscribeSinks makes the sink consumer consume both sinks.
func (h *Hub) subscribeSinks() {
	for _, sink := range []string{broker.SinkDead, broker.SinkUnroutable} {
		h.sinks.Subscribe(sink, sinkConcurrency, func(ctx context.Context, d broker.Delivery) broker.Outcome {
			return h.handleSinkLetter(ctx, sink, d)
		})
	}
}

// handleSinkLetter settles one message of a sink queue. It holds the message while the database
// is unavailable and returns it to the queue only when ctx ends.
func (h *Hub) handleSinkLetter(ctx context.Context, sink string, d broker.Delivery) broker.Outcome {
	cause := sinkCause(sink, d.Headers)
	log := h.logger.With(zap.String("sink", sink), zap.String("message_id", d.MessageID),
		zap.String("routing_key", d.RoutingKey), zap.String("cause", cause))
	note := "not a delivery message"
	if msg, ok := sinkDeliveryMessage(d); ok {
		reason := store.ReconcileDeadLettered
		if sink == broker.SinkUnroutable {
			reason = store.ReconcileUnroutable
			// The queue or its binding is gone: the publisher declares it before sending again.
			h.publisher.Doubt(msg.Authority)
		}
		var res store.SinkResolution
		err := delivery.RetryStore(ctx, log, func() (err error) {
			res, err = h.store.ResolveSinkLetter(ctx, store.SinkLetter{DeliveryID: msg.DeliveryID, Attempt: msg.Attempt,
				Reason: reason, Cause: cause, Max: h.cfg.Reconcile.SinkResends, Now: h.clock.Now()})
			return err
		})
		if err != nil {
			return broker.Requeue
		}
		log = log.With(zap.String("delivery_id", msg.DeliveryID), zap.String("authority", msg.Authority),
			zap.Int("attempt", msg.Attempt+1), zap.Stringer("resolution", res))
		switch res {
		case store.SinkResent:
			log.Info("delivery sent again: its message was found in a sink queue")
			h.obs.metrics.Reconciled(reason)
			h.outboxChanged()
			return broker.Ack
		case store.SinkGaveUp:
			log.Warn("delivery recorded dead: its messages were found in a sink queue too often")
			return broker.Ack
		case store.SinkSettled:
			log.Debug("stale message in a sink queue: its delivery has moved on")
			return broker.Ack
		}
		note = "no delivery has this id"
	}
	kept := store.KeptLetter{Sink: sink, Reason: cause, RoutingKey: d.RoutingKey, MessageID: d.MessageID,
		Note: note, Headers: d.Headers, Body: d.Body, At: h.clock.Now()}
	kept.SourceQueue, _ = d.Headers["x-first-death-queue"].(string)
	if err := delivery.RetryStore(ctx, log, func() error { return h.store.KeepSinkLetter(ctx, kept) }); err != nil {
		return broker.Requeue
	}
	log.Warn("message of a sink queue kept in the database for operators", zap.String("note", note))
	h.obs.metrics.SinkLetterKept(sink)
	return broker.Ack
}

// sinkDeliveryMessage decodes d as a delivery message of the hub: a JSON body with a delivery id
// (a UUID) and an authority, published with the same routing key.
func sinkDeliveryMessage(d broker.Delivery) (schemas.DeliveryMessage, bool) {
	var msg schemas.DeliveryMessage
	if err := json.Unmarshal(d.Body, &msg); err != nil {
		return msg, false
	}
	if _, err := uuid.Parse(msg.DeliveryID); err != nil || msg.Authority == "" || msg.Attempt < 0 {
		return msg, false
	}
	if d.RoutingKey != "" && d.RoutingKey != msg.Authority {
		return msg, false
	}
	return msg, true
}

// sinkCause is the broker's reason for a message being in sink: x-first-death-reason for a
// dead-lettered one ("delivery_limit", "rejected", …), "unroutable" for the other sink.
func sinkCause(sink string, headers map[string]any) string {
	if sink == broker.SinkUnroutable {
		return "unroutable"
	}
	if r, ok := headers["x-first-death-reason"].(string); ok {
		return r
	}
	return ""
}
