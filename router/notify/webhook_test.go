package notify_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"appealhub/adapters/httppush"
	"appealhub/internal/clock"
	"appealhub/router/delivery"
	"appealhub/router/notify"
	"appealhub/schemas"
)

// fakeWebhookStore holds one notification and applies outcomes as the store does: only to a
// published notification, and only for the next attempt.
type fakeWebhookStore struct {
	mu       sync.Mutex
	task     schemas.WebhookTask
	outcomes []schemas.WebhookOutcome
	readErr  error
}

func (f *fakeWebhookStore) WebhookTask(_ context.Context, id int64) (schemas.WebhookTask, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.readErr != nil {
		return schemas.WebhookTask{}, f.readErr
	}
	if id != f.task.ID {
		return schemas.WebhookTask{}, schemas.ErrNotFound
	}
	return f.task, nil
}

func (f *fakeWebhookStore) RecordWebhook(_ context.Context, o schemas.WebhookOutcome) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if (f.task.Status != schemas.NotificationPublished && f.task.Status != schemas.NotificationPending) || f.task.Attempts != o.Attempt-1 {
		return false, nil
	}
	f.outcomes = append(f.outcomes, o)
	f.task.Status, f.task.Attempts = o.Status, o.Attempt
	return true, nil
}

// republish is what the relay does with a pending notification.
func (f *fakeWebhookStore) republish() notify.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.task.Status = schemas.NotificationPublished
	return notify.Message{ID: f.task.ID, Attempt: f.task.Attempts}
}

func (f *fakeWebhookStore) last() schemas.WebhookOutcome {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.outcomes[len(f.outcomes)-1]
}

// receiver is a portal's webhook endpoint: it verifies every request as docs/notifications.md
// says, and answers with the statuses it is given, then 204.
type receiver struct {
	t       *testing.T
	secret  []byte
	now     func() time.Time
	srv     *httptest.Server
	mu      sync.Mutex
	answers []int
	got     []string // bodies of verified requests
	bad     int      // requests that failed verification
}

func newReceiver(t *testing.T, secret string, now func() time.Time, answers ...int) *receiver {
	t.Helper()
	r := &receiver{t: t, secret: []byte(secret), now: now, answers: answers}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		err := notify.Verify(r.secret, req.Header.Get(notify.HeaderTimestamp), req.Header.Get(notify.HeaderSignature), body,
			r.now(), notify.DefaultTolerance)
		r.mu.Lock()
		defer r.mu.Unlock()
		if err != nil || req.Header.Get("Content-Type") != "application/json" || req.Header.Get(notify.HeaderEventID) != "42" ||
			req.Header.Get("Idempotency-Key") != "42" {
			r.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		r.got = append(r.got, string(body))
		status := http.StatusNoContent
		if len(r.answers) > 0 {
			status, r.answers = r.answers[0], r.answers[1:]
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) counts() (verified, bad int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got), r.bad
}

type webhookBundle struct {
	store  *fakeWebhookStore
	rcv    *receiver
	worker *notify.Worker
	clock  *clock.Stub
	woken  int
}

// setupWebhook makes a worker (4 attempts; the breaker opens after breakerFailures failures) and a
// receiver that knows secretForReceiver ("": the client's secret) and answers answers.
func setupWebhook(t *testing.T, breakerFailures int, secretForReceiver string, answers ...int) *webhookBundle {
	t.Helper()
	c := clock.NewStub(time.Now().UTC().Truncate(time.Second))
	box, err := notify.NewSecretBox(make([]byte, 32))
	require.NoError(t, err)
	secret := notify.NewSecret()
	if secretForReceiver == "" {
		secretForReceiver = secret
	}
	sealed, err := box.Seal("portal", []byte(secret))
	require.NoError(t, err)
	b := &webhookBundle{clock: c}
	b.rcv = newReceiver(t, secretForReceiver, c.Now, answers...)
	b.store = &fakeWebhookStore{task: schemas.WebhookTask{ID: 5, Client: "portal", EventID: 42, Status: schemas.NotificationPublished,
		Mode: schemas.NotifyWebhook, URL: b.rcv.srv.URL + "/hook", SealedSecret: sealed, Payload: []byte(`{"event_id":42}`)}}
	transport := httppush.New(httppush.Config{Timeout: 5 * time.Second})
	t.Cleanup(func() { _ = transport.Close() })
	b.worker = notify.NewWorker(notify.WorkerConfig{MaxAttempts: 4, BackoffBase: time.Second, BackoffMax: time.Minute,
		BreakerFailures: breakerFailures, BreakerCooldown: time.Minute, Clock: c, RecordedFunc: func() { b.woken++ }},
		b.store, box, transport, zaptest.NewLogger(t))
	return b
}

func TestWebhookSignedAndDelivered(t *testing.T) {
	t.Parallel()
	b := setupWebhook(t, 10, "")
	require.Equal(t, delivery.Ack, b.worker.Handle(t.Context(), notify.Message{ID: 5}))
	require.Equal(t, schemas.NotificationDelivered, b.store.last().Status)
	verified, bad := b.rcv.counts()
	require.Equal(t, 1, verified)
	require.Zero(t, bad)
	require.Equal(t, 1, b.woken)

	// The same message again is stale: no second POST.
	require.Equal(t, delivery.Ack, b.worker.Handle(t.Context(), notify.Message{ID: 5}))
	verified, _ = b.rcv.counts()
	require.Equal(t, 1, verified)
}

func TestWebhookRetriesOn503ThenSucceeds(t *testing.T) {
	t.Parallel()
	b := setupWebhook(t, 10, "", http.StatusServiceUnavailable)
	require.Equal(t, delivery.Ack, b.worker.Handle(t.Context(), notify.Message{ID: 5}))
	first := b.store.last()
	require.Equal(t, schemas.NotificationPending, first.Status)
	require.Equal(t, "the webhook answered 503 Service Unavailable", first.Error)
	require.WithinDuration(t, b.clock.Now().Add(time.Second), first.NextAttemptAt, 300*time.Millisecond, "backoff base, ±20%")

	require.Equal(t, delivery.Ack, b.worker.Handle(t.Context(), b.store.republish()))
	require.Equal(t, schemas.NotificationDelivered, b.store.last().Status)
	require.Equal(t, 2, b.store.last().Attempt)
	verified, bad := b.rcv.counts()
	require.Equal(t, 2, verified)
	require.Zero(t, bad)
}

func TestWebhookDeadAfterTheLastAttempt(t *testing.T) {
	t.Parallel()
	b := setupWebhook(t, 10, "", http.StatusBadGateway, http.StatusBadGateway, http.StatusBadGateway, http.StatusBadGateway)
	msg := notify.Message{ID: 5}
	for range 3 {
		require.Equal(t, delivery.Ack, b.worker.Handle(t.Context(), msg))
		require.Equal(t, schemas.NotificationPending, b.store.last().Status)
		msg = b.store.republish()
	}
	require.Equal(t, delivery.Ack, b.worker.Handle(t.Context(), msg))
	dead := b.store.last()
	require.Equal(t, schemas.NotificationDead, dead.Status)
	require.Equal(t, "gave up after 4 attempts: the webhook answered 502 Bad Gateway", dead.Error)
}

func TestWebhookPermanentRefusalIsDeadAtOnce(t *testing.T) {
	t.Parallel()
	b := setupWebhook(t, 10, "not-the-secret") // the receiver answers 401 to a signature it cannot verify
	require.Equal(t, delivery.Ack, b.worker.Handle(t.Context(), notify.Message{ID: 5}))
	require.Equal(t, schemas.NotificationDead, b.store.last().Status)
	require.Equal(t, "permanent: the webhook answered 401 Unauthorized", b.store.last().Error)
	_, bad := b.rcv.counts()
	require.Equal(t, 1, bad)
}

// TestWebhookBreakerOpenPostponesWithoutDying: after BreakerFailures failures the client's
// webhook is not called; the attempt is scheduled after the cool-down and never ends dead.
func TestWebhookBreakerOpenPostponesWithoutDying(t *testing.T) {
	t.Parallel()
	b := setupWebhook(t, 3, "", http.StatusServiceUnavailable, http.StatusServiceUnavailable, http.StatusServiceUnavailable)
	msg := notify.Message{ID: 5}
	for range 3 {
		require.Equal(t, delivery.Ack, b.worker.Handle(t.Context(), msg))
		msg = b.store.republish()
	}
	require.Equal(t, delivery.BreakerOpen, b.worker.Breaker("portal").State)
	require.Equal(t, delivery.Ack, b.worker.Handle(t.Context(), msg))
	out := b.store.last()
	require.Equal(t, schemas.NotificationPending, out.Status, "attempt 4 of 4, but not a POST: not dead")
	require.Contains(t, out.Error, "circuit open")
	require.False(t, out.NextAttemptAt.Before(b.clock.Now().Add(time.Minute)), "after the cool-down")
	verified, _ := b.rcv.counts()
	require.Equal(t, 3, verified, "the open breaker kept the webhook from being called")
}

func TestWebhookMessagesThatPostNothing(t *testing.T) {
	t.Parallel()
	b := setupWebhook(t, 10, "")
	require.Equal(t, delivery.Reject, b.worker.Handle(t.Context(), notify.Message{ID: 99}), "unknown notification")
	require.Equal(t, delivery.Reject, b.worker.Handle(t.Context(), notify.Message{}), "no id")
	require.Equal(t, delivery.Ack, b.worker.Handle(t.Context(), notify.Message{ID: 5, Attempt: 3}), "stale attempt")

	// A client that moved to its queue: the notification goes back to the relay, due now.
	b.store.task.Mode = schemas.NotifyAMQP
	require.Equal(t, delivery.Ack, b.worker.Handle(t.Context(), notify.Message{ID: 5}))
	out := b.store.last()
	require.Equal(t, schemas.NotificationPending, out.Status)
	require.Equal(t, b.clock.Now(), out.NextAttemptAt)
	verified, bad := b.rcv.counts()
	require.Zero(t, verified+bad)

	// The database down at shutdown: the message goes back to the queue.
	b.store.readErr = errors.New("connection refused")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	require.Equal(t, delivery.Requeue, b.worker.Handle(ctx, notify.Message{ID: 5}))
}
