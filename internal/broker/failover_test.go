package broker_test

import (
	"context"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/internal/broker"
	"appealhub/internal/broker/brokertest"
)

// withHost returns raw with its host:port replaced.
func withHost(t *testing.T, raw, hostPort string) string {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	u.Host = hostPort
	return u.String()
}

// deadAddr returns a 127.0.0.1 address nothing listens on (a port that was free a moment ago).
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// connsThrough counts the connections a proxy has accepted.
func connsThrough(p *stallProxy) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns) / 2
}

// Two proxies in front of the one broker stand for two nodes of a cluster: the publisher and
// the consumer connect through the first URL, and when that node goes away they reconnect
// through the failover URL and go on working.
func TestFailoverURLs(t *testing.T) {
	t.Parallel()
	cfg := brokertest.Config(t, brokertest.WithAuthorities("a"))
	upstream, err := url.Parse(cfg.URL)
	require.NoError(t, err)
	nodeA, nodeB := newStallProxy(t, upstream.Host), newStallProxy(t, upstream.Host)
	cluster := cfg
	cluster.URL = withHost(t, cfg.URL, nodeA.addr())
	cluster.FailoverURLs = []string{withHost(t, cfg.URL, nodeB.addr())}

	pub := startPublisher(t, cluster)
	require.NoError(t, pub.EnsureAuthority(t.Context(), "a"))
	received := make(chan string, 16)
	cons := startConsumer(t, cluster, func(c *broker.Consumer) {
		c.Subscribe("a", 1, func(_ context.Context, d broker.Delivery) broker.Outcome {
			received <- d.MessageID
			return broker.Ack
		})
	})
	requireAllConfirmed(t, pub.PublishBatch(t.Context(), []broker.Message{msg("a", "m1")}))
	require.Equal(t, "m1", <-received)
	require.Positive(t, connsThrough(nodeA))
	require.Zero(t, connsThrough(nodeB), "the first URL is tried first")

	pubSince, consSince := pub.Status().Since, cons.Status().Since
	nodeA.close()
	require.Eventually(t, func() bool {
		ps, cs := pub.Status(), cons.Status()
		return ps.Connected && ps.Since.After(pubSince) && cs.Connected && cs.Since.After(consSince)
	}, waitFor, tick, "publisher and consumer never reconnected through the failover URL")
	require.Positive(t, connsThrough(nodeB))
	requireAllConfirmed(t, pub.PublishBatch(t.Context(), []broker.Message{msg("a", "m2")}))
	// m1 comes again if its ack was still on its way when the node went: at least once.
	timeout := time.After(waitFor)
	for got := ""; got != "m2"; {
		select {
		case got = <-received:
			require.Contains(t, []string{"m1", "m2"}, got)
		case <-timeout:
			t.Fatal("m2 never consumed after the failover")
		}
	}
}

// A first URL that refuses connections costs the one-shot helpers one dial: they go on to the
// next URL. With every URL dead they report each dial's error.
func TestFailoverURLsOneShot(t *testing.T) {
	t.Parallel()
	cfg := brokertest.Config(t, brokertest.WithAuthorities("a"))
	dead := withHost(t, cfg.URL, deadAddr(t))
	withDeadFirst := cfg
	withDeadFirst.URL, withDeadFirst.FailoverURLs = dead, []string{cfg.URL}
	require.NoError(t, broker.Ping(t.Context(), withDeadFirst))

	allDead := cfg
	deadAgain := deadAddr(t)
	allDead.URL, allDead.FailoverURLs = dead, []string{withHost(t, cfg.URL, deadAgain)}
	err := broker.Ping(t.Context(), allDead)
	require.Error(t, err)
	require.ErrorContains(t, err, deadAgain, "the error names every node tried")
	require.NotContains(t, err.Error(), "guest@", "no credentials in the error")
}

func TestFailoverURLsValidate(t *testing.T) {
	t.Parallel()
	cfg := broker.Config{URL: "amqp://127.0.0.1:5672/", FailoverURLs: []string{"amqp://127.0.0.1:5673/", ""}}.WithDefaults()
	require.ErrorContains(t, cfg.Validate(), "failover_urls[1]: must be set")
	cfg.FailoverURLs = cfg.FailoverURLs[:1]
	require.NoError(t, cfg.Validate())
}
