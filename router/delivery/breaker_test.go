package delivery_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/adapters"
	"appealhub/internal/clock"
	"appealhub/router/delivery"
	"appealhub/schemas"
)

func allow(t *testing.T, b *delivery.Breaker) delivery.Permit {
	t.Helper()
	p, _, ok := b.Allow()
	require.True(t, ok, "the breaker lets the send through")
	return p
}

func TestBreakerOpensAfterConsecutiveFailuresAndProbes(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	clk := clock.NewStub(start)
	b := delivery.NewBreaker(3, 30*time.Second, clk)

	// A success in between resets the count.
	allow(t, b).Done(delivery.Failure)
	allow(t, b).Done(delivery.Failure)
	allow(t, b).Done(delivery.Success)
	require.Equal(t, delivery.BreakerSnapshot{State: delivery.BreakerClosed}, b.Snapshot())

	// Permanent refusals count as the system answering; shutdown says nothing.
	allow(t, b).Done(delivery.Failure)
	allow(t, b).Done(delivery.Ignored)
	allow(t, b).Done(delivery.Failure)
	require.Equal(t, 2, b.Snapshot().ConsecutiveFailures)
	late := allow(t, b) // let through while closed, answers after the breaker opened
	allow(t, b).Done(delivery.Failure)
	require.Equal(t, delivery.BreakerSnapshot{State: delivery.BreakerOpen, ConsecutiveFailures: 3, OpenedAt: start,
		RetryAt: start.Add(30 * time.Second)}, b.Snapshot())
	late.Done(delivery.Success)
	require.Equal(t, delivery.BreakerOpen, b.Snapshot().State, "a result from before the breaker opened is ignored")

	_, retryAt, ok := b.Allow()
	require.False(t, ok)
	require.Equal(t, start.Add(30*time.Second), retryAt)

	// Cool-down over: half-open, one probe at a time.
	clk.Advance(30 * time.Second)
	require.Equal(t, delivery.BreakerHalfOpen, b.Snapshot().State)
	probe := allow(t, b)
	_, _, ok = b.Allow()
	require.False(t, ok, "only one probe at a time")
	probe.Done(delivery.Failure)
	snap := b.Snapshot()
	require.Equal(t, delivery.BreakerOpen, snap.State, "a failed probe opens the breaker again")
	require.Equal(t, start.Add(30*time.Second), snap.OpenedAt)
	require.Equal(t, 4, snap.ConsecutiveFailures)

	clk.Advance(29 * time.Second)
	_, _, ok = b.Allow()
	require.False(t, ok, "a new cool-down")
	clk.Advance(time.Second)
	allow(t, b).Done(delivery.Ignored) // a probe cut short by shutdown frees the slot
	require.Equal(t, delivery.BreakerHalfOpen, b.Snapshot().State)
	allow(t, b).Done(delivery.Success)
	require.Equal(t, delivery.BreakerSnapshot{State: delivery.BreakerClosed}, b.Snapshot(), "a successful probe closes it")
	allow(t, b).Done(delivery.Success)
}

func TestBreakerDefaults(t *testing.T) {
	t.Parallel()
	clk := clock.NewStub(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))
	b := delivery.NewBreaker(0, 0, clk)
	for range delivery.DefaultBreakerFailures - 1 {
		allow(t, b).Done(delivery.Failure)
	}
	require.Equal(t, delivery.BreakerClosed, b.Snapshot().State)
	allow(t, b).Done(delivery.Failure)
	require.Equal(t, delivery.BreakerOpen, b.Snapshot().State)
	clk.Advance(delivery.DefaultBreakerCooldown)
	require.Equal(t, delivery.BreakerHalfOpen, b.Snapshot().State)
}

// TestWorkerBreaker: transient failures open the authority's breaker; while it is open the worker
// does not call the system, records "circuit open" and reschedules for the end of the cool-down,
// never as the last attempt; permanent refusals do not count; other authorities are unaffected.
func TestWorkerBreaker(t *testing.T) {
	t.Parallel()
	b := setupWith(t, 3, func(c *delivery.Config) { c.BreakerFailures, c.BreakerCooldown = 2, time.Minute })
	clk := b.clock

	b.transport.err = adapters.Permanent(errors.New("422"))
	for range 3 {
		require.Equal(t, delivery.Ack, b.worker.Handle(context.Background(), msg()))
	}
	require.Equal(t, delivery.BreakerClosed, b.worker.AuthorityStatus("00000001").Breaker.State, "4xx do not trip it")

	b.transport.err = errors.New("post delivery d1: 503")
	require.Equal(t, delivery.Ack, b.worker.Handle(context.Background(), msg()))
	require.Equal(t, delivery.Ack, b.worker.Handle(context.Background(), msg()))
	st := b.worker.AuthorityStatus("00000001")
	require.Equal(t, delivery.BreakerOpen, st.Breaker.State)
	require.Equal(t, 2, st.Breaker.ConsecutiveFailures)
	require.Equal(t, 0, st.InFlight)
	sent := len(b.transport.reqs)

	// Open: the last attempt (2 of max 3 recorded) is not sent, not dead, and waits for the cool-down.
	b.store.outcomes = nil
	b.store.task.Attempts = 2
	m := msg()
	m.Attempt = 2
	require.Equal(t, delivery.Ack, b.worker.Handle(context.Background(), m))
	require.Len(t, b.transport.reqs, sent, "the system is not called while the breaker is open")
	require.Len(t, b.store.outcomes, 1)
	o := b.store.outcomes[0]
	require.Equal(t, schemas.StatusQueued, o.Status)
	require.Equal(t, 3, o.Attempt)
	require.Contains(t, o.Error, "circuit open")
	require.False(t, o.NextAttemptAt.Before(b.now.Add(time.Minute)), "not before the breaker may half-open")
	require.True(t, o.NextAttemptAt.Before(b.now.Add(time.Minute+2*time.Second)), "spread by at most one backoff base")

	// Another authority has a breaker of its own.
	require.Equal(t, delivery.BreakerClosed, b.worker.AuthorityStatus("00000002").Breaker.State)

	// After the cool-down a probe goes through; its success closes the breaker.
	clk.Advance(time.Minute)
	b.store.outcomes = nil
	b.transport.err = nil
	b.transport.resp = adapters.Response{Status: 202}
	b.store.task.Attempts = 3
	m.Attempt = 3
	require.Equal(t, delivery.Ack, b.worker.Handle(context.Background(), m))
	require.Len(t, b.transport.reqs, sent+1)
	require.Equal(t, schemas.StatusSent, b.store.outcomes[0].Status)
	require.Equal(t, delivery.BreakerClosed, b.worker.AuthorityStatus("00000001").Breaker.State)
}

// TestWorkerRequestTimeoutPerAuthority: the authority's own request timeout bounds the send; a
// send that gets no answer in time is a transient failure that counts toward the breaker.
func TestWorkerRequestTimeoutPerAuthority(t *testing.T) {
	t.Parallel()
	b := setupWith(t, 8, func(c *delivery.Config) { c.RequestTimeout, c.BreakerFailures = time.Hour, 1 })
	b.store.task.RequestTimeout = 20 * time.Millisecond
	b.transport.block = true
	require.Equal(t, delivery.Ack, b.worker.Handle(context.Background(), msg()))
	require.Len(t, b.store.outcomes, 1)
	require.Equal(t, schemas.StatusQueued, b.store.outcomes[0].Status)
	require.Contains(t, b.store.outcomes[0].Error, "no answer within 20ms")
	require.Equal(t, delivery.BreakerOpen, b.worker.AuthorityStatus("00000001").Breaker.State)
}
