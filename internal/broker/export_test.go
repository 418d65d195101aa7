package broker

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"
)

// ClosePublisherConnection closes the publisher's current *amqp.Connection underneath it, as a
// broker restart or a network failure would.
func ClosePublisherConnection(p *Publisher) error { return p.sup.closeForTest() }

// CloseConsumerConnection closes every current *amqp.Connection of the consumer underneath it.
func CloseConsumerConnection(c *Consumer) error {
	c.mu.Lock()
	shards := slices.Clone(c.shards)
	c.mu.Unlock()
	var errs []error
	for _, sh := range shards {
		errs = append(errs, sh.sup.closeForTest())
	}
	return errors.Join(errs...)
}

// CloseConsumerShardConnection closes the current *amqp.Connection of shard i underneath it.
func CloseConsumerShardConnection(c *Consumer, i int) error {
	c.mu.Lock()
	sh := c.shards[i]
	c.mu.Unlock()
	return sh.sup.closeForTest()
}

// ShardInfo describes one consumer shard for tests.
type ShardInfo struct {
	Codes     []string // assigned codes, sorted
	Sessions  int      // connections set up so far
	Connected bool
	// ChannelMax is the channel_max negotiated on the current connection (0 if none).
	ChannelMax int
}

// ConsumerShards describes every shard of c, in index order.
func ConsumerShards(c *Consumer) []ShardInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]ShardInfo, 0, len(c.shards))
	for _, sh := range c.shards {
		info := ShardInfo{Codes: slices.Sorted(maps.Keys(sh.codes)), Sessions: sh.sessions, Connected: sh.sess != nil}
		if sh.sess != nil {
			info.ChannelMax = int(sh.sess.link.conn.Config.ChannelMax)
		}
		out = append(out, info)
	}
	return out
}

// ConsumerConsuming returns how many subscriptions of c have a live basic.consume.
func ConsumerConsuming(c *Consumer) int { return int(c.consuming.Load()) }

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

// DeleteQueuesForTest deletes queues over one connection with parallel channels (test cleanup of
// thousands of queues; brokertest's serial cleanup then finds them gone).
func DeleteQueuesForTest(ctx context.Context, cfg Config, queues []string, parallel int) error {
	return oneShot(ctx, cfg, "test", func(conn *amqp.Connection) error {
		work := make(chan string)
		errs := make(chan error, parallel)
		var wg sync.WaitGroup
		for range parallel {
			wg.Go(func() {
				var first error
				for q := range work {
					err := withChannel(conn, func(ch *amqp.Channel) error {
						_, err := ch.QueueDelete(q, false, false, false)
						return err
					})
					if err != nil && !isNotFound(err) && first == nil {
						first = err
					}
				}
				errs <- first
			})
		}
		for _, q := range queues {
			select {
			case work <- q:
			case <-ctx.Done():
			}
		}
		close(work)
		wg.Wait()
		close(errs)
		var all []error
		for err := range errs {
			all = append(all, err)
		}
		return errors.Join(all...)
	})
}

// CloseConsumerDeclareConnection closes the consumer's declaring connection underneath it.
func CloseConsumerDeclareConnection(c *Consumer) error { return c.decl.sup.closeForTest() }

// PublisherDeclarations returns how many queues p's declaring connection has declared.
func PublisherDeclarations(p *Publisher) int { return int(p.decl.declared.Load()) }

// UnbindForTest removes the binding of code's queue, as an operator might.
func UnbindForTest(ctx context.Context, cfg Config, code string) error {
	cfg = cfg.WithDefaults()
	return oneShot(ctx, cfg, "test", func(conn *amqp.Connection) error {
		return withChannel(conn, func(ch *amqp.Channel) error {
			return ch.QueueUnbind(cfg.queue(code), code, cfg.exchange(), nil)
		})
	})
}
