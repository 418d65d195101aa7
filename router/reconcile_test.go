package router_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"appealhub/config"
	"appealhub/schemas"
)

// TestReconcilerSendsALostMessageAgain: a delivery whose message vanishes from the authority's
// queue after the broker confirmed it (taken off the queue by someone else, as a purge would) is
// found by the reconciler once its quiet time has passed, sent again for the same attempt, and
// reaches the authority's system exactly once, with delivery_reconciled on its timeline.
func TestReconcilerSendsALostMessageAgain(t *testing.T) {
	t.Parallel()
	// The relay published it (the broker confirmed it); taken off the queue, the message is gone.
	m := takeDeliveryMessage(t, "17000001", func(c *config.Config) {
		// The quiet time is max(after, publish timeout + request timeout) = 1s + 2s.
		c.Reconcile.Interval = 100 * time.Millisecond
		c.Reconcile.After = 200 * time.Millisecond
		c.Broker.PublishTimeout, c.Relay.PublishTimeout = time.Second, time.Second
		c.Delivery.RequestTimeout, c.Delivery.ConnectTimeout = 2*time.Second, time.Second
	})
	hub, env := m.Hub, m.Env
	deliveryOf := func(r schemas.Receipt) string {
		t.Helper()
		return readCase(t, hub.URL, env.Token, r.ID).Deliveries[0].ID
	}
	lostID := deliveryOf(m.Receipt)
	require.Equal(t, lostID, m.Msg.DeliveryID)
	require.Equal(t, 0, m.Msg.Attempt)
	m.Release()

	// The reconciler sends it again; the system gets it once.
	require.Eventually(t, func() bool {
		for _, e := range m.Sandbox.Ledger().Entries {
			if e.DeliveryID == lostID {
				return true
			}
		}
		return false
	}, 20*time.Second, 20*time.Millisecond)
	c := m.requireEachDeliveredOnce(t)
	perDelivery, err := env.Store.DeliveredEventsPerDelivery(context.Background())
	require.NoError(t, err)
	require.Equal(t, map[string]int{lostID: 1, deliveryOf(m.Busy): 1}, perDelivery)

	reconciled := 0
	for _, e := range c.Events {
		if e.Type == schemas.EventDeliveryReconciled {
			reconciled++
			require.True(t, strings.HasPrefix(e.Detail, "lost_after_publish: attempt 1 sent again"), e.Detail)
		}
	}
	require.Equal(t, 1, reconciled, "delivery_reconciled on the timeline, once")

	metricsResp, err := http.Get(hub.URL + "/metrics")
	require.NoError(t, err)
	defer func() { _ = metricsResp.Body.Close() }()
	text, err := io.ReadAll(metricsResp.Body)
	require.NoError(t, err)
	require.Contains(t, string(text), `appealhub_reconciled_total{reason="lost_after_publish"}`)
}

// TestWornDeliveryMessageIsReplacedByAFreshOne: a delivery message the broker has delivered half
// its delivery limit times (every connection lost with it in flight counts one) is not risked
// once more: the hub acknowledges it without sending and a fresh message of the same attempt
// goes through the outbox, so the authority's system gets the document once, and the timeline
// says why.
func TestWornDeliveryMessageIsReplacedByAFreshOne(t *testing.T) {
	t.Parallel()
	m := takeDeliveryMessage(t, "17000002")
	// The same message comes back as the broker hands out one delivered seven times before.
	m.publish(t, "", m.Broker.Names.AuthorityQueue(m.Msg.Authority), amqp.Table{"x-delivery-count": int64(7)})
	m.Release()

	c := m.requireEachDeliveredOnce(t)
	require.Equal(t, []string{"redelivery_limit: attempt 1 sent again; the broker had delivered its message 7 times"}, reconciledDetails(c))

	// A delivery no longer in transit is not refreshed.
	again, err := m.Env.Store.RefreshDeliveryMessage(t.Context(), m.Msg.DeliveryID, 0, 7, 3, time.Now())
	require.NoError(t, err)
	require.False(t, again)
}
