package broker_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"appealhub/internal/broker"
	"appealhub/internal/broker/brokertest"
)

// collector records which codes' handlers ran.
type collector struct {
	mu  sync.Mutex
	got map[string][]string // code → message ids
}

func newCollector() *collector { return &collector{got: make(map[string][]string)} }

func (k *collector) handler(code string) broker.Handler {
	return func(_ context.Context, d broker.Delivery) broker.Outcome {
		k.mu.Lock()
		defer k.mu.Unlock()
		k.got[code] = append(k.got[code], d.MessageID)
		return broker.Ack
	}
}

// handledAll reports whether every code has handled the message id.
func (k *collector) handledAll(codes []string, id string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, code := range codes {
		if !slices.Contains(k.got[code], id) {
			return false
		}
	}
	return true
}

func shardCodes(shards []broker.ShardInfo) [][]string {
	out := make([][]string, len(shards))
	for i, s := range shards {
		out[i] = s.Codes
	}
	return out
}

func publishOneEach(t *testing.T, pub *broker.Publisher, codes []string, id string) {
	t.Helper()
	for chunk := range slices.Chunk(codes, 500) {
		msgs := make([]broker.Message, 0, len(chunk))
		for _, code := range chunk {
			msgs = append(msgs, msg(code, id))
		}
		requireAllConfirmed(t, pub.PublishBatch(t.Context(), msgs))
	}
}

func TestConsumerShardsConnectionsAndRecoversOnlyItsShare(t *testing.T) {
	t.Parallel()
	codes := make([]string, 10)
	for i := range codes {
		codes[i] = fmt.Sprintf("c%02d", i)
	}
	extra := []string{"x1", "x2", "x3", "x4"}
	cfg := brokertest.Config(t, brokertest.WithAuthorities(append(slices.Clone(codes), extra...)...))
	cfg.ChannelsPerConnection = 3
	pub := startPublisher(t, cfg)
	k := newCollector()
	c := startConsumer(t, cfg, func(c *broker.Consumer) {
		for _, code := range codes {
			c.Subscribe(code, 1, k.handler(code))
		}
	})

	shards := broker.ConsumerShards(c)
	require.Len(t, shards, 4, "10 subscriptions at 3 per connection")
	var all []string
	for i, s := range shards {
		require.LessOrEqual(t, len(s.Codes), 3, "shard %d", i)
		require.True(t, s.Connected, "shard %d", i)
		require.Equal(t, 1, s.Sessions, "shard %d", i)
		all = append(all, s.Codes...)
	}
	slices.Sort(all)
	require.Equal(t, codes, all, "every code on exactly one shard")
	t.Logf("negotiated channel_max: %d", shards[0].ChannelMax)

	require.Eventually(t, func() bool { return broker.ConsumerConsuming(c) == len(codes) }, waitFor, tick)
	publishOneEach(t, pub, codes, "m1")
	require.Eventually(t, func() bool { return k.handledAll(codes, "m1") }, waitFor, tick)

	// Shard 1's connection drops: it alone reconnects and re-subscribes its own codes.
	before := shardCodes(shards)
	require.NoError(t, broker.CloseConsumerShardConnection(c, 1))
	require.Eventually(t, func() bool {
		s := broker.ConsumerShards(c)
		return s[1].Sessions == 2 && s[1].Connected && broker.ConsumerConsuming(c) == len(codes) && c.Status().Connected
	}, waitFor, tick, "shard 1 never recovered")
	after := broker.ConsumerShards(c)
	require.Equal(t, before, shardCodes(after), "assignment is stable across the reconnect")
	for _, i := range []int{0, 2, 3} {
		require.Equal(t, 1, after[i].Sessions, "shard %d must keep its connection", i)
	}
	require.NotEmpty(t, c.Status().LastError)
	for _, code := range codes {
		waitConsumers(t, cfg, cfg.Names.AuthorityQueue(code), 1)
	}
	publishOneEach(t, pub, codes, "m2")
	require.Eventually(t, func() bool { return k.handledAll(codes, "m2") }, waitFor, tick)

	// New codes fill the least loaded shard, then open a new connection.
	c.Subscribe("x1", 1, k.handler("x1"))
	c.Subscribe("x2", 1, k.handler("x2"))
	shards = broker.ConsumerShards(c)
	require.Len(t, shards, 4)
	require.Equal(t, []string{"c09", "x1", "x2"}, shards[3].Codes)

	// An unsubscribed code frees its place once its channel is closed; the next code takes it
	// rather than opening a connection.
	victim := shards[0].Codes[0]
	c.Unsubscribe(victim)
	require.Eventually(t, func() bool { return len(broker.ConsumerShards(c)[0].Codes) == 2 }, waitFor, tick)
	waitConsumers(t, cfg, cfg.Names.AuthorityQueue(victim), 0)
	c.Subscribe("x3", 1, k.handler("x3"))
	shards = broker.ConsumerShards(c)
	require.Len(t, shards, 4)
	require.Contains(t, shards[0].Codes, "x3")
	// Every shard full: a fifth connection opens.
	c.Subscribe("x4", 1, k.handler("x4"))
	shards = broker.ConsumerShards(c)
	require.Len(t, shards, 5)
	require.Equal(t, []string{"x4"}, shards[4].Codes)
	live := append(slices.DeleteFunc(slices.Clone(codes), func(s string) bool { return s == victim }), extra...)
	require.Eventually(t, func() bool { return broker.ConsumerConsuming(c) == len(live) }, waitFor, tick)
	publishOneEach(t, pub, live, "m3")
	require.Eventually(t, func() bool { return k.handledAll(live, "m3") }, waitFor, tick)
}

func TestConsumerRefusesConnectionWithTooFewChannels(t *testing.T) {
	t.Parallel()
	cfg := brokertest.Config(t)
	cfg.ChannelsPerConnection = 1<<16 - 1 - 16 // valid, but above any RabbitMQ default channel_max
	c := broker.NewConsumer(cfg, zaptest.NewLogger(t))
	require.NoError(t, c.Start(t.Context()))
	t.Cleanup(func() { require.NoError(t, c.Stop(context.Background())) })
	require.Eventually(t, func() bool { return c.Status().LastError != "" }, waitFor, tick)
	require.Contains(t, c.Status().LastError, "channel_max")
	require.False(t, c.Status().Connected)
}

func TestConfigValidateChannelsPerConnection(t *testing.T) {
	t.Parallel()
	cfg := broker.Config{URL: "amqp://x"}.WithDefaults()
	require.Equal(t, broker.DefaultChannelsPerConnection, cfg.ChannelsPerConnection)
	for _, n := range []int{-1, 1 << 16} {
		cfg.ChannelsPerConnection = n
		err := cfg.Validate()
		require.Error(t, err, "%d", n)
		require.Contains(t, err.Error(), "channels_per_connection:")
	}
	cfg.ChannelsPerConnection = 1
	require.NoError(t, cfg.Validate())
}

// A declaration that fails, or the declaring connection dropping, never touches a consuming
// connection: declarations run on a connection of their own.
func TestConsumerDeclarationFailuresLeaveConsumingConnectionsAlone(t *testing.T) {
	t.Parallel()
	codes := []string{"a", "b", "bad"}
	cfg := brokertest.Config(t, brokertest.WithAuthorities(codes...))
	cfg.ChannelsPerConnection = 3
	bad := cfg.Names.AuthorityQueue("bad")
	pub := startPublisher(t, cfg)
	// The queue of "bad" exists with other arguments: its declaration fails (PRECONDITION_FAILED).
	require.NoError(t, broker.DeleteQueueForTest(t.Context(), cfg, bad))
	require.NoError(t, broker.DeclareClassicQueueForTest(t.Context(), cfg, bad))

	k := newCollector()
	c := startConsumer(t, cfg, func(c *broker.Consumer) {
		for _, code := range codes {
			c.Subscribe(code, 1, k.handler(code))
		}
	})
	require.Eventually(t, func() bool { return broker.ConsumerConsuming(c) == 2 }, waitFor, tick)
	require.Eventually(t, func() bool { return c.Progress().Untried == 0 }, waitFor, tick)
	require.Equal(t, broker.Progress{Subscribed: 3, Consuming: 2}, c.Progress(), "bad is subscribed and tried but cannot consume")

	// The declaring connection drops while "bad" keeps retrying.
	require.NoError(t, broker.CloseConsumerDeclareConnection(c))
	require.Eventually(t, func() bool { return c.Status().Connected }, waitFor, tick, "declaring connection never came back")
	good := []string{"a", "b"}
	publishOneEach(t, pub, good, "m1")
	require.Eventually(t, func() bool { return k.handledAll(good, "m1") }, waitFor, tick)

	// Once the operator removes the wrong queue, "bad" is declared and consumed like the others.
	require.NoError(t, broker.DeleteQueueForTest(t.Context(), cfg, bad))
	require.Eventually(t, func() bool { return broker.ConsumerConsuming(c) == 3 }, waitFor, tick)
	publishOneEach(t, pub, codes, "m2")
	require.Eventually(t, func() bool { return k.handledAll(codes, "m2") }, waitFor, tick)

	shards := broker.ConsumerShards(c)
	require.Len(t, shards, 1)
	require.Equal(t, 1, shards[0].Sessions, "the consuming connection was never replaced")
}
