package broker

import (
	"errors"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
)

// declareBase declares the base topology: the Dead and Unroutable fanout exchanges with their
// queues, then the Deliver and Portal exchanges whose alternate exchange is Unroutable. Every declaration is
// idempotent; a declaration with different arguments than an existing object fails with
// PRECONDITION_FAILED and closes ch.
func declareBase(ch *amqp.Channel, cfg Config) error {
	n := cfg.Names
	for _, name := range []string{n.Dead(), n.Unroutable()} {
		if err := declareSink(ch, cfg, name); err != nil {
			return err
		}
	}
	args := amqp.Table{"alternate-exchange": n.Unroutable()}
	for _, name := range []string{n.Deliver(), n.Portal()} {
		if err := ch.ExchangeDeclare(name, amqp.ExchangeDirect, true, false, false, false, args); err != nil {
			return fmt.Errorf("declare exchange %s: %w", name, err)
		}
	}
	return nil
}

// declareSink declares the fanout exchange name and the queue of the same name bound to it.
func declareSink(ch *amqp.Channel, cfg Config, name string) error {
	if err := ch.ExchangeDeclare(name, amqp.ExchangeFanout, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", name, err)
	}
	if _, err := ch.QueueDeclare(name, true, false, false, false, sinkQueueArgs(cfg)); err != nil {
		return fmt.Errorf("declare queue %s: %w", name, err)
	}
	if err := ch.QueueBind(name, "", name, false, nil); err != nil {
		return fmt.Errorf("bind queue %s: %w", name, err)
	}
	return nil
}

// declareAuthority declares the queue of one authority and binds it to Deliver with routing
// key = code (for the portal family: the queue of one portal client, bound to Portal; for the
// sink family: a sink queue and its exchange). The base topology must exist.
func declareAuthority(ch *amqp.Channel, cfg Config, code string) error {
	q := cfg.queue(code)
	if cfg.Family == FamilySink {
		return declareSink(ch, cfg, q)
	}
	if _, err := ch.QueueDeclare(q, true, false, false, false, AuthorityQueueArgs(cfg)); err != nil {
		return fmt.Errorf("declare queue %s: %w", q, err)
	}
	if err := ch.QueueBind(q, code, cfg.exchange(), false, nil); err != nil {
		return fmt.Errorf("bind queue %s: %w", q, err)
	}
	return nil
}

// AuthorityQueueArgs returns the queue arguments of an authority queue for cfg (after
// WithDefaults). They make the poison-message and dead-lettering policies explicit on the queue
// itself instead of relying on broker defaults or operator policies:
//
//   - x-queue-type: cfg.QueueType;
//   - x-dead-letter-exchange: Names.Dead(), so rejected and over-limit messages are kept;
//   - quorum only: x-delivery-limit = cfg.DeliveryLimit (RabbitMQ 3.x has no default limit, so a
//     poison message would loop forever), x-dead-letter-strategy = at-least-once and
//     x-overflow = reject-publish (at-least-once dead-lettering needs both; with the default
//     drop-head it silently falls back to at-most-once).
//
// Classic queues dead-letter at most once; use them only where quorum queues are unavailable.
// Re-declaring an existing queue with other arguments (say another DeliveryLimit) fails with
// PRECONDITION_FAILED: every process sharing a broker must use the same settings, and changing
// them means migrating the queues.
func AuthorityQueueArgs(cfg Config) map[string]any {
	args := amqp.Table{
		"x-queue-type":           cfg.QueueType,
		"x-dead-letter-exchange": cfg.Names.Dead(),
	}
	if cfg.QueueType == QueueTypeQuorum {
		args["x-delivery-limit"] = int64(cfg.DeliveryLimit)
		args["x-dead-letter-strategy"] = "at-least-once"
		args["x-overflow"] = "reject-publish"
	}
	return args
}

// sinkQueueArgs are the arguments of the Dead and Unroutable queues.
func sinkQueueArgs(cfg Config) amqp.Table {
	return amqp.Table{"x-queue-type": cfg.QueueType}
}

// isNotFound reports whether err is the broker's 404 NOT_FOUND channel exception.
func isNotFound(err error) bool {
	var ae *amqp.Error
	return errors.As(err, &ae) && ae.Code == amqp.NotFound
}

// withChannel opens a short-lived channel on conn, runs fn with it and closes it. A failed
// declaration closes the channel on the broker's side, so each call gets a fresh one.
func withChannel(conn *amqp.Connection, fn func(ch *amqp.Channel) error) error {
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	if err := fn(ch); err != nil {
		_ = ch.Close()
		return err
	}
	if err := ch.Close(); err != nil {
		return fmt.Errorf("close channel: %w", err)
	}
	return nil
}
