package broker_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/internal/broker"
	"appealhub/internal/broker/brokertest"
)

// portalSetup returns the portal family of a test config whose cleanup deletes the queues of
// clients, and a started portal publisher that has declared them.
func portalSetup(t *testing.T, clients ...string) (broker.Config, *broker.Publisher) {
	t.Helper()
	cfg := brokertest.Config(t)
	cfg.Family = broker.FamilyPortal
	brokertest.TrackPortal(t, cfg, clients...)
	pub := startPublisher(t, cfg)
	for _, c := range clients {
		require.NoError(t, pub.EnsureAuthority(t.Context(), c))
	}
	return cfg, pub
}

// TestPortalFamilyRoutesByClient: a portal-family publisher publishes to hub.portal, each message
// reaches the queue of the client its routing key names, and a portal-family consumer consumes
// that queue; the authority side is untouched.
func TestPortalFamilyRoutesByClient(t *testing.T) {
	t.Parallel()
	cfg, pub := portalSetup(t, "portal-a", "portal-b")
	names := cfg.Names
	require.Equal(t, names.Prefix+"hub.portal.portal-a", names.PortalQueue("portal-a"))

	requireAllConfirmed(t, pub.PublishBatch(t.Context(), []broker.Message{msg("portal-a", "n-1"), msg("portal-b", "n-2")}))
	waitDepth(t, cfg, names.PortalQueue("portal-b"), 1)

	got := make(chan broker.Delivery, 1)
	startConsumer(t, cfg, func(c *broker.Consumer) {
		c.Subscribe("portal-a", 1, func(_ context.Context, d broker.Delivery) broker.Outcome {
			got <- d
			return broker.Ack
		})
	})
	d := receive(t, got, "portal-a's notification")
	require.Equal(t, "n-1", d.MessageID)
	require.Equal(t, "portal-a", d.RoutingKey)
	waitDepth(t, cfg, names.PortalQueue("portal-a"), 0)
	require.Equal(t, 1, brokertest.QueueDepth(t, cfg, names.PortalQueue("portal-b")), "another client's queue is untouched")

	// The exchanges are not the authority side's: nothing reached an authority queue of that name.
	n, _, err := broker.Inspect(t.Context(), cfg, names.AuthorityQueue("portal-a"))
	require.Error(t, err, "no authority queue was declared for a portal client (%d messages)", n)

	// A client without a queue is unroutable, as for authorities.
	requireAllConfirmed(t, pub.PublishBatch(t.Context(), []broker.Message{msg("portal-c", "n-3")}))
	waitDepth(t, cfg, names.Unroutable(), 1)
}

func TestConfigValidateFamily(t *testing.T) {
	t.Parallel()
	cfg := broker.Config{URL: "amqp://x/", Family: "authorities"}.WithDefaults()
	require.ErrorContains(t, cfg.Validate(), `family: must be "authority", "portal" or "sink", got "authorities"`)
	require.Equal(t, broker.FamilyAuthority, broker.Config{}.WithDefaults().Family)
}

func TestPortalUserRequests(t *testing.T) {
	t.Parallel()
	f := newFakeAdmin(t, func(method, _ string) (int, string) {
		if method == http.MethodGet {
			return http.StatusOK, "[]"
		}
		return http.StatusNoContent, ""
	})
	admin := broker.AdminConfig{URL: f.srv.URL, User: "adm", Password: "admpw", VHost: "/"}
	user, err := broker.PortalUser(t.Context(), admin, broker.Names{Prefix: "p."}, "portal", "pw")
	require.NoError(t, err)
	require.Equal(t, "p.portal-portal", user)
	reqs := f.recorded()
	require.Len(t, reqs, 4)
	require.Equal(t, "/api/permissions/%2F/p.portal-portal", reqs[1].path)
	require.Equal(t, map[string]any{"configure": "^$", "write": "^$", "read": `^p\.hub\.portal\.portal$`}, reqs[1].body)
	_, err = broker.PortalUser(t.Context(), admin, broker.Names{}, "", "pw")
	require.ErrorContains(t, err, "create portal user")
}

// TestPortalUserConsumesOnlyItsQueue: a portal client's broker user reads its own notification
// queue and nothing else.
func TestPortalUserConsumesOnlyItsQueue(t *testing.T) {
	t.Parallel()
	cfg, pub := portalSetup(t, "portal-x", "portal-y")
	names := cfg.Names
	admin := brokertest.Admin(t, cfg)
	requireAllConfirmed(t, pub.PublishBatch(t.Context(), []broker.Message{msg("portal-x", "x-1"), msg("portal-y", "y-1")}))
	waitDepth(t, cfg, names.PortalQueue("portal-x"), 1)

	password := rand.Text()
	user, err := broker.PortalUser(t.Context(), admin, names, "portal-x", password)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, broker.DeleteUser(ctx, admin, user))
	})
	conn, err := dialAs(t, cfg, user, password)
	require.NoError(t, err)

	ch, err := conn.Channel()
	require.NoError(t, err)
	deliveries, err := ch.Consume(names.PortalQueue("portal-x"), "", false, false, false, false, nil)
	require.NoError(t, err)
	d := receive(t, deliveries, "portal-x's notification")
	require.Equal(t, "x-1", d.MessageId)
	require.NoError(t, d.Ack(false))
	require.NoError(t, ch.Close())

	for _, queue := range []string{names.PortalQueue("portal-y"), names.Dead()} {
		ch, err := conn.Channel()
		require.NoError(t, err)
		_, err = ch.Consume(queue, "", false, false, false, false, nil)
		requireAccessRefused(t, err)
	}
	requireAccessRefused(t, publishOn(t.Context(), conn, names.Portal(), "portal-y"))
	require.Equal(t, 1, brokertest.QueueDepth(t, cfg, names.PortalQueue("portal-y")), "y's notification untouched")
}
