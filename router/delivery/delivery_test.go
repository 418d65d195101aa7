package delivery_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"appealhub/adapters"
	"appealhub/adapters/jsondoc"
	"appealhub/internal/clock"
	"appealhub/router/delivery"
	"appealhub/schemas"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type fakeStore struct {
	mu       sync.Mutex
	task     schemas.DeliveryTask
	outcomes []schemas.DeliveryOutcome
	readErr  error
}

func (f *fakeStore) DeliveryTask(context.Context, string) (schemas.DeliveryTask, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.task, f.readErr
}

func (f *fakeStore) InboxPut(context.Context, string, time.Time) (bool, error) { return true, nil }

func (f *fakeStore) RecordOutcome(_ context.Context, o schemas.DeliveryOutcome) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.outcomes = append(f.outcomes, o)
	return true, nil
}

type fakeTransport struct {
	resp  adapters.Response
	err   error
	block bool // wait for ctx, as a system that never answers
	reqs  []adapters.Request
}

func (f *fakeTransport) Send(ctx context.Context, r adapters.Request) (adapters.Response, error) {
	f.reqs = append(f.reqs, r)
	if f.block {
		<-ctx.Done()
		return adapters.Response{}, ctx.Err()
	}
	return f.resp, f.err
}

type bundle struct {
	store     *fakeStore
	transport *fakeTransport
	worker    *delivery.Worker
	clock     *clock.Stub
	now       time.Time
}

func setup(t *testing.T, maxAttempts int) *bundle {
	t.Helper()
	return setupWith(t, maxAttempts, nil)
}

// setupWith is setup with the worker's configuration adjusted by configure (may be nil).
func setupWith(t *testing.T, maxAttempts int, configure func(*delivery.Config)) *bundle {
	t.Helper()
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	st := &fakeStore{task: schemas.DeliveryTask{DeliveryID: "d1", AppealID: "a1", TrackingNumber: "ZV-2026-00000001",
		Authority: "00000001", Status: schemas.StatusQueued, ReceivedAt: now, Body: []byte(`{"case_kind":"appeal"}`),
		AuthorityStatus: "active", Adapter: "json", Endpoint: "http://sys.example/documents", Token: "t"}}
	tr := &fakeTransport{}
	reg := adapters.NewRegistry()
	reg.MustRegister(jsondoc.New())
	clk := clock.NewStub(now)
	cfg := delivery.Config{MaxAttempts: maxAttempts, BackoffBase: time.Second, BackoffMax: time.Minute,
		BackoffJitter: 0.2, Clock: clk}
	if configure != nil {
		configure(&cfg)
	}
	w := delivery.New(cfg, st, reg, tr, zaptest.NewLogger(t))
	return &bundle{store: st, transport: tr, worker: w, clock: clk, now: now}
}

func msg() schemas.DeliveryMessage {
	return schemas.DeliveryMessage{DeliveryID: "d1", Authority: "00000001", Attempt: 0}
}

func TestHandleOutcomes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		resp      adapters.Response
		err       error
		attempts  int
		max       int
		want      schemas.DeliveryStatus
		wantRetry bool
	}{
		{name: "receipt means delivered", resp: adapters.Response{Status: 201, MediaType: "application/json", Body: []byte(`{"status":"delivered"}`)}, want: schemas.StatusDelivered},
		{name: "no receipt means sent", resp: adapters.Response{Status: 202}, want: schemas.StatusSent},
		{name: "transient failure schedules a retry", err: errors.New("503"), want: schemas.StatusQueued, wantRetry: true},
		{name: "permanent failure is dead", err: adapters.Permanent(errors.New("422")), want: schemas.StatusDead},
		{name: "last attempt is dead", err: errors.New("503"), attempts: 2, max: 3, want: schemas.StatusDead},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, cmpOr(tc.max, 8))
			b.transport.resp, b.transport.err = tc.resp, tc.err
			b.store.task.Attempts = tc.attempts
			m := msg()
			m.Attempt = tc.attempts
			require.Equal(t, delivery.Ack, b.worker.Handle(context.Background(), m))
			require.Len(t, b.store.outcomes, 1)
			o := b.store.outcomes[0]
			require.Equal(t, tc.want, o.Status)
			require.Equal(t, tc.attempts+1, o.Attempt)
			if tc.wantRetry {
				require.True(t, o.NextAttemptAt.After(b.now))
			}
			require.Len(t, b.transport.reqs, 1)
			require.Equal(t, "d1", b.transport.reqs[0].DeliveryID, "the delivery id is the idempotency key")
		})
	}
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

func TestHandleStaleMessageSendsNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, 8)
	b.store.task.Attempts = 2 // attempts 1 and 2 are recorded; a copy of the first message arrives late
	require.Equal(t, delivery.Ack, b.worker.Handle(context.Background(), msg()))
	b.store.task.Status = schemas.StatusDelivered
	b.store.task.Attempts = 0
	require.Equal(t, delivery.Ack, b.worker.Handle(context.Background(), msg()))
	require.Empty(t, b.transport.reqs)
	require.Empty(t, b.store.outcomes)
}

func TestHandleUnknownDeliveryIsRejected(t *testing.T) {
	t.Parallel()
	b := setup(t, 8)
	b.store.readErr = schemas.ErrNotFound
	b.store.task = schemas.DeliveryTask{}
	require.Equal(t, delivery.Reject, b.worker.Handle(context.Background(), msg()))
	require.Equal(t, delivery.Reject, b.worker.Handle(context.Background(), schemas.DeliveryMessage{}))
}

func TestHandleRequeuesWhenDatabaseStaysDown(t *testing.T) {
	t.Parallel()
	b := setup(t, 8)
	b.store.readErr = errors.New("connection refused")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	require.Equal(t, delivery.Requeue, b.worker.Handle(ctx, msg()))
	require.Empty(t, b.transport.reqs)
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	t.Parallel()
	prev := time.Duration(0)
	for n := 1; n <= 10; n++ {
		d := delivery.Backoff(n, time.Second, time.Minute, 0, 0.5)
		require.GreaterOrEqual(t, d, prev, "non-decreasing without jitter")
		require.LessOrEqual(t, d, time.Minute)
		prev = d
	}
	require.Equal(t, 4*time.Second, delivery.Backoff(3, time.Second, time.Minute, 0, 0.5))
	require.Equal(t, time.Duration(float64(4*time.Second)*0.8), delivery.Backoff(3, time.Second, time.Minute, 0.2, 0))
	require.Equal(t, time.Minute, delivery.Backoff(40, time.Second, time.Minute, 0, 0.5))
}
