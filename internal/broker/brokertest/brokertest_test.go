package brokertest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"appealhub/internal/broker"
	"appealhub/internal/broker/brokertest"
)

const (
	waitFor = 20 * time.Second
	tick    = 10 * time.Millisecond
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestConfigCleansUpEverything(t *testing.T) {
	t.Parallel()
	var cfg broker.Config
	t.Run("inner", func(t *testing.T) {
		cfg = brokertest.Config(t, brokertest.WithAuthorities("a"))
		require.True(t, strings.HasPrefix(cfg.Names.Prefix, "t"))
		p := broker.NewPublisher(cfg, nil)
		require.NoError(t, p.Start(t.Context()))
		t.Cleanup(func() { require.NoError(t, p.Stop(context.Background())) })
		require.Eventually(t, func() bool { return p.Status().Connected }, waitFor, tick)
		require.NoError(t, p.EnsureAuthority(t.Context(), "a"))
		brokertest.Track(t, cfg, "b")
		require.NoError(t, p.EnsureAuthority(t.Context(), "b"))

		errs := p.PublishBatch(t.Context(), []broker.Message{
			{RoutingKey: "a", MessageID: "m1", Body: []byte("one"), Headers: map[string]any{"k": "v"}},
			{RoutingKey: "nobody", MessageID: "m2", Body: []byte("two")},
		})
		require.NoError(t, errs[0])
		require.NoError(t, errs[1])
		require.Eventually(t, func() bool {
			return brokertest.QueueDepth(t, cfg, cfg.Names.AuthorityQueue("a")) == 1
		}, waitFor, tick)
		body, headers, ok := brokertest.Get(t, cfg, cfg.Names.AuthorityQueue("a"))
		require.True(t, ok)
		require.Equal(t, "one", string(body))
		require.Equal(t, "v", headers["k"])
		_, _, ok = brokertest.Get(t, cfg, cfg.Names.AuthorityQueue("a"))
		require.False(t, ok, "Get did not ack")
	})
	require.NotEmpty(t, cfg.URL)

	for _, q := range []string{
		cfg.Names.AuthorityQueue("a"), cfg.Names.AuthorityQueue("b"), cfg.Names.Dead(), cfg.Names.Unroutable(),
	} {
		_, _, err := broker.Inspect(t.Context(), cfg, q)
		require.ErrorIs(t, err, broker.ErrQueueNotFound, "queue %s left behind", q)
	}
	// A Publisher declares the base topology on connect; its exchanges must be gone too: a
	// second DeleteTopology finds nothing to delete and does not fail.
	require.NoError(t, broker.DeleteTopology(t.Context(), cfg))
}

func TestQueueDepthReportsErrors(t *testing.T) {
	t.Parallel()
	cfg := brokertest.Config(t)
	ft := &fakeT{TB: t}
	require.Equal(t, -1, brokertest.QueueDepth(ft, cfg, cfg.Names.AuthorityQueue("missing")))
	require.True(t, ft.failed)
	ft.failed = false
	_, _, ok := brokertest.Get(ft, cfg, cfg.Names.AuthorityQueue("missing"))
	require.False(t, ok)
	require.True(t, ft.failed)
}

// fakeT records Errorf instead of failing the real test.
type fakeT struct {
	testing.TB
	failed bool
}

func (f *fakeT) Helper() {}

func (f *fakeT) Errorf(string, ...any) { f.failed = true }
