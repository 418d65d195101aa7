package delivery_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"appealhub/adapters"
	"appealhub/adapters/jsondoc"
	"appealhub/internal/clock"
	"appealhub/router/delivery"
)

// A handler whose delivery channel was lost (or the process is shutting down) has its ctx
// cancelled while it reads the database: the read fails because of the cancellation, which is no
// database failure. The message is requeued without a "database unavailable" warning, which
// every broker reconnect with deliveries in flight would otherwise raise.
func TestHandleCancelledIsNoDatabaseWarning(t *testing.T) {
	t.Parallel()
	b := setup(t, 8)
	core, logs := observer.New(zap.WarnLevel)
	reg := adapters.NewRegistry()
	reg.MustRegister(jsondoc.New())
	w := delivery.New(delivery.Config{Clock: clock.NewStub(b.now)}, b.store, reg, b.transport, zap.New(core))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b.store.readErr = errors.New("pq: canceling statement due to user request")
	require.Equal(t, delivery.Requeue, w.Handle(ctx, msg()))
	require.Empty(t, b.transport.reqs, "nothing is sent")
	require.Zero(t, logs.FilterMessage("database unavailable; retrying").Len(), "a cancelled read is no database failure")

	// A read that fails while ctx is live is still a warning.
	live, stop := context.WithCancel(context.Background())
	b.store.readErr = errors.New("dial tcp: connection refused")
	done := make(chan delivery.Outcome, 1)
	go func() { done <- w.Handle(live, msg()) }()
	require.Eventually(t, func() bool { return logs.FilterMessage("database unavailable; retrying").Len() > 0 },
		5*time.Second, 10*time.Millisecond)
	stop()
	require.Equal(t, delivery.Requeue, <-done)
}
