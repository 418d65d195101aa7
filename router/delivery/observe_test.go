package delivery_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"appealhub/router/delivery"
	"appealhub/schemas"
)

// TestTraceAndAttemptHooks: the traceparent TraceFunc returns is sent to the authority's system and
// its span is ended with the send's error; without TraceFunc the stored traceparent is sent; each
// attempt is reported to AttemptFunc, a breaker that is open as CircuitOpen.
func TestTraceAndAttemptHooks(t *testing.T) {
	t.Parallel()
	const stored = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	const traced = "00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01"
	var attempts []delivery.Attempt
	var ended []error
	b := setupWith(t, 8, func(c *delivery.Config) {
		c.BreakerFailures = 1
		c.TraceFunc = func(_ context.Context, task schemas.DeliveryTask) (string, func(error)) {
			require.Equal(t, stored, task.TraceParent)
			return traced, func(err error) { ended = append(ended, err) }
		}
		c.AttemptFunc = func(a delivery.Attempt) { attempts = append(attempts, a) }
	})
	b.store.task.TraceParent = stored
	b.transport.err = errors.New("503")

	require.Equal(t, delivery.Ack, b.worker.Handle(context.Background(), msg()))
	require.Len(t, b.transport.reqs, 1)
	require.Equal(t, traced, b.transport.reqs[0].Headers["traceparent"])
	require.Len(t, ended, 1)
	require.ErrorContains(t, ended[0], "503")

	b.store.task.Attempts = 1 // the breaker is open now: the next attempt sends nothing
	m := msg()
	m.Attempt = 1
	require.Equal(t, delivery.Ack, b.worker.Handle(context.Background(), m))
	require.Len(t, b.transport.reqs, 1)
	require.Len(t, attempts, 2)
	require.Equal(t, delivery.Attempt{Authority: "00000001", Status: schemas.StatusQueued, Duration: attempts[0].Duration}, attempts[0])
	require.True(t, attempts[1].CircuitOpen)
	require.Equal(t, schemas.StatusQueued, attempts[1].Status)

	plain := setup(t, 8)
	plain.store.task.TraceParent = stored
	require.Equal(t, delivery.Ack, plain.worker.Handle(context.Background(), msg()))
	require.Equal(t, stored, plain.transport.reqs[0].Headers["traceparent"])
}
