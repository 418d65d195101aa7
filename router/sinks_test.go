package router_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"appealhub/config"
	"appealhub/internal/broker"
	"appealhub/internal/broker/brokertest"
	"appealhub/internal/hubtest"
	"appealhub/schemas"
)

// TestDeliveryMessageFoundInASinkIsSentAgainAtOnce: a delivery whose message the broker
// dead-lettered (its delivery limit reached while connections were cut) or could not route (its
// queue deleted) is sent again as soon as the hub finds the message in hub.dead or
// hub.unroutable — not after the reconciler's quiet time (an hour here) — and reaches the
// authority's system exactly once; the sink is left empty and its timeline says why.
func TestDeliveryMessageFoundInASinkIsSentAgainAtOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, code, sink string
		headers          amqp.Table
		detail           string
	}{
		{"dead", "17100001", broker.SinkDead,
			amqp.Table{"x-first-death-reason": "delivery_limit", "x-first-death-queue": "q"},
			"dead_lettered: attempt 1 sent again; its message was found in the broker's dead-letter queue (delivery_limit)"},
		{"unroutable", "17100002", broker.SinkUnroutable, nil,
			"unroutable: attempt 1 sent again; its message was found in the broker's unroutable queue (unroutable)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := takeDeliveryMessage(t, tc.code)
			sink := m.Broker.Names.Sink(tc.sink)
			m.publish(t, sink, tc.code, tc.headers)
			require.Eventually(t, func() bool {
				return len(reconciledDetails(readCase(t, m.Hub.URL, m.Env.Token, m.Receipt.ID))) == 1
			}, 10*time.Second, 20*time.Millisecond, "sent again while the authority's system still holds the first delivery")
			m.Release()

			c := m.requireEachDeliveredOnce(t)
			require.Equal(t, []string{tc.detail}, reconciledDetails(c))

			// A stale copy found later changes nothing and is not kept: once a marker published
			// after it is kept, the marker is the only message kept.
			m.publish(t, sink, tc.code, tc.headers)
			publishRaw(t, m.Env.Config.Broker.URL, sink, tc.code, nil, "marker/1", []byte("marker"))
			require.Eventually(t, func() bool {
				kept, err := m.Env.Store.SinkLetterCounts(t.Context())
				require.NoError(t, err)
				return kept[tc.sink] > 0
			}, 10*time.Second, 20*time.Millisecond)
			waitEmpty(t, m.Broker, sink)
			letters, err := m.Env.Store.KeptSinkLetters(t.Context(), 0)
			require.NoError(t, err)
			require.Len(t, letters, 1)
			require.Equal(t, "marker/1", letters[0].MessageID)
			c = readCase(t, m.Hub.URL, m.Env.Token, m.Receipt.ID)
			require.Len(t, reconciledDetails(c), 1)
			require.Equal(t, 2, m.Sandbox.Ledger().Documents)
		})
	}
}

// TestDeliveryWhoseMessagesKeepLandingInASinkIsRecordedDead: one attempt is sent again from a
// sink at most reconcile.sink_resends times (3 here), each time after a longer wait (at once, 1 s,
// 3 s); the next time its delivery is recorded dead with the reason, for an operator to redrive,
// and the fresh messages queued meanwhile are then taken as stale.
func TestDeliveryWhoseMessagesKeepLandingInASinkIsRecordedDead(t *testing.T) {
	t.Parallel()
	m := takeDeliveryMessage(t, "17100003", func(c *config.Config) { c.Reconcile.SinkResends = 3 })
	dead := m.Broker.Names.Dead()
	var c schemas.Case
	for i := 1; i <= 4; i++ {
		m.publish(t, dead, m.Msg.Authority, amqp.Table{"x-first-death-reason": "delivery_limit"})
		require.Eventually(t, func() bool {
			c = readCase(t, m.Hub.URL, m.Env.Token, m.Receipt.ID)
			return len(reconciledDetails(c)) == min(i, 3) && (i < 4 || c.Deliveries[0].Status != schemas.StatusQueued)
		}, 10*time.Second, 20*time.Millisecond, "found in the sink %d times", i)
	}
	require.Equal(t, schemas.StatusDead, c.Deliveries[0].Status)
	m.Release()

	m.Env.WaitSettled(t, 20*time.Second)
	ledger := m.Sandbox.Ledger()
	require.Equal(t, 1, ledger.Documents, "only the first appeal reached the system")
	dl, err := m.Env.Store.DeadLetter(t.Context(), m.Msg.DeliveryID)
	require.NoError(t, err)
	require.Equal(t, "gave up: its message was found in the broker's dead-letter queue 4 times", dl.Reason)
}

// TestSinkKeepsWhatItCannotAccountFor: a message the hub's delivery worker rejects (unreadable, so
// the broker really dead-letters it from the authority's queue), one for a delivery that does not
// exist and a stray message in hub.unroutable are taken off the sinks and kept, whole, in the
// database: the queues empty, nothing lost, the console's counts say so.
func TestSinkKeepsWhatItCannotAccountFor(t *testing.T) {
	t.Parallel()
	const code = "17100004"
	env := hubtest.NewEnv(t, map[string]string{code: "http://127.0.0.1:1/unused"}, nil)
	env.Start(t)
	names := broker.Names{Prefix: env.Config.Broker.Prefix}
	bcfg := broker.Config{URL: env.Config.Broker.URL, Names: names}
	url := env.Config.Broker.URL

	publishRaw(t, url, names.Deliver(), code, nil, "garbage/1", []byte("not json"))
	unknown := fmt.Sprintf(`{"delivery_id":%q,"authority":%q,"attempt":0}`, uuid.NewString(), code)
	publishRaw(t, url, names.Dead(), code, amqp.Table{"x-first-death-reason": "delivery_limit"}, "unknown/1", []byte(unknown))
	publishRaw(t, url, names.Unroutable(), "nowhere", nil, "stray/1", []byte(`{"hello":"world"}`))

	require.Eventually(t, func() bool {
		kept, err := env.Store.SinkLetterCounts(t.Context())
		require.NoError(t, err)
		return kept[broker.SinkDead] == 2 && kept[broker.SinkUnroutable] == 1
	}, 20*time.Second, 50*time.Millisecond)
	waitEmpty(t, bcfg, names.Dead())
	waitEmpty(t, bcfg, names.Unroutable())

	letters, err := env.Store.KeptSinkLetters(t.Context(), 0)
	require.NoError(t, err)
	var got []string
	for _, l := range letters {
		whole, err := env.Store.KeptSinkLetter(t.Context(), l.ID)
		require.NoError(t, err)
		require.Equal(t, len(whole.Body), l.Size)
		got = append(got, strings.Join([]string{l.Sink, l.Reason, l.SourceQueue, l.MessageID, l.Note, string(whole.Body)}, "|"))
	}
	slices.Sort(got)
	require.Equal(t, []string{
		"dead|delivery_limit||unknown/1|no delivery has this id|" + unknown,
		"dead|rejected|" + names.AuthorityQueue(code) + "|garbage/1|not a delivery message|not json",
		"unroutable|unroutable||stray/1|not a delivery message|{\"hello\":\"world\"}",
	}, got)
}

// waitEmpty waits until queue has no message ready (one being handled may be left).
func waitEmpty(t *testing.T, cfg broker.Config, queue string) {
	t.Helper()
	require.Eventually(t, func() bool { return brokertest.QueueDepth(t, cfg, queue) == 0 }, 20*time.Second, 20*time.Millisecond,
		"%s not emptied", queue)
}
