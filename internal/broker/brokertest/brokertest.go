// Package brokertest gives tests an isolated view of a real RabbitMQ: a broker.Config with a
// random name prefix whose objects are deleted when the test ends, and assertion helpers.
//
// Tests take the broker URL from TEST_AMQP_URL (default DefaultURL). An unreachable broker fails
// the test when CI=true and skips it otherwise.
package brokertest

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"appealhub/internal/broker"
)

// DefaultURL is the broker used when TEST_AMQP_URL is unset.
const DefaultURL = "amqp://guest:guest@127.0.0.1:5672/"

// Option adjusts Config.
type Option func(*options)

type options struct {
	codes     []string
	queueType string
	limit     int
}

// WithAuthorities registers authority codes whose queues the cleanup deletes. Codes used later
// can be added with Track.
func WithAuthorities(codes ...string) Option {
	return func(o *options) { o.codes = append(o.codes, codes...) }
}

// WithQueueType sets Config.QueueType ("quorum" by default).
func WithQueueType(queueType string) Option {
	return func(o *options) { o.queueType = queueType }
}

// WithDeliveryLimit sets Config.DeliveryLimit (3 by default, to keep poison tests short).
func WithDeliveryLimit(n int) Option {
	return func(o *options) { o.limit = n }
}

var (
	trackedMu sync.Mutex
	tracked   = map[string][]string{} // prefix → authority codes
	portals   = map[string][]string{} // prefix → portal client ids
)

// Track registers more authority codes of cfg for the cleanup Config registered. Every code a
// test declares a queue for must be registered (with Track or WithAuthorities), or its queue is
// left behind in the broker.
func Track(t testing.TB, cfg broker.Config, codes ...string) {
	t.Helper()
	trackedMu.Lock()
	defer trackedMu.Unlock()
	if _, ok := tracked[cfg.Names.Prefix]; !ok {
		t.Fatalf("brokertest.Track: prefix %q was not made by brokertest.Config", cfg.Names.Prefix)
	}
	tracked[cfg.Names.Prefix] = append(tracked[cfg.Names.Prefix], codes...)
}

// TrackPortal registers portal client ids of cfg whose notification queues (Names.PortalQueue)
// the cleanup Config registered deletes, like Track does for authority queues.
func TrackPortal(t testing.TB, cfg broker.Config, clients ...string) {
	t.Helper()
	trackedMu.Lock()
	defer trackedMu.Unlock()
	if _, ok := tracked[cfg.Names.Prefix]; !ok {
		t.Fatalf("brokertest.TrackPortal: prefix %q was not made by brokertest.Config", cfg.Names.Prefix)
	}
	portals[cfg.Names.Prefix] = append(portals[cfg.Names.Prefix], clients...)
}

// Config returns a broker.Config for a test: URL from TEST_AMQP_URL, a random name prefix, short
// heartbeat, timeouts and backoff. It checks that the broker is reachable (t.Fatal when CI=true,
// t.Skip otherwise) and registers a cleanup that deletes the base topology of the prefix and the
// queues of every code registered with WithAuthorities, Track or TrackPortal. Call it before starting
// publishers or consumers, so that their Stop (registered later with t.Cleanup) runs first.
func Config(t testing.TB, opts ...Option) broker.Config {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	cfg := broker.Config{
		URL:            cmp.Or(os.Getenv("TEST_AMQP_URL"), DefaultURL),
		Names:          broker.Names{Prefix: "t" + randomHex(t, 5) + "."},
		QueueType:      cmp.Or(o.queueType, broker.QueueTypeQuorum),
		DeliveryLimit:  cmp.Or(o.limit, 3),
		Heartbeat:      2 * time.Second,
		PublishTimeout: 5 * time.Second,
		ReconnectMin:   20 * time.Millisecond,
		ReconnectMax:   500 * time.Millisecond,
		ConnectionName: "appealhub-test",
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := broker.Ping(ctx, cfg); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("RabbitMQ at %s is not reachable (CI=true): %v", redact(cfg.URL), err)
		}
		t.Skipf("RabbitMQ at %s is not reachable, skipping (set CI=true to fail instead): %v", redact(cfg.URL), err)
	}

	prefix := cfg.Names.Prefix
	trackedMu.Lock()
	tracked[prefix] = slices.Clone(o.codes)
	trackedMu.Unlock()
	t.Cleanup(func() {
		trackedMu.Lock()
		codes, clients := tracked[prefix], portals[prefix]
		delete(tracked, prefix)
		delete(portals, prefix)
		trackedMu.Unlock()
		slices.Sort(codes)
		codes = slices.Compact(codes)
		// A broker that has just lost a thousand consumers with their quorum queues may refuse
		// connections for a while: more time for more queues, and tries again until then.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second+time.Duration(len(codes)+len(clients))*100*time.Millisecond)
		defer cancel()
		if len(clients) > 0 {
			slices.Sort(clients)
			portal := cfg
			portal.Family = broker.FamilyPortal
			if err := deleteTopology(ctx, portal, slices.Compact(clients)...); err != nil {
				t.Errorf("brokertest cleanup: %v", err)
			}
		}
		if err := deleteTopology(ctx, cfg, codes...); err != nil {
			t.Errorf("brokertest cleanup: %v", err)
		}
	})
	return cfg
}

// deleteTopology deletes the topology of codes, trying again (deleting what is gone is no error)
// until ctx ends.
func deleteTopology(ctx context.Context, cfg broker.Config, codes ...string) error {
	for wait := time.Second; ; wait = min(2*wait, 10*time.Second) {
		err := broker.DeleteTopology(ctx, cfg, codes...)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// QueueDepth returns the number of ready messages in queue. On error it reports t.Errorf and
// returns -1, so it is safe inside require.Eventually conditions.
func QueueDepth(t testing.TB, cfg broker.Config, queue string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, _, err := broker.Inspect(ctx, cfg, queue)
	if err != nil {
		t.Errorf("queue depth of %s: %v", queue, err)
		return -1
	}
	return n
}

// Get takes one message from queue (basic.get with ack) and returns its body and headers; ok is
// false if the queue was empty. On error it reports t.Errorf and returns ok = false.
func Get(t testing.TB, cfg broker.Config, queue string) (body []byte, headers map[string]any, ok bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, ok, err := broker.Get(ctx, cfg, queue)
	if err != nil {
		t.Errorf("get from %s: %v", queue, err)
		return nil, nil, false
	}
	return d.Body, d.Headers, ok
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random prefix: %v", err)
	}
	return hex.EncodeToString(b)
}

// redact hides the password of an AMQP URL.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Admin returns the management API settings for cfg: TEST_AMQP_ADMIN_URL if set, else derived from
// the AMQP URL. A management API that does not answer fails the test when CI=true and skips it
// otherwise.
func Admin(t testing.TB, cfg broker.Config) broker.AdminConfig {
	t.Helper()
	admin, err := broker.AdminConfig{URL: os.Getenv("TEST_AMQP_ADMIN_URL")}.WithDefaults(cfg.URL)
	if err != nil {
		t.Fatalf("management API settings: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := broker.PingAdmin(ctx, admin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("RabbitMQ management API is not available (CI=true; enable it with `rabbitmq-plugins enable rabbitmq_management`): %v", err)
		}
		t.Skipf("RabbitMQ management API is not available (with CI=true this fails): %v", err)
	}
	return admin
}
