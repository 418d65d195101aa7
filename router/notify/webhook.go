package notify

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"go.uber.org/zap"

	"appealhub/adapters"
	"appealhub/adapters/httppush"
	"appealhub/internal/clock"
	"appealhub/router/delivery"
	"appealhub/schemas"
)

// Store is the webhook worker's view of the database.
type Store interface {
	WebhookTask(ctx context.Context, id int64) (schemas.WebhookTask, error)
	RecordWebhook(ctx context.Context, o schemas.WebhookOutcome) (applied bool, err error)
}

// WorkerConfig configures the webhook worker. Its retry policy and breaker are the delivery
// worker's (router/delivery), and so are their defaults.
type WorkerConfig struct {
	// RequestTimeout bounds one POST. Defaults to delivery.DefaultRequestTimeout (30s).
	RequestTimeout time.Duration
	// MaxAttempts is the number of attempts before a notification is dead. Defaults to
	// delivery.DefaultMaxAttempts (8).
	MaxAttempts int
	// BackoffBase, BackoffMax and BackoffJitter shape the wait before each retry (delivery.Backoff).
	// Default to 2s, 1h and 0.2.
	BackoffBase   time.Duration
	BackoffMax    time.Duration
	BackoffJitter float64
	// BreakerFailures and BreakerCooldown configure each client's breaker (delivery.Breaker).
	// Default to 5 and 30s.
	BreakerFailures int
	BreakerCooldown time.Duration
	// Clock defaults to the real clock.
	Clock clock.Clock
	// RecordedFunc, when set, is called after an attempt was recorded (to wake the relay: the next
	// notification of the stream may go, or a retry was scheduled). It must not block.
	RecordedFunc func()
}

// Message is what the worker reads of a message of a webhook client's queue: the notification
// and the attempts made before this one.
type Message struct {
	ID      int64
	Attempt int
}

// Worker POSTs notifications to the webhooks of portal clients: for each message of a webhook
// client's queue it reads the notification, signs and POSTs it, and records the outcome before the
// message is acknowledged. A transient failure schedules a retry through the notification outbox
// (delivery.Backoff) and acknowledges at once; a permanent one (a 3xx or 4xx other than 408 and
// 429), or a failure of the last attempt, ends the notification dead until redriven. Each client
// has its own circuit breaker in this process: while it is open the worker does not call the
// webhook and schedules the attempt after the cool-down (never dead for that). It is safe for
// concurrent use.
type Worker struct {
	cfg       WorkerConfig
	store     Store
	secrets   *SecretBox
	transport adapters.Transport
	logger    *zap.Logger

	mu       sync.Mutex
	breakers map[string]*delivery.Breaker
}

// NewWorker returns a Worker that opens secrets with box and POSTs with transport.
func NewWorker(cfg WorkerConfig, st Store, box *SecretBox, transport adapters.Transport, logger *zap.Logger) *Worker {
	if logger == nil {
		logger = zap.NewNop()
	}
	cfg.RequestTimeout = cmp.Or(max(cfg.RequestTimeout, 0), delivery.DefaultRequestTimeout)
	cfg.MaxAttempts = cmp.Or(max(cfg.MaxAttempts, 0), delivery.DefaultMaxAttempts)
	cfg.BackoffBase = cmp.Or(max(cfg.BackoffBase, 0), delivery.DefaultBackoffBase)
	cfg.BackoffMax = cmp.Or(max(cfg.BackoffMax, 0), delivery.DefaultBackoffMax)
	if cfg.BackoffJitter < 0 || cfg.BackoffJitter > 1 {
		cfg.BackoffJitter = delivery.DefaultBackoffJitter
	}
	cfg.Clock = clock.OrReal(cfg.Clock)
	return &Worker{cfg: cfg, store: st, secrets: box, transport: transport, logger: logger.Named("webhook"),
		breakers: map[string]*delivery.Breaker{}}
}

// breaker returns the breaker of client, creating it (closed) on first use.
func (w *Worker) breaker(client string) *delivery.Breaker {
	w.mu.Lock()
	defer w.mu.Unlock()
	b, ok := w.breakers[client]
	if !ok {
		b = delivery.NewBreaker(w.cfg.BreakerFailures, w.cfg.BreakerCooldown, w.cfg.Clock)
		w.breakers[client] = b
	}
	return b
}

// Breaker returns the state of client's breaker in this process.
func (w *Worker) Breaker(client string) delivery.BreakerSnapshot { return w.breaker(client).Snapshot() }

// Handle makes the attempt a message asks for and records it. ctx is cancelled on hard shutdown.
func (w *Worker) Handle(ctx context.Context, msg Message) delivery.Outcome {
	log := w.logger.With(zap.Int64("notification_id", msg.ID))
	if msg.ID <= 0 {
		log.Warn("message without a notification id: dead-lettered")
		return delivery.Reject
	}
	var task schemas.WebhookTask
	err := w.untilDone(ctx, func() (err error) {
		task, err = w.store.WebhookTask(ctx, msg.ID)
		if errors.Is(err, schemas.ErrNotFound) {
			return backoff.Permanent(err)
		}
		return err
	})
	switch {
	case errors.Is(err, schemas.ErrNotFound):
		log.Warn("message for an unknown notification: dead-lettered")
		return delivery.Reject
	case err != nil:
		return delivery.Requeue
	case (task.Status != schemas.NotificationPublished && task.Status != schemas.NotificationPending) || task.Attempts != msg.Attempt:
		// Pending with the same attempts: the message outran the commit of the relay that published it.
		log.Debug("stale message: attempt already recorded", zap.Int("attempt", msg.Attempt+1), zap.Int("attempts", task.Attempts))
		return delivery.Ack
	}
	log = log.With(zap.String("client_id", task.Client), zap.Int64("event_id", task.EventID))

	out := w.attempt(ctx, task)
	if ctx.Err() != nil && out.Status != schemas.NotificationDelivered {
		return delivery.Requeue // cut short by shutdown: the same attempt again, in the next process
	}
	var applied bool
	if err := w.untilDone(ctx, func() (err error) {
		applied, err = w.store.RecordWebhook(context.WithoutCancel(ctx), out)
		return err
	}); err != nil {
		return delivery.Requeue
	}
	fields := []zap.Field{zap.Int("attempt", out.Attempt), zap.String("status", string(out.Status))}
	switch {
	case !applied:
		log.Debug("attempt recorded by another worker", fields...)
		return delivery.Ack
	case out.Status == schemas.NotificationDead:
		log.Warn("notification dead", append(fields, zap.String("error", out.Error))...)
	case out.Status == schemas.NotificationPending:
		log.Info("webhook attempt failed; retry scheduled", append(fields, zap.String("error", out.Error),
			zap.Time("next_attempt_at", out.NextAttemptAt))...)
	default:
		log.Debug("notification delivered", fields...)
	}
	if w.cfg.RecordedFunc != nil {
		w.cfg.RecordedFunc()
	}
	return delivery.Ack
}

// attempt POSTs the notification once (unless its client no longer takes webhooks) and says what
// to record.
func (w *Worker) attempt(ctx context.Context, task schemas.WebhookTask) schemas.WebhookOutcome {
	out := schemas.WebhookOutcome{ID: task.ID, Attempt: task.Attempts + 1}
	if task.Mode != schemas.NotifyWebhook {
		// The client moved to its queue: publish the notification there.
		out.At = w.cfg.Clock.Now().UTC()
		out.Status, out.NextAttemptAt, out.Error = schemas.NotificationPending, out.At, "the client no longer takes webhooks"
		return out
	}
	err := w.post(ctx, task)
	out.At = w.cfg.Clock.Now().UTC()
	if err == nil {
		out.Status = schemas.NotificationDelivered
		return out
	}
	out.Error = describe(err)
	wait := delivery.Backoff(out.Attempt, w.cfg.BackoffBase, w.cfg.BackoffMax, w.cfg.BackoffJitter, rand.Float64())
	open, circuitOpen := errors.AsType[*CircuitOpenError](err)
	switch {
	case circuitOpen:
		// Not a POST: never the last attempt.
		out.Status = schemas.NotificationPending
		out.NextAttemptAt = out.At.Add(wait)
		if retry := open.RetryAt.Add(time.Duration(rand.Float64() * float64(w.cfg.BackoffBase))); retry.After(out.NextAttemptAt) {
			out.NextAttemptAt = retry
		}
	case adapters.IsPermanent(err):
		out.Status, out.Error = schemas.NotificationDead, "permanent: "+out.Error
	case out.Attempt >= w.cfg.MaxAttempts:
		out.Status, out.Error = schemas.NotificationDead, fmt.Sprintf("gave up after %d attempts: %s", out.Attempt, out.Error)
	default:
		out.Status, out.NextAttemptAt = schemas.NotificationPending, out.At.Add(wait)
	}
	return out
}

// post signs and POSTs the notification through its client's breaker.
func (w *Worker) post(ctx context.Context, task schemas.WebhookTask) error {
	secret, err := w.secrets.Open(task.Client, task.SealedSecret)
	if err != nil {
		return err // the hub's configuration: retried, and never counted against the client's webhook
	}
	permit, retryAt, ok := w.breaker(task.Client).Allow()
	if !ok {
		return &CircuitOpenError{Client: task.Client, RetryAt: retryAt}
	}
	ts := strconv.FormatInt(w.cfg.Clock.Now().Unix(), 10)
	eventID := strconv.FormatInt(task.EventID, 10)
	sendCtx, cancel := context.WithTimeout(ctx, w.cfg.RequestTimeout)
	defer cancel()
	_, err = w.transport.Send(sendCtx, adapters.Request{Endpoint: task.URL, DeliveryID: eventID, MediaType: "application/json",
		Body: task.Payload, Headers: map[string]string{HeaderTimestamp: ts, HeaderSignature: Sign(secret, ts, task.Payload),
			HeaderEventID: eventID}})
	switch {
	case err == nil || adapters.IsPermanent(err):
		permit.Done(delivery.Success)
	case ctx.Err() != nil:
		permit.Done(delivery.Ignored)
	default:
		permit.Done(delivery.Failure)
	}
	return err
}

// CircuitOpenError is the failure of an attempt the client's breaker did not let through: its
// webhook was not called.
type CircuitOpenError struct {
	Client string
	// RetryAt is the earliest time the breaker lets a POST through.
	RetryAt time.Time
}

func (e *CircuitOpenError) Error() string {
	return fmt.Sprintf("circuit open: the webhook of %s is failing; not called until %s", e.Client,
		e.RetryAt.UTC().Format(time.RFC3339))
}

// describe says what went wrong with a POST, for operators (never the answer's body).
func describe(err error) string {
	if se, ok := errors.AsType[*httppush.StatusError](err); ok {
		return fmt.Sprintf("the webhook answered %d %s", se.Status, http.StatusText(se.Status))
	}
	return err.Error()
}

// untilDone runs op until it succeeds, fails permanently or ctx is done, backing off between
// failures (the database may be restarting); it returns the last error when it gives up.
func (w *Worker) untilDone(ctx context.Context, op func() error) error {
	_, err := backoff.Retry(ctx, func() (struct{}, error) { return struct{}{}, op() },
		backoff.WithBackOff(&backoff.ExponentialBackOff{InitialInterval: 100 * time.Millisecond, RandomizationFactor: 0.5,
			Multiplier: 2, MaxInterval: 5 * time.Second}),
		backoff.WithMaxElapsedTime(0),
		backoff.WithNotify(func(err error, _ time.Duration) { w.logger.Warn("database unavailable; retrying", zap.Error(err)) }))
	return err
}
