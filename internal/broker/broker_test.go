package broker_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"appealhub/internal/broker"
	"appealhub/internal/broker/brokertest"
)

const (
	waitFor = 20 * time.Second
	tick    = 10 * time.Millisecond
)

type testBundle struct {
	cfg broker.Config
	pub *broker.Publisher
}

// setup returns a config for the given authority codes and a started, connected publisher that
// has ensured them.
func setup(t *testing.T, codes []string, opts ...brokertest.Option) *testBundle {
	t.Helper()
	cfg := brokertest.Config(t, append(opts, brokertest.WithAuthorities(codes...))...)
	pub := startPublisher(t, cfg)
	for _, code := range codes {
		require.NoError(t, pub.EnsureAuthority(t.Context(), code))
	}
	return &testBundle{cfg: cfg, pub: pub}
}

func startPublisher(t *testing.T, cfg broker.Config) *broker.Publisher {
	t.Helper()
	p := broker.NewPublisher(cfg, zaptest.NewLogger(t))
	require.NoError(t, p.Start(t.Context()))
	t.Cleanup(func() { require.NoError(t, p.Stop(context.Background())) })
	require.Eventually(t, func() bool { return p.Status().Connected }, waitFor, tick, "publisher never connected")
	return p
}

func startConsumer(t *testing.T, cfg broker.Config, subscribe func(c *broker.Consumer)) *broker.Consumer {
	t.Helper()
	c := broker.NewConsumer(cfg, zaptest.NewLogger(t))
	subscribe(c)
	require.NoError(t, c.Start(t.Context()))
	t.Cleanup(func() {
		select {
		case <-c.Stopped(): // the test stopped it and checked the result
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, c.Stop(ctx))
	})
	require.Eventually(t, func() bool { return c.Status().Connected }, waitFor, tick, "consumer never connected")
	return c
}

func msg(code, id string) broker.Message {
	return broker.Message{
		RoutingKey:    code,
		MessageID:     id,
		CorrelationID: "corr-" + id,
		ContentType:   "application/json",
		Body:          []byte(`{"id":"` + id + `"}`),
	}
}

func requireAllConfirmed(t *testing.T, errs []error) {
	t.Helper()
	for i, err := range errs {
		require.NoError(t, err, "message %d", i)
	}
}

// waitConsumers waits until queue has n consumers.
func waitConsumers(t *testing.T, cfg broker.Config, queue string, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		_, c, err := broker.Inspect(t.Context(), cfg, queue)
		return err == nil && c == n
	}, waitFor, tick, "queue %s never had %d consumers", queue, n)
}

func waitDepth(t *testing.T, cfg broker.Config, queue string, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return brokertest.QueueDepth(t, cfg, queue) == n },
		waitFor, tick, "queue %s never held %d messages", queue, n)
}

func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitFor):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func TestTopologyDeclaredTwice(t *testing.T) {
	t.Parallel()
	for _, queueType := range []string{broker.QueueTypeQuorum, broker.QueueTypeClassic} {
		t.Run(queueType, func(t *testing.T) {
			t.Parallel()
			b := setup(t, []string{"a"}, brokertest.WithQueueType(queueType))
			// The same topology again, on the same connection (cached) and on another one.
			require.NoError(t, b.pub.EnsureAuthority(t.Context(), "a"))
			other := startPublisher(t, b.cfg)
			require.NoError(t, other.EnsureAuthority(t.Context(), "a"))
			startConsumer(t, b.cfg, func(c *broker.Consumer) {
				c.Subscribe("a", 1, func(context.Context, broker.Delivery) broker.Outcome { return broker.Ack })
			})
			waitConsumers(t, b.cfg, b.cfg.Names.AuthorityQueue("a"), 1)
			for _, q := range []string{b.cfg.Names.Dead(), b.cfg.Names.Unroutable()} {
				n, _, err := broker.Inspect(t.Context(), b.cfg, q)
				require.NoError(t, err)
				require.Zero(t, n)
			}
		})
	}
}

func TestPublishConsumeRoutesByAuthority(t *testing.T) {
	t.Parallel()
	b := setup(t, []string{"a", "b"})
	type got struct {
		handler string
		d       broker.Delivery
	}
	deliveries := make(chan got, 10)
	handler := func(name string) broker.Handler {
		return func(_ context.Context, d broker.Delivery) broker.Outcome {
			deliveries <- got{name, d}
			return broker.Ack
		}
	}
	c := startConsumer(t, b.cfg, func(c *broker.Consumer) {
		c.Subscribe("a", 2, handler("a"))
		c.Subscribe("b", 2, handler("b"))
	})

	headers := map[string]any{
		"delivery_id": "d-1",
		"attempt":     int64(3),
		"big":         1 << 40, // an int must not be truncated to 32 bits
		"nested":      map[string]any{"k": "v"},
	}
	msgs := []broker.Message{msg("a", "m1"), msg("b", "m2"), msg("a", "m3")}
	msgs[0].Headers = headers
	requireAllConfirmed(t, b.pub.PublishBatch(t.Context(), msgs))

	byID := map[string]got{}
	for range msgs {
		g := receive(t, deliveries, "delivery")
		byID[g.d.MessageID] = g
	}
	for _, m := range msgs {
		g, ok := byID[m.MessageID]
		require.True(t, ok, "message %s not delivered", m.MessageID)
		require.Equal(t, m.RoutingKey, g.handler, "message %s went to the wrong authority", m.MessageID)
		require.Equal(t, m.RoutingKey, g.d.RoutingKey)
		require.Equal(t, m.CorrelationID, g.d.CorrelationID)
		require.Equal(t, m.Body, g.d.Body)
		require.False(t, g.d.Redelivered)
	}
	require.Equal(t, map[string]any{
		"delivery_id": "d-1",
		"attempt":     int64(3),
		"big":         int64(1 << 40),
		"nested":      map[string]any{"k": "v"},
	}, byID["m1"].d.Headers)

	// Acked: nothing comes back once the consumer is gone.
	require.NoError(t, c.Stop(t.Context()))
	require.Zero(t, brokertest.QueueDepth(t, b.cfg, b.cfg.Names.AuthorityQueue("a")))
	require.Zero(t, brokertest.QueueDepth(t, b.cfg, b.cfg.Names.AuthorityQueue("b")))
}

func TestUnroutableGoesToAlternateExchange(t *testing.T) {
	t.Parallel()
	b := setup(t, []string{"a"})
	errs := b.pub.PublishBatch(t.Context(), []broker.Message{msg("nobody", "m1"), msg("a", "m2")})
	requireAllConfirmed(t, errs) // a confirm does not mean "routed"

	waitDepth(t, b.cfg, b.cfg.Names.Unroutable(), 1)
	body, _, ok := brokertest.Get(t, b.cfg, b.cfg.Names.Unroutable())
	require.True(t, ok)
	require.Equal(t, msg("nobody", "m1").Body, body)
	waitDepth(t, b.cfg, b.cfg.Names.AuthorityQueue("a"), 1)
}

func TestReturnedWhenAlternateExchangeCannotRoute(t *testing.T) {
	t.Parallel()
	b := setup(t, []string{"a"})
	require.NoError(t, broker.DeleteQueueForTest(t.Context(), b.cfg, b.cfg.Names.Unroutable()))

	errs := b.pub.PublishBatch(t.Context(), []broker.Message{msg("a", "m1"), msg("nobody", "m2"), msg("a", "m3")})
	require.NoError(t, errs[0])
	require.ErrorIs(t, errs[1], broker.ErrReturned)
	require.Contains(t, errs[1].Error(), "NO_ROUTE")
	require.NoError(t, errs[2])

	// The channel stays usable.
	requireAllConfirmed(t, b.pub.PublishBatch(t.Context(), []broker.Message{msg("a", "m4")}))
	waitDepth(t, b.cfg, b.cfg.Names.AuthorityQueue("a"), 3)
}

func TestRejectDeadLetters(t *testing.T) {
	t.Parallel()
	b := setup(t, []string{"a"})
	startConsumer(t, b.cfg, func(c *broker.Consumer) {
		c.Subscribe("a", 1, func(context.Context, broker.Delivery) broker.Outcome { return broker.Reject })
	})
	requireAllConfirmed(t, b.pub.PublishBatch(t.Context(), []broker.Message{msg("a", "m1")}))

	waitDepth(t, b.cfg, b.cfg.Names.Dead(), 1)
	body, headers, ok := brokertest.Get(t, b.cfg, b.cfg.Names.Dead())
	require.True(t, ok)
	require.Equal(t, msg("a", "m1").Body, body)
	require.Equal(t, "rejected", headers["x-first-death-reason"])
	require.Equal(t, b.cfg.Names.AuthorityQueue("a"), headers["x-first-death-queue"])
}

func TestRequeueOverDeliveryLimitDeadLetters(t *testing.T) {
	t.Parallel()
	const limit = 2
	b := setup(t, []string{"a"}, brokertest.WithDeliveryLimit(limit))
	var calls atomic.Int32
	startConsumer(t, b.cfg, func(c *broker.Consumer) {
		c.Subscribe("a", 1, func(context.Context, broker.Delivery) broker.Outcome {
			calls.Add(1)
			return broker.Requeue
		})
	})
	requireAllConfirmed(t, b.pub.PublishBatch(t.Context(), []broker.Message{msg("a", "poison")}))

	waitDepth(t, b.cfg, b.cfg.Names.Dead(), 1)
	body, headers, ok := brokertest.Get(t, b.cfg, b.cfg.Names.Dead())
	require.True(t, ok)
	require.Equal(t, msg("a", "poison").Body, body)
	require.Equal(t, "delivery_limit", headers["x-first-death-reason"])
	require.Greater(t, calls.Load(), int32(limit), "dead-lettered before exceeding the limit")
	t.Logf("handler called %d times with delivery limit %d", calls.Load(), limit)
}

func TestPublisherReconnects(t *testing.T) {
	t.Parallel()
	b := setup(t, []string{"a"})
	queue := b.cfg.Names.AuthorityQueue("a")
	requireAllConfirmed(t, b.pub.PublishBatch(t.Context(), []broker.Message{msg("a", "before")}))

	// An operator deletes the queue, then the connection drops: after the reconnect the next
	// EnsureAuthority (the relay calls it before every batch) declares the queue again.
	require.NoError(t, broker.DeleteQueueForTest(t.Context(), b.cfg, queue))
	since := b.pub.Status().Since
	require.NoError(t, broker.ClosePublisherConnection(b.pub))
	require.Eventually(t, func() bool {
		s := b.pub.Status()
		return s.Connected && s.Since.After(since)
	}, waitFor, tick, "publisher never reconnected")
	require.NotEmpty(t, b.pub.Status().LastError)

	require.NoError(t, b.pub.EnsureAuthority(t.Context(), "a"))
	requireAllConfirmed(t, b.pub.PublishBatch(t.Context(), []broker.Message{msg("a", "after")}))
	waitDepth(t, b.cfg, queue, 1)
	_, _, ok := brokertest.Get(t, b.cfg, queue)
	require.True(t, ok)
	require.Zero(t, brokertest.QueueDepth(t, b.cfg, b.cfg.Names.Unroutable()))
}

func TestConsumerResumesOnFreshChannelsAndStaleAckFails(t *testing.T) {
	t.Parallel()
	b := setup(t, []string{"a"})
	var calls atomic.Int32
	firstStarted := make(chan struct{})
	firstCause := make(chan error, 1)
	later := make(chan broker.Delivery, 10)
	c := startConsumer(t, b.cfg, func(c *broker.Consumer) {
		c.Subscribe("a", 1, func(ctx context.Context, d broker.Delivery) broker.Outcome {
			if calls.Add(1) == 1 {
				close(firstStarted)
				<-ctx.Done() // cancelled when the channel is lost
				firstCause <- context.Cause(ctx)
				return broker.Ack // fails: its channel is gone
			}
			later <- d
			return broker.Ack
		})
	})
	requireAllConfirmed(t, b.pub.PublishBatch(t.Context(), []broker.Message{msg("a", "m1")}))
	receive(t, firstStarted, "first delivery")

	require.NoError(t, broker.CloseConsumerConnection(c))
	require.ErrorIs(t, receive(t, firstCause, "handler cancellation"), broker.ErrChannelLost)

	// The stale ack did not settle it: the broker redelivers it on the new channel.
	d := receive(t, later, "redelivery")
	require.Equal(t, "m1", d.MessageID)
	require.True(t, d.Redelivered)

	requireAllConfirmed(t, b.pub.PublishBatch(t.Context(), []broker.Message{msg("a", "m2")}))
	d = receive(t, later, "delivery after reconnect")
	require.Equal(t, "m2", d.MessageID)
	require.False(t, d.Redelivered)

	require.NoError(t, c.Stop(t.Context()))
	require.Zero(t, brokertest.QueueDepth(t, b.cfg, b.cfg.Names.AuthorityQueue("a")))
	require.Equal(t, int32(3), calls.Load())
}

func TestSlowAuthorityDoesNotDelayAnother(t *testing.T) {
	t.Parallel()
	b := setup(t, []string{"slow", "fast"})
	slowStarted := make(chan struct{})
	release := make(chan struct{})
	fast := make(chan string, 10)
	startConsumer(t, b.cfg, func(c *broker.Consumer) {
		c.Subscribe("slow", 1, func(ctx context.Context, d broker.Delivery) broker.Outcome {
			if d.MessageID == "s1" {
				close(slowStarted)
			}
			select {
			case <-release:
			case <-ctx.Done():
			}
			return broker.Ack
		})
		c.Subscribe("fast", 1, func(_ context.Context, d broker.Delivery) broker.Outcome {
			fast <- d.MessageID
			return broker.Ack
		})
	})
	t.Cleanup(func() { close(release) }) // runs before the consumer's Stop
	requireAllConfirmed(t, b.pub.PublishBatch(t.Context(), []broker.Message{msg("slow", "s1"), msg("slow", "s2")}))
	receive(t, slowStarted, "slow handler")

	var msgs []broker.Message
	for i := range 5 {
		msgs = append(msgs, msg("fast", fmt.Sprintf("f%d", i)))
	}
	requireAllConfirmed(t, b.pub.PublishBatch(t.Context(), msgs))
	for range msgs {
		receive(t, fast, "fast delivery while the slow authority is stuck")
	}
}

func TestSubscribeAgainReplacesConcurrency(t *testing.T) {
	t.Parallel()
	b := setup(t, []string{"a"})
	queue := b.cfg.Names.AuthorityQueue("a")
	gate := make(chan struct{})
	c := startConsumer(t, b.cfg, func(c *broker.Consumer) {
		c.Subscribe("a", 1, func(ctx context.Context, _ broker.Delivery) broker.Outcome {
			select {
			case <-gate:
			case <-ctx.Done():
			}
			return broker.Requeue
		})
	})
	var msgs []broker.Message
	for i := range 3 {
		msgs = append(msgs, msg("a", fmt.Sprintf("m%d", i)))
	}
	requireAllConfirmed(t, b.pub.PublishBatch(t.Context(), msgs))
	// prefetch = concurrency = 1: one message in flight, two ready.
	waitDepth(t, b.cfg, queue, 2)

	var active atomic.Int32
	allThree := make(chan struct{})
	var once sync.Once
	c.Subscribe("a", 3, func(ctx context.Context, _ broker.Delivery) broker.Outcome {
		if active.Add(1) == 3 {
			once.Do(func() { close(allThree) })
		}
		select {
		case <-allThree:
			return broker.Ack
		case <-ctx.Done():
			return broker.Requeue
		}
	})
	close(gate) // the old handler finishes, so the old consumer can stop gracefully
	receive(t, allThree, "three concurrent handlers")
	require.NoError(t, c.Stop(t.Context()))
	require.Zero(t, brokertest.QueueDepth(t, b.cfg, queue))
}

func TestUnsubscribe(t *testing.T) {
	t.Parallel()
	b := setup(t, []string{"a"})
	queue := b.cfg.Names.AuthorityQueue("a")
	handled := make(chan string, 10)
	c := startConsumer(t, b.cfg, func(c *broker.Consumer) {
		c.Subscribe("a", 1, func(_ context.Context, d broker.Delivery) broker.Outcome {
			handled <- d.MessageID
			return broker.Ack
		})
	})
	waitConsumers(t, b.cfg, queue, 1)
	c.Unsubscribe("a")
	waitConsumers(t, b.cfg, queue, 0)
	requireAllConfirmed(t, b.pub.PublishBatch(t.Context(), []broker.Message{msg("a", "m1")}))
	waitDepth(t, b.cfg, queue, 1)
	require.Empty(t, handled)
}

func TestStopLetsInFlightHandlerFinishAndAck(t *testing.T) {
	t.Parallel()
	b := setup(t, []string{"a"})
	queue := b.cfg.Names.AuthorityQueue("a")
	started := make(chan string, 10)
	releaseCh := make(chan struct{})
	release := sync.OnceFunc(func() { close(releaseCh) })
	var handlerCtxErr atomic.Value
	c := startConsumer(t, b.cfg, func(c *broker.Consumer) {
		c.Subscribe("a", 1, func(ctx context.Context, d broker.Delivery) broker.Outcome {
			started <- d.MessageID
			<-releaseCh
			if err := ctx.Err(); err != nil {
				handlerCtxErr.Store(err)
			}
			return broker.Ack
		})
	})
	t.Cleanup(release) // never leave the handler hanging if the test fails early
	requireAllConfirmed(t, b.pub.PublishBatch(t.Context(), []broker.Message{msg("a", "m1"), msg("a", "m2")}))
	require.Equal(t, "m1", receive(t, started, "first delivery"))

	stopped := make(chan error, 1)
	go func() { stopped <- c.Stop(context.Background()) }()
	require.Eventually(t, func() bool { return broker.ConsumerDraining(c) }, waitFor, tick)
	requireAllConfirmed(t, b.pub.PublishBatch(t.Context(), []broker.Message{msg("a", "m3")}))
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) while a handler was running", err)
	default:
	}
	release()
	require.NoError(t, receive(t, stopped, "Stop"))
	require.Nil(t, handlerCtxErr.Load(), "handler ctx cancelled during a graceful stop")
	require.Empty(t, started, "a message was handled after Stop began")

	// m1 was acked; m2 and m3 were never handled and are in the queue.
	waitDepth(t, b.cfg, queue, 2)
	for _, want := range []string{"m2", "m3"} {
		d, ok, err := broker.Get(t.Context(), b.cfg, queue)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, want, d.MessageID)
	}
}

func TestStopCancelsHandlersAfterGrace(t *testing.T) {
	t.Parallel()
	b := setup(t, []string{"a"})
	queue := b.cfg.Names.AuthorityQueue("a")
	started := make(chan struct{})
	c := startConsumer(t, b.cfg, func(c *broker.Consumer) {
		c.Subscribe("a", 1, func(ctx context.Context, _ broker.Delivery) broker.Outcome {
			close(started)
			<-ctx.Done()
			return broker.Requeue
		})
	})
	requireAllConfirmed(t, b.pub.PublishBatch(t.Context(), []broker.Message{msg("a", "m1")}))
	receive(t, started, "delivery")

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	err := c.Stop(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorIs(t, c.Stop(t.Context()), context.DeadlineExceeded, "Stop is idempotent")
	require.False(t, c.Status().Connected)
	waitDepth(t, b.cfg, queue, 1) // requeued, not lost
	require.Zero(t, brokertest.QueueDepth(t, b.cfg, b.cfg.Names.Dead()))
}

func TestPublishBatchOfThousand(t *testing.T) {
	t.Parallel()
	b := setup(t, []string{"a", "b"})
	msgs := make([]broker.Message, 1000)
	for i := range msgs {
		msgs[i] = msg([]string{"a", "b"}[i%2], fmt.Sprintf("m%04d", i))
		msgs[i].Body = []byte(strings.Repeat("x", 1024))
	}
	start := time.Now()
	errs := b.pub.PublishBatch(t.Context(), msgs)
	elapsed := time.Since(start)
	requireAllConfirmed(t, errs)
	t.Logf("published and confirmed %d messages of 1 KiB in %s (%.0f msg/s)",
		len(msgs), elapsed, float64(len(msgs))/elapsed.Seconds())
	waitDepth(t, b.cfg, b.cfg.Names.AuthorityQueue("a"), 500)
	waitDepth(t, b.cfg, b.cfg.Names.AuthorityQueue("b"), 500)
}

func TestConcurrentPublishBatches(t *testing.T) {
	t.Parallel()
	b := setup(t, []string{"a"})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 5 {
				errs := b.pub.PublishBatch(t.Context(), []broker.Message{
					msg("a", fmt.Sprintf("g%d-%d-x", g, i)), msg("a", fmt.Sprintf("g%d-%d-y", g, i)),
				})
				for _, err := range errs {
					if err != nil {
						t.Errorf("publish: %v", err)
					}
				}
			}
		})
	}
	wg.Wait()
	waitDepth(t, b.cfg, b.cfg.Names.AuthorityQueue("a"), 40)
}

func TestNotConnected(t *testing.T) {
	t.Parallel()
	cfg := broker.Config{
		URL:          "amqp://guest:guest@127.0.0.1:1/", // nothing listens there
		ReconnectMin: 10 * time.Millisecond,
		ReconnectMax: 50 * time.Millisecond,
	}
	p := broker.NewPublisher(cfg, zaptest.NewLogger(t))
	errs := p.PublishBatch(t.Context(), []broker.Message{msg("a", "m1"), msg("a", "m2")})
	require.Len(t, errs, 2)
	for _, err := range errs {
		require.ErrorIs(t, err, broker.ErrNotConnected)
	}
	require.ErrorIs(t, p.EnsureAuthority(t.Context(), "a"), broker.ErrNotConnected)

	require.NoError(t, p.Start(t.Context()))
	require.Eventually(t, func() bool { return p.Status().LastError != "" }, waitFor, tick)
	require.False(t, p.Status().Connected)
	require.ErrorIs(t, p.PublishBatch(t.Context(), []broker.Message{msg("a", "m1")})[0], broker.ErrNotConnected)
	require.NoError(t, p.Stop(t.Context()))
	require.NoError(t, p.Stop(t.Context()))
	require.ErrorIs(t, p.Start(t.Context()), broker.ErrStopped)

	c := broker.NewConsumer(cfg, nil)
	c.Subscribe("a", 1, func(context.Context, broker.Delivery) broker.Outcome { return broker.Ack })
	require.NoError(t, c.Stop(t.Context()), "Stop before Start")
	require.NoError(t, c.Stop(t.Context()))
	require.ErrorIs(t, c.Start(t.Context()), broker.ErrStopped)
}

func TestInspectMissingQueue(t *testing.T) {
	t.Parallel()
	cfg := brokertest.Config(t)
	_, _, err := broker.Inspect(t.Context(), cfg, cfg.Names.AuthorityQueue("nope"))
	require.ErrorIs(t, err, broker.ErrQueueNotFound)
	_, _, err = broker.Get(t.Context(), cfg, cfg.Names.AuthorityQueue("nope"))
	require.ErrorIs(t, err, broker.ErrQueueNotFound)
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  broker.Config
		want []string
	}{
		{"defaults", broker.Config{URL: "amqp://x"}, nil},
		{"no url", broker.Config{}, []string{"url:"}},
		{"bad values", broker.Config{
			URL: "amqp://x", QueueType: "stream", DeliveryLimit: -1, Heartbeat: time.Millisecond,
			ReconnectMin: time.Second, ReconnectMax: time.Millisecond,
		}, []string{"queue_type:", "delivery_limit:", "heartbeat:", "reconnect_max:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.WithDefaults().Validate()
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range tt.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
	require.Error(t, broker.NewPublisher(broker.Config{}, nil).Start(t.Context()))
}

func TestInvalidRoutingKeyFailsOnlyThatMessage(t *testing.T) {
	t.Parallel()
	b := setup(t, []string{"a"})
	badHeader := msg("a", "m4")
	badHeader.Headers = map[string]any{"x": struct{}{}}
	errs := b.pub.PublishBatch(t.Context(), []broker.Message{
		msg("a", "m1"), msg("", "m2"), msg("a b", "m3"), badHeader, msg("a", "m5"),
	})
	require.NoError(t, errs[0])
	require.Error(t, errs[1])
	require.Error(t, errs[2])
	require.Error(t, errs[3])
	require.NoError(t, errs[4])
	require.False(t, errors.Is(errs[1], broker.ErrNotConnected))
	waitDepth(t, b.cfg, b.cfg.Names.AuthorityQueue("a"), 2)
	require.Error(t, b.pub.EnsureAuthority(t.Context(), ""))
}

func TestConsumerRedeclaresDeletedQueue(t *testing.T) {
	t.Parallel()
	b := setup(t, []string{"a"})
	queue := b.cfg.Names.AuthorityQueue("a")
	handled := make(chan string, 10)
	startConsumer(t, b.cfg, func(c *broker.Consumer) {
		c.Subscribe("a", 1, func(_ context.Context, d broker.Delivery) broker.Outcome {
			handled <- d.MessageID
			return broker.Ack
		})
	})
	waitConsumers(t, b.cfg, queue, 1)

	// An operator deletes the queue: the broker cancels the consumer, which re-declares the
	// queue and consumes it again on the same connection.
	require.NoError(t, broker.DeleteQueueForTest(t.Context(), b.cfg, queue))
	waitConsumers(t, b.cfg, queue, 1)
	requireAllConfirmed(t, b.pub.PublishBatch(t.Context(), []broker.Message{msg("a", "m1")}))
	require.Equal(t, "m1", receive(t, handled, "delivery after re-declare"))
}

func TestPublisherRecoversFromChannelException(t *testing.T) {
	t.Parallel()
	b := setup(t, []string{"a"})
	queue := b.cfg.Names.AuthorityQueue("a")
	// Deleting hub.deliver makes the next publish a channel exception (404): the publisher
	// reconnects, which re-declares the exchange, the binding and the queue.
	require.NoError(t, broker.DeleteExchangeForTest(t.Context(), b.cfg, b.cfg.Names.Deliver()))
	errs := b.pub.PublishBatch(t.Context(), []broker.Message{msg("a", "lost")})
	require.Error(t, errs[0])
	t.Logf("publish to a deleted exchange: %v", errs[0])

	require.Eventually(t, func() bool {
		return b.pub.EnsureAuthority(t.Context(), "a") == nil &&
			b.pub.PublishBatch(t.Context(), []broker.Message{msg("a", "m1")})[0] == nil
	}, waitFor, 50*time.Millisecond, "publisher never recovered")
	waitDepth(t, b.cfg, queue, 1)
}

func TestReconnectSurvivesOneBadAuthorityQueue(t *testing.T) {
	t.Parallel()
	b := setup(t, []string{"a", "bad"})
	bad := b.cfg.Names.AuthorityQueue("bad")
	// Someone replaces the queue of "bad" with one of other arguments.
	require.NoError(t, broker.DeleteQueueForTest(t.Context(), b.cfg, bad))
	require.NoError(t, broker.DeclareClassicQueueForTest(t.Context(), b.cfg, bad))

	since := b.pub.Status().Since
	require.NoError(t, broker.ClosePublisherConnection(b.pub))
	require.Eventually(t, func() bool {
		s := b.pub.Status()
		return s.Connected && s.Since.After(since)
	}, waitFor, tick, "one bad authority queue stopped the publisher from reconnecting")
	requireAllConfirmed(t, b.pub.PublishBatch(t.Context(), []broker.Message{msg("a", "m1")}))
	err := b.pub.EnsureAuthority(t.Context(), "bad")
	require.Error(t, err)
	require.Contains(t, err.Error(), "PRECONDITION_FAILED")
}

func TestEnsureAuthoritiesDeclaresABatchOfCodesInParallel(t *testing.T) {
	t.Parallel()
	codes := make([]string, 60)
	for i := range codes {
		codes[i] = fmt.Sprintf("e%02d", i)
	}
	cfg := brokertest.Config(t, brokertest.WithAuthorities(append([]string{"pre"}, codes...)...))
	// Someone declared the queue of "pre" with other arguments: its declaration fails (406, which
	// closes the channel it ran on).
	require.NoError(t, broker.DeclareClassicQueueForTest(t.Context(), cfg, cfg.Names.AuthorityQueue("pre")))
	pub := startPublisher(t, cfg)

	// A code given twice is declared once; a code the broker refuses fails alone.
	first := append(append([]string{}, codes[:30]...), codes[0], "bad code", "pre")
	res := pub.EnsureAuthorities(t.Context(), first)
	require.Len(t, res, 32)
	require.Error(t, res["bad code"])
	require.ErrorContains(t, res["pre"], "PRECONDITION_FAILED")
	// The next batch runs on the channels the first one left open, never on the closed one.
	for code, err := range pub.EnsureAuthorities(t.Context(), codes[30:]) {
		res[code] = err
	}
	msgs := make([]broker.Message, len(codes))
	for i, code := range codes {
		require.NoError(t, res[code], code)
		msgs[i] = msg(code, "m-"+code)
	}
	// Every queue exists and is bound: a mandatory publish to each is confirmed, not returned.
	for i, err := range pub.PublishBatch(t.Context(), msgs) {
		require.NoError(t, err, codes[i])
	}
	for _, code := range []string{codes[0], codes[59]} {
		require.Equal(t, 1, brokertest.QueueDepth(t, cfg, cfg.Names.AuthorityQueue(code)))
	}
	// Declared codes are remembered: asking again declares nothing and succeeds at once.
	for code, err := range pub.EnsureAuthorities(t.Context(), codes) {
		require.NoError(t, err, code)
	}
}

func TestPublisherTrustsQueuesItsConsumerDeclaredUntilItHasReasonToDoubt(t *testing.T) {
	t.Parallel()
	cfg := brokertest.Config(t, brokertest.WithAuthorities("a", "b", "c"))
	cfg.Declarations = broker.NewDeclarations()
	c := startConsumer(t, cfg, func(c *broker.Consumer) {
		for _, code := range []string{"a", "b"} {
			c.Subscribe(code, 1, func(context.Context, broker.Delivery) broker.Outcome { return broker.Ack })
		}
	})
	require.Eventually(t, func() bool { return broker.ConsumerConsuming(c) == 2 }, waitFor, tick)
	pub := startPublisher(t, cfg)

	// The consumer declared a and b: the publisher declares only c.
	for code, err := range pub.EnsureAuthorities(t.Context(), []string{"a", "b", "c"}) {
		require.NoError(t, err, code)
	}
	require.Equal(t, 1, broker.PublisherDeclarations(pub))
	requireAllConfirmed(t, pub.PublishBatch(t.Context(), []broker.Message{msg("a", "m1"), msg("b", "m2"), msg("c", "m3")}))

	// An operator removes a's binding and the queue of unroutable messages: the publish comes
	// back unroutable, and the publisher no longer trusts the consumer's declaration of a.
	require.NoError(t, broker.UnbindForTest(t.Context(), cfg, "a"))
	require.NoError(t, broker.DeleteQueueForTest(t.Context(), cfg, cfg.Names.Unroutable()))
	errs := pub.PublishBatch(t.Context(), []broker.Message{msg("a", "m4")})
	require.ErrorIs(t, errs[0], broker.ErrReturned)
	require.NoError(t, pub.EnsureAuthorities(t.Context(), []string{"a", "b"})["a"])
	require.Equal(t, 2, broker.PublisherDeclarations(pub), "a declared again, b still trusted")
	requireAllConfirmed(t, pub.PublishBatch(t.Context(), []broker.Message{msg("a", "m5")}))

	// A new publishing connection doubts every declaration made before it.
	since := pub.Status().Since
	require.NoError(t, broker.ClosePublisherConnection(pub))
	require.Eventually(t, func() bool { s := pub.Status(); return s.Connected && s.Since.After(since) }, waitFor, tick)
	require.NoError(t, pub.EnsureAuthority(t.Context(), "b"))
	require.Equal(t, 3, broker.PublisherDeclarations(pub))
}
