package broker

import (
	"context"
	"errors"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
)

// oneShot dials a short-lived connection of its own (to the first of cfg.urls() that answers),
// runs fn on it and closes it. ctx bounds everything: when it ends the socket is closed, which
// fails any RPC in progress.
func oneShot(ctx context.Context, cfg Config, what string, fn func(conn *amqp.Connection) error) error {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	l, err := dialFirst(ctx, cfg, cfg.ConnectionName+"."+what)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, l.abort)
	defer func() {
		stop()
		l.close()
	}()
	err = fn(l.conn)
	if ctxErr := ctx.Err(); err != nil && ctxErr != nil {
		return errors.Join(ctxErr, err)
	}
	return err
}

// dialFirst dials each of cfg.urls() in turn and returns the first connection that opens, or
// every dial's error.
func dialFirst(ctx context.Context, cfg Config, name string) (*link, error) {
	var errs []error
	for _, u := range cfg.urls() {
		l, err := dial(ctx, cfg, u, name)
		if err == nil {
			return l, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// Ping dials the broker with cfg and closes the connection again. It reports whether the broker
// is reachable and accepts the credentials.
func Ping(ctx context.Context, cfg Config) error {
	if err := oneShot(ctx, cfg, "ping", func(*amqp.Connection) error { return nil }); err != nil {
		return fmt.Errorf("ping broker: %w", err)
	}
	return nil
}

// Inspect returns the number of ready messages and of consumers of queue, with a passive declare
// on a short-lived channel of its own connection. It returns an error wrapping ErrQueueNotFound
// if the queue does not exist.
func Inspect(ctx context.Context, cfg Config, queue string) (messages, consumers int, err error) {
	err = oneShot(ctx, cfg, "inspect", func(conn *amqp.Connection) error {
		return withChannel(conn, func(ch *amqp.Channel) error {
			q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
			if err != nil {
				return err
			}
			messages, consumers = q.Messages, q.Consumers
			return nil
		})
	})
	if err != nil {
		if isNotFound(err) {
			err = fmt.Errorf("%w: %w", ErrQueueNotFound, err)
		}
		return 0, 0, fmt.Errorf("inspect queue %s: %w", queue, err)
	}
	return messages, consumers, nil
}

// Get takes one message from queue (basic.get) and acknowledges it, on a short-lived connection
// of its own. ok is false if the queue was empty. It returns an error wrapping ErrQueueNotFound
// if the queue does not exist. Meant for tests and operator tools: the message is gone from the
// queue once Get returns.
func Get(ctx context.Context, cfg Config, queue string) (d Delivery, ok bool, err error) {
	err = oneShot(ctx, cfg, "get", func(conn *amqp.Connection) error {
		return withChannel(conn, func(ch *amqp.Channel) error {
			m, got, err := ch.Get(queue, false)
			if err != nil || !got {
				return err
			}
			if err := m.Ack(false); err != nil {
				return fmt.Errorf("ack: %w", err)
			}
			ok = true
			d = Delivery{
				MessageID:     m.MessageId,
				CorrelationID: m.CorrelationId,
				RoutingKey:    m.RoutingKey,
				Headers:       fromTable(m.Headers),
				Body:          m.Body,
				Redelivered:   m.Redelivered,
			}
			return nil
		})
	})
	if err != nil {
		if isNotFound(err) {
			err = fmt.Errorf("%w: %w", ErrQueueNotFound, err)
		}
		return Delivery{}, false, fmt.Errorf("get from queue %s: %w", queue, err)
	}
	return d, ok, nil
}

// DeleteTopology deletes the queues of the given codes (authority codes, or portal client ids for
// the portal family), then the Dead and Unroutable queues and the Deliver, Portal, Unroutable and
// Dead exchanges of cfg.Names, discarding every message in
// them. Objects that do not exist are skipped. Meant for tests (brokertest) and for
// decommissioning a prefix; never call it on a live hub.
func DeleteTopology(ctx context.Context, cfg Config, codes ...string) error {
	n := cfg.Names
	var errs []error
	err := oneShot(ctx, cfg, "teardown", func(conn *amqp.Connection) error {
		del := func(what, name string, fn func(ch *amqp.Channel) error) {
			if err := withChannel(conn, fn); err != nil && !isNotFound(err) {
				errs = append(errs, fmt.Errorf("delete %s %s: %w", what, name, err))
			}
		}
		queues := make([]string, 0, len(codes)+2)
		for _, code := range codes {
			queues = append(queues, cfg.queue(code))
		}
		queues = append(queues, n.Dead(), n.Unroutable())
		for _, q := range queues {
			del("queue", q, func(ch *amqp.Channel) error {
				_, err := ch.QueueDelete(q, false, false, false)
				return err
			})
		}
		for _, x := range []string{n.Deliver(), n.Portal(), n.Unroutable(), n.Dead()} {
			del("exchange", x, func(ch *amqp.Channel) error { return ch.ExchangeDelete(x, false, false) })
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("delete topology: %w", err)
	}
	return nil
}
