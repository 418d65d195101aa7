package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestDefault(t *testing.T) {
	t.Parallel()

	c := Default()
	require.Equal(t, "127.0.0.1:8080", c.HTTP.Addr)
	require.Equal(t, "http://127.0.0.1:8080", c.HTTP.PublicURL)
	require.EqualValues(t, 26214400, c.HTTP.MaxBodyBytes)
	require.Equal(t, 5*time.Second, c.HTTP.ReadHeaderTimeout)
	require.Equal(t, 60*time.Second, c.HTTP.ReadTimeout)
	require.Equal(t, 60*time.Second, c.HTTP.WriteTimeout)
	require.Equal(t, 120*time.Second, c.HTTP.IdleTimeout)

	require.Equal(t, "postgres://appealhub:appealhub@127.0.0.1:5432/appealhub?sslmode=disable&connect_timeout=5", c.Database.URL)
	require.Empty(t, c.Database.Schema)
	require.Equal(t, 20, c.Database.MaxOpenConns)
	require.Equal(t, 20, c.Database.MaxIdleConns, "as many as may be open")
	require.Equal(t, 30*time.Minute, c.Database.ConnMaxLifetime)

	require.Equal(t, "amqp://guest:guest@127.0.0.1:5672/", c.Broker.URL)
	require.Empty(t, c.Broker.Prefix)
	require.Equal(t, "quorum", c.Broker.QueueType)
	require.Equal(t, 10, c.Broker.DeliveryLimit)
	require.Equal(t, 10*time.Second, c.Broker.Heartbeat)
	require.Equal(t, 10*time.Second, c.Broker.PublishTimeout)
	require.Equal(t, 100*time.Millisecond, c.Broker.ReconnectMin)
	require.Equal(t, 10*time.Second, c.Broker.ReconnectMax)

	require.Equal(t, 200, c.Relay.BatchSize)
	require.Equal(t, time.Second, c.Relay.PollInterval)
	require.Equal(t, 10*time.Second, c.Relay.PublishTimeout)

	require.Equal(t, 8, c.Delivery.Concurrency)
	require.Equal(t, 30*time.Second, c.Delivery.RequestTimeout)
	require.Equal(t, 5*time.Second, c.Delivery.ConnectTimeout)
	require.Equal(t, 8, c.Delivery.MaxAttempts)
	require.Equal(t, 2*time.Second, c.Delivery.BackoffBase)
	require.Equal(t, time.Hour, c.Delivery.BackoffMax)
	require.InDelta(t, 0.2, c.Delivery.BackoffJitter, 1e-12)
	require.Equal(t, 5, c.Delivery.BreakerFailures)
	require.Equal(t, 30*time.Second, c.Delivery.BreakerCooldown)

	require.Equal(t, time.Second, c.Audit.SealInterval)
	require.Equal(t, 10*time.Minute, c.Audit.CheckpointInterval)
	require.Equal(t, 1000, c.Audit.BatchSize)

	require.Equal(t, 30*time.Second, c.Shutdown.Grace)
	require.Equal(t, "info", c.Log.Level)
	require.Equal(t, "json", c.Log.Format)
	require.Nil(t, c.Clients)
	require.Nil(t, c.Authorities)

	require.NoError(t, c.Validate())
}

func TestWithDefaults(t *testing.T) {
	t.Parallel()

	t.Run("KeepsSetFieldsAndFillsZeroOnes", func(t *testing.T) {
		t.Parallel()
		in := Config{
			HTTP:     HTTP{Addr: "127.0.0.1:9999"},
			Delivery: Delivery{MaxAttempts: 3, BackoffJitter: 0.5},
			Log:      Log{Level: LogLevelDebug},
		}
		got := in.WithDefaults()
		require.Equal(t, "127.0.0.1:9999", got.HTTP.Addr)
		require.Equal(t, "http://127.0.0.1:9999", got.HTTP.PublicURL, "public_url follows addr")
		require.Equal(t, 3, got.Delivery.MaxAttempts)
		require.InDelta(t, 0.5, got.Delivery.BackoffJitter, 1e-12)
		require.Equal(t, DefaultDeliveryBackoffBase, got.Delivery.BackoffBase)
		require.Equal(t, LogLevelDebug, got.Log.Level)
		require.Equal(t, DefaultLogFormat, got.Log.Format)
		require.Empty(t, in.Log.Format, "the receiver is not modified")
	})

	t.Run("IdleConnectionsFollowOpenOnes", func(t *testing.T) {
		t.Parallel()
		got := Config{Database: Database{MaxOpenConns: 5}}.WithDefaults()
		require.Equal(t, 5, got.Database.MaxIdleConns, "as many idle as may be open, never more")
		got = Config{Database: Database{MaxOpenConns: 5, MaxIdleConns: 2}}.WithDefaults()
		require.Equal(t, 2, got.Database.MaxIdleConns)
	})

	t.Run("PublicURL", func(t *testing.T) {
		t.Parallel()
		for addr, want := range map[string]string{
			"127.0.0.1:8080": "http://127.0.0.1:8080",
			":9000":          "http://127.0.0.1:9000",
			"0.0.0.0:9001":   "http://127.0.0.1:9001",
			"[::1]:9002":     "http://[::1]:9002",
			"hub.example:80": "http://hub.example:80",
		} {
			got := Config{HTTP: HTTP{Addr: addr}}.WithDefaults().HTTP.PublicURL
			require.Equal(t, want, got, addr)
		}
		got := Config{HTTP: HTTP{PublicURL: "https://hub.example/"}}.WithDefaults().HTTP.PublicURL
		require.Equal(t, "https://hub.example/", got)
		got = Config{HTTP: HTTP{Addr: ":8443", TLS: HTTPTLS{CertFile: "c.pem", KeyFile: "c.key"}}}.WithDefaults().HTTP.PublicURL
		require.Equal(t, "https://127.0.0.1:8443", got, "the hub's own TLS makes the default URL https")
	})

	t.Run("ListEntriesAndNoAliasing", func(t *testing.T) {
		t.Parallel()
		in := Config{
			Authorities: []Authority{{Code: "42037682", Name: "A", Endpoint: "http://127.0.0.1:1/"}},
			Clients:     []Client{},
		}
		got := in.WithDefaults()
		require.Equal(t, DefaultAuthorityAdapter, got.Authorities[0].Adapter)
		require.Equal(t, DefaultAuthorityStatus, got.Authorities[0].Status)
		require.Empty(t, in.Authorities[0].Adapter, "the receiver's list is not modified")
		require.Nil(t, got.Clients, "an empty list becomes nil")
	})

	t.Run("Idempotent", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, Default(), Default().WithDefaults())
	})
}
