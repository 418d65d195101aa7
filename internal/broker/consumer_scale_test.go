//go:build scale

package broker_test

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"appealhub/internal/broker"
	"appealhub/internal/broker/brokertest"
)

const scaleAuthorities = 3000

// TestConsumerScale subscribes 3,000 authorities on one Consumer, publishes one message to each
// and waits until every handler ran, logging the time taken and the connections used. It is a
// measurement, so it is built only with -tags scale (go test -tags scale -run TestConsumerScale
// ./internal/broker/), against the broker of TEST_AMQP_URL, with the queue types listed in
// APPEALHUB_SCALE_QUEUE_TYPES (default "classic").
//
// Listing "quorum" needs a broker with a high open-file
// limit: RabbitMQ 3.10's file handle cache counts handles for every quorum queue against
// ulimit -n, and once over its limit it blocks every new AMQP connection in the handshake until
// queues are deleted (on a broker with nofile 1024, 3,000 quorum queues did exactly that, so
// the cleanup could not even connect).
func TestConsumerScale(t *testing.T) {
	types := strings.Split(cmp.Or(os.Getenv("APPEALHUB_SCALE_QUEUE_TYPES"), broker.QueueTypeClassic), ",")
	for _, qt := range types {
		t.Run(qt, func(t *testing.T) { runScale(t, strings.TrimSpace(qt)) })
	}
}

func runScale(t *testing.T, queueType string) {
	cfg := brokertest.Config(t, brokertest.WithQueueType(queueType))
	codes := make([]string, scaleAuthorities)
	queues := make([]string, scaleAuthorities)
	for i := range codes {
		codes[i] = fmt.Sprintf("s%05d", i)
		queues[i] = cfg.Names.AuthorityQueue(codes[i])
	}
	brokertest.Track(t, cfg, codes...)
	t.Cleanup(func() {
		// Runs after the consumer's Stop and before brokertest's serial cleanup.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		start := time.Now()
		require.NoError(t, broker.DeleteQueuesForTest(ctx, cfg, queues, 32))
		t.Logf("%s: deleted %d queues in %s", queueType, len(queues), time.Since(start).Round(time.Millisecond))
	})
	pub := startPublisher(t, cfg)

	k := newCollector()
	c := broker.NewConsumer(cfg, zap.NewNop())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		require.NoError(t, c.Stop(ctx))
	})
	start := time.Now()
	for _, code := range codes {
		c.Subscribe(code, 1, k.handler(code))
	}
	subscribed := time.Since(start)
	require.NoError(t, c.Start(t.Context()))
	const limit = 10 * time.Minute
	require.Eventually(t, func() bool { return c.Status().Connected }, limit, 50*time.Millisecond)
	connected := time.Since(start)
	require.Eventually(t, func() bool { return broker.ConsumerConsuming(c) == scaleAuthorities },
		limit, 50*time.Millisecond, "consuming %d of %d", broker.ConsumerConsuming(c), scaleAuthorities)
	consuming := time.Since(start)

	pubStart := time.Now()
	publishOneEach(t, pub, codes, "m1")
	published := time.Since(pubStart)
	require.Eventually(t, func() bool { return k.handledAll(codes, "m1") }, limit, 50*time.Millisecond)
	handled := time.Since(pubStart)

	shards := broker.ConsumerShards(c)
	t.Logf("%s: %d authorities on %d connections (%d channels each at most, channel_max %d)",
		queueType, scaleAuthorities, len(shards), cfg.WithDefaults().ChannelsPerConnection, shards[0].ChannelMax)
	t.Logf("%s: Subscribe x%d %s; Status.Connected after %s; all consuming after %s",
		queueType, scaleAuthorities, subscribed.Round(time.Millisecond), connected.Round(time.Millisecond),
		consuming.Round(time.Millisecond))
	t.Logf("%s: published %d in %s; all handled %s after publishing began",
		queueType, scaleAuthorities, published.Round(time.Millisecond), handled.Round(time.Millisecond))
}
