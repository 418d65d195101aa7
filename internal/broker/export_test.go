package broker

import (
	"context"

	amqp "github.com/rabbitmq/amqp091-go"
)

// ClosePublisherConnection closes the publisher's current *amqp.Connection underneath it, as a
// broker restart or a network failure would.
func ClosePublisherConnection(p *Publisher) error { return p.sup.closeForTest() }

// CloseConsumerConnection closes the consumer's current *amqp.Connection underneath it.
func CloseConsumerConnection(c *Consumer) error { return c.sup.closeForTest() }

// DeleteQueueForTest deletes one queue, as an operator might.
func DeleteQueueForTest(ctx context.Context, cfg Config, queue string) error {
	return oneShot(ctx, cfg, "test", func(conn *amqp.Connection) error {
		return withChannel(conn, func(ch *amqp.Channel) error {
			_, err := ch.QueueDelete(queue, false, false, false)
			return err
		})
	})
}

// ConsumerDraining reports whether Stop has begun draining c.
func ConsumerDraining(c *Consumer) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.draining
}

// DeleteExchangeForTest deletes one exchange, as an operator might.
func DeleteExchangeForTest(ctx context.Context, cfg Config, exchange string) error {
	return oneShot(ctx, cfg, "test", func(conn *amqp.Connection) error {
		return withChannel(conn, func(ch *amqp.Channel) error {
			return ch.ExchangeDelete(exchange, false, false)
		})
	})
}

// DeclareClassicQueueForTest declares a plain classic queue, as an operator might by mistake.
func DeclareClassicQueueForTest(ctx context.Context, cfg Config, queue string) error {
	return oneShot(ctx, cfg, "test", func(conn *amqp.Connection) error {
		return withChannel(conn, func(ch *amqp.Channel) error {
			_, err := ch.QueueDeclare(queue, true, false, false, false, nil)
			return err
		})
	})
}
