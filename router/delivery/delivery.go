// Package delivery makes delivery attempts: for each message from an authority's queue it reads the
// stored delivery, encodes it with the authority's adapter, sends it with the transport, and records
// the outcome in one transaction before the message is acknowledged. A transient failure schedules a
// retry through the outbox (exponential backoff with jitter) and the message is acknowledged at
// once: the worker never holds a message while it waits. A permanent failure, or the last attempt,
// ends the delivery dead with its reason, for operators to see and redrive.
//
// # Isolation
//
// Each authority has its own request timeout (the registry's, else Config.RequestTimeout) and its
// own circuit breaker (see Breaker), kept in this process: every hub process has its own breakers.
// Its concurrency (parallel sends and prefetch) is the consumer's, set by the hub per authority.
// Transient failures of the authority's system (timeouts, connection errors, 408, 429, 5xx) count
// toward its breaker; permanent refusals (4xx) and failures of the hub's own (encoding, limits,
// shutdown) do not. While the breaker is open the worker does not call the system: it records the
// attempt as a transient failure "circuit open" and schedules the next one through the outbox, like
// any retry, for the later of its backoff and the end of the cool-down (spread by up to one
// BackoffBase), and acknowledges the message: nothing waits in memory and nothing is lost. Such an
// attempt counts in the delivery's attempt number, so its backoff keeps growing, but it never ends
// the delivery dead: a delivery is dead only after a real send failed on or after its last
// attempt, so it lives at least as long as its normal retry schedule.
package delivery

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"appealhub/adapters"
	"appealhub/internal/clock"
	"appealhub/schemas"
)

// Store is the worker's view of the database.
type Store interface {
	DeliveryTask(ctx context.Context, deliveryID string) (schemas.DeliveryTask, error)
	RecordOutcome(ctx context.Context, o schemas.DeliveryOutcome) (applied bool, err error)
	// InboxPut puts a pull-mode authority's delivery in its inbox, once.
	InboxPut(ctx context.Context, deliveryID string, at time.Time) (added bool, err error)
}

// Adapters finds an adapter by its registry name.
type Adapters interface {
	Get(name string) (adapters.Adapter, bool)
}

// Defaults.
const (
	DefaultRequestTimeout = 30 * time.Second
	DefaultMaxAttempts    = 8
	DefaultBackoffBase    = 2 * time.Second
	DefaultBackoffMax     = time.Hour
	DefaultBackoffJitter  = 0.2
)

// Config configures the worker.
type Config struct {
	// RequestTimeout bounds one send to an authority's system. Defaults to 30s.
	RequestTimeout time.Duration
	// MaxAttempts is the number of attempts before a delivery is dead. Defaults to 8.
	MaxAttempts int
	// BackoffBase is the wait after the first failed attempt; it doubles after each. Defaults to 2s.
	BackoffBase time.Duration
	// BackoffMax caps the wait. Defaults to 1h.
	BackoffMax time.Duration
	// BackoffJitter spreads each wait by ± this fraction. Defaults to 0.2.
	BackoffJitter float64
	// BreakerFailures is how many consecutive transient failures open an authority's breaker.
	// Defaults to 5.
	BreakerFailures int
	// BreakerCooldown is how long an open breaker waits before it lets a probe through. Defaults to 30s.
	BreakerCooldown time.Duration
	// Clock defaults to the real clock.
	Clock clock.Clock
	// TraceFunc, when set, begins the trace span of one send to an authority's system, as a child
	// of the span in ctx or else of the traceparent stored with the case. It returns the W3C
	// traceparent to send with the document and the func that ends the span with the send's
	// error. Defaults to none: the stored traceparent is sent as it is.
	TraceFunc func(ctx context.Context, task schemas.DeliveryTask) (traceParent string, end func(err error))
	// AttemptFunc, when set, is told of every attempt made to send a push delivery (for metrics),
	// before it is recorded. Defaults to none.
	AttemptFunc func(Attempt)
}

// Attempt describes one attempt to send a delivery, for AttemptFunc.
type Attempt struct {
	// Authority is the authority's code.
	Authority string
	// Status is what the attempt makes of the delivery: delivered, sent, queued (a retry is
	// scheduled) or dead.
	Status schemas.DeliveryStatus
	// CircuitOpen is true when the authority's breaker was open and no send was made.
	CircuitOpen bool
	// Duration is how long the attempt took (encoding and sending).
	Duration time.Duration
}

// Outcome tells the broker what to do with the message.
type Outcome int

const (
	// Ack: the attempt is recorded (or the message was stale); remove the message.
	Ack Outcome = iota
	// Requeue: nothing was recorded (shutting down, database unreachable); deliver the message again.
	Requeue
	// Reject: the message itself is unusable; dead-letter it.
	Reject
)

// Worker makes delivery attempts. It is safe for concurrent use.
type Worker struct {
	cfg       Config
	store     Store
	adapters  Adapters
	transport adapters.Transport
	logger    *zap.Logger

	mu          sync.Mutex
	authorities map[string]*authorityState
}

// authorityState is what the worker keeps per authority.
type authorityState struct {
	breaker  *Breaker
	inFlight atomic.Int64
}

// AuthorityStatus is what this process knows of one authority's sends.
type AuthorityStatus struct {
	Breaker BreakerSnapshot
	// InFlight counts the sends to the authority's system under way now.
	InFlight int
}

// New returns a Worker.
func New(cfg Config, st Store, reg Adapters, transport adapters.Transport, logger *zap.Logger) *Worker {
	if logger == nil {
		logger = zap.NewNop()
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.BackoffBase <= 0 {
		cfg.BackoffBase = DefaultBackoffBase
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = DefaultBackoffMax
	}
	if cfg.BackoffJitter < 0 || cfg.BackoffJitter > 1 {
		cfg.BackoffJitter = DefaultBackoffJitter
	}
	if cfg.BreakerFailures <= 0 {
		cfg.BreakerFailures = DefaultBreakerFailures
	}
	if cfg.BreakerCooldown <= 0 {
		cfg.BreakerCooldown = DefaultBreakerCooldown
	}
	cfg.Clock = clock.OrReal(cfg.Clock)
	return &Worker{cfg: cfg, store: st, adapters: reg, transport: transport, logger: logger.Named("delivery"),
		authorities: map[string]*authorityState{}}
}

// authority returns the state of code, creating it (breaker closed) on first use.
func (w *Worker) authority(code string) *authorityState {
	w.mu.Lock()
	defer w.mu.Unlock()
	a, ok := w.authorities[code]
	if !ok {
		a = &authorityState{breaker: NewBreaker(w.cfg.BreakerFailures, w.cfg.BreakerCooldown, w.cfg.Clock)}
		w.authorities[code] = a
	}
	return a
}

// AuthorityStatus returns the breaker and the sends in flight of the authority code in this
// process (a closed breaker and none for an authority it has not sent to).
func (w *Worker) AuthorityStatus(code string) AuthorityStatus {
	a := w.authority(code)
	return AuthorityStatus{Breaker: a.breaker.Snapshot(), InFlight: int(a.inFlight.Load())}
}

// Handle makes the attempt a message asks for and records it. ctx is cancelled on hard shutdown.
func (w *Worker) Handle(ctx context.Context, msg schemas.DeliveryMessage) Outcome {
	log := w.logger.With(zap.String("delivery_id", msg.DeliveryID), zap.String("authority", msg.Authority),
		zap.String("tracking_number", msg.TrackingNumber))
	if msg.DeliveryID == "" {
		log.Warn("message without a delivery id: dead-lettered")
		return Reject
	}
	var task schemas.DeliveryTask
	err := w.retryStore(ctx, func() (err error) {
		task, err = w.store.DeliveryTask(ctx, msg.DeliveryID)
		if errors.Is(err, schemas.ErrNotFound) {
			return nil
		}
		return err
	})
	switch {
	case err != nil:
		return Requeue
	case task.DeliveryID == "":
		log.Warn("message for an unknown delivery: dead-lettered")
		return Reject
	}
	if id := traceID(task.TraceParent); id != "" {
		log = log.With(zap.String("trace_id", id))
	}
	switch {
	case !task.Status.Pending() || task.Attempts != msg.Attempt:
		log.Debug("stale message: attempt already recorded", zap.Int("attempt", msg.Attempt+1), zap.Int("attempts", task.Attempts))
		return Ack
	}

	if task.Mode == schemas.ModePull {
		// The authority's system fetches its deliveries: leave this one in its inbox.
		if err := w.retryStore(ctx, func() error {
			added, err := w.store.InboxPut(context.WithoutCancel(ctx), task.DeliveryID, w.cfg.Clock.Now().UTC())
			if added {
				log.Info("delivery waiting in the inbox")
			}
			return err
		}); err != nil {
			return Requeue
		}
		return Ack
	}

	started := time.Now()
	outcome, circuitOpen := w.attempt(ctx, task)
	if ctx.Err() != nil && outcome.Status != schemas.StatusDelivered && outcome.Status != schemas.StatusSent {
		return Requeue // cut short by shutdown: try again in the next process, same attempt number
	}
	if w.cfg.AttemptFunc != nil {
		w.cfg.AttemptFunc(Attempt{Authority: task.Authority, Status: outcome.Status, CircuitOpen: circuitOpen,
			Duration: time.Since(started)})
	}
	var applied bool
	if err := w.retryStore(ctx, func() (err error) {
		applied, err = w.store.RecordOutcome(context.WithoutCancel(ctx), outcome)
		return err
	}); err != nil {
		return Requeue
	}
	fields := []zap.Field{zap.Int("attempt", outcome.Attempt), zap.String("status", string(outcome.Status))}
	switch {
	case !applied:
		log.Debug("attempt recorded by another worker", fields...)
	case outcome.Status == schemas.StatusDead:
		log.Warn("delivery dead", append(fields, zap.String("error", outcome.Error))...)
	case outcome.Status == schemas.StatusQueued:
		log.Info("delivery attempt failed; retry scheduled", append(fields, zap.String("error", outcome.Error),
			zap.Time("next_attempt_at", outcome.NextAttemptAt))...)
	default:
		log.Info("delivery sent", fields...)
	}
	return Ack
}

// attempt sends the delivery once and says what to record, and whether the breaker was open.
func (w *Worker) attempt(ctx context.Context, task schemas.DeliveryTask) (schemas.DeliveryOutcome, bool) {
	out := schemas.DeliveryOutcome{DeliveryID: task.DeliveryID, Attempt: task.Attempts + 1}
	reply, err := w.send(ctx, task, out.Attempt)
	out.At = w.cfg.Clock.Now().UTC()
	open, circuitOpen := errors.AsType[*CircuitOpenError](err)
	switch {
	case err == nil && reply.Delivered:
		out.Status = schemas.StatusDelivered
		out.Reference = reply.Reference
	case err == nil:
		out.Status = schemas.StatusSent
		out.Reference = reply.Reference
	case circuitOpen:
		// Not a send: never the last attempt (see the package documentation).
		out.Status = schemas.StatusQueued
		out.Error = err.Error()
		backoffAt := out.At.Add(Backoff(out.Attempt, w.cfg.BackoffBase, w.cfg.BackoffMax, w.cfg.BackoffJitter, rand.Float64()))
		out.NextAttemptAt = later(backoffAt, open.RetryAt.Add(time.Duration(rand.Float64()*float64(w.cfg.BackoffBase))))
	case adapters.IsPermanent(err):
		out.Status = schemas.StatusDead
		out.Error = "permanent: " + err.Error()
	case out.Attempt >= w.cfg.MaxAttempts:
		out.Status = schemas.StatusDead
		out.Error = fmt.Sprintf("gave up after %d attempts: %v", out.Attempt, err)
	default:
		out.Status = schemas.StatusQueued
		out.Error = err.Error()
		out.NextAttemptAt = out.At.Add(Backoff(out.Attempt, w.cfg.BackoffBase, w.cfg.BackoffMax, w.cfg.BackoffJitter, rand.Float64()))
	}
	return out, circuitOpen
}

func (w *Worker) send(ctx context.Context, task schemas.DeliveryTask, attempt int) (_ adapters.Reply, err error) {
	if task.AuthorityStatus != "active" {
		return adapters.Reply{}, fmt.Errorf("authority %s is %s", task.Authority, task.AuthorityStatus)
	}
	ad, ok := w.adapters.Get(task.Adapter)
	if !ok {
		return adapters.Reply{}, adapters.Permanent(fmt.Errorf("no adapter named %q", task.Adapter))
	}
	if task.Endpoint == "" {
		return adapters.Reply{}, adapters.Permanent(errors.New("authority has no endpoint"))
	}
	body, err := w.encodeGuarded(ad, task, attempt)
	if err != nil {
		return adapters.Reply{}, err
	}
	if task.MaxMessageBytes > 0 && int64(len(body)) > task.MaxMessageBytes {
		return adapters.Reply{}, adapters.Permanent(fmt.Errorf("the document is %d bytes; the authority's system takes at most %d",
			len(body), task.MaxMessageBytes))
	}
	req := adapters.Request{Endpoint: task.Endpoint, DeliveryID: task.DeliveryID, MediaType: ad.MediaType(),
		Body: body, Token: task.Token, TLSClient: task.TLSClient}
	traceParent := task.TraceParent
	if w.cfg.TraceFunc != nil {
		tp, end := w.cfg.TraceFunc(ctx, task)
		traceParent = cmp.Or(tp, traceParent)
		defer func() { end(err) }()
	}
	if traceParent != "" {
		req.Headers = map[string]string{"traceparent": traceParent}
	}
	resp, err := w.sendThroughBreaker(ctx, task, req)
	if err != nil {
		return adapters.Reply{}, err
	}
	reply, err := w.decodeReplyGuarded(ad, task.DeliveryID, resp)
	if err != nil {
		// The system took the document (2xx) but its answer is unreadable: it was sent, not confirmed.
		w.logger.Warn("unreadable reply from the authority's system", zap.String("delivery_id", task.DeliveryID), zap.Error(err))
		return adapters.Reply{}, nil
	}
	return reply, nil
}

// encodeGuarded is Encode with a panic of the adapter turned into a permanent error: a document
// that crashes the adapter does so on every attempt, so its delivery goes dead at once with the
// reason (an operator sees it and redrives it once the adapter is fixed) instead of the message
// being requeued until the broker dead-letters it while the delivery stays queued.
func (w *Worker) encodeGuarded(ad adapters.Adapter, task schemas.DeliveryTask, attempt int) (body []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			w.logAdapterPanic(task.DeliveryID, ad.Name(), "encode", p)
			err = adapters.Permanent(fmt.Errorf("the %s adapter failed on this document: %s", ad.Name(), panicText(p)))
		}
	}()
	return Encode(ad, task, attempt)
}

// decodeReplyGuarded is DecodeReply with a panic of the adapter turned into an error: the system
// took the document, so the delivery is sent, as with any reply the hub cannot read.
func (w *Worker) decodeReplyGuarded(ad adapters.Adapter, deliveryID string, resp adapters.Response) (reply adapters.Reply, err error) {
	defer func() {
		if p := recover(); p != nil {
			w.logAdapterPanic(deliveryID, ad.Name(), "decode reply", p)
			reply, err = adapters.Reply{}, fmt.Errorf("the %s adapter failed on the reply: %s", ad.Name(), panicText(p))
		}
	}()
	return ad.DecodeReply(resp.MediaType, resp.Body)
}

func (w *Worker) logAdapterPanic(deliveryID, adapter, step string, p any) {
	w.logger.Error("adapter panicked", zap.String("delivery_id", deliveryID), zap.String("adapter", adapter),
		zap.String("step", step), zap.String("panic", panicText(p)), zap.StackSkip("stack", 3))
}

// panicText describes a panic without its value unless it is a runtime error or an error of the
// adapter's: a value passed to panic may hold parts of the document.
func panicText(p any) string {
	if re, ok := p.(runtime.Error); ok {
		return "panic: " + re.Error()
	}
	return fmt.Sprintf("panic (%T)", p)
}

// sendThroughBreaker sends req unless the authority's breaker is open, bounded by the authority's
// request timeout, and tells the breaker what the send said of the system.
func (w *Worker) sendThroughBreaker(ctx context.Context, task schemas.DeliveryTask, req adapters.Request) (adapters.Response, error) {
	a := w.authority(task.Authority)
	permit, retryAt, ok := a.breaker.Allow()
	if !ok {
		return adapters.Response{}, &CircuitOpenError{Authority: task.Authority, RetryAt: retryAt}
	}
	timeout := cmp.Or(task.RequestTimeout, w.cfg.RequestTimeout)
	sendCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	a.inFlight.Add(1)
	resp, err := w.transport.Send(sendCtx, req)
	a.inFlight.Add(-1)
	switch {
	case err == nil || adapters.IsPermanent(err):
		permit.Done(Success)
	case ctx.Err() != nil:
		permit.Done(Ignored)
	default:
		permit.Done(Failure)
	}
	switch {
	case err == nil:
		return resp, nil
	case ctx.Err() == nil && sendCtx.Err() != nil:
		return resp, fmt.Errorf("send: no answer within %s: %w", timeout, err)
	default:
		return resp, fmt.Errorf("send: %w", err)
	}
}

// traceID returns the trace id of a W3C traceparent ("00-<trace id>-<parent id>-<flags>"), or "".
func traceID(traceParent string) string {
	if len(traceParent) < 55 || traceParent[2] != '-' || traceParent[35] != '-' {
		return ""
	}
	return traceParent[3:35]
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// rawSubmissionEncoder is an optional capability of an adapter, found by type assertion
// (adapters/jsondoc has it): an adapter that reports true reads the submission only from
// Document.Raw, so Encode does not decode the stored body for it (for a 64 KiB submission that
// decoding costs more than the rest of an attempt's encoding).
type rawSubmissionEncoder interface {
	EncodesRawSubmission() bool
}

// Encode encodes a stored delivery for its authority with adapter ad, as attempt number attempt
// (1-based). Its errors are permanent: retrying cannot make a stored submission encodable.
func Encode(ad adapters.Adapter, task schemas.DeliveryTask, attempt int) ([]byte, error) {
	doc := adapters.Document{
		DeliveryID: task.DeliveryID, AppealID: task.AppealID, TrackingNumber: task.TrackingNumber,
		Authority: task.Authority, Attempt: attempt, ReceivedAt: task.ReceivedAt, Raw: task.Body,
		Signatures: task.Signatures,
	}
	if raw, ok := ad.(rawSubmissionEncoder); !ok || !raw.EncodesRawSubmission() {
		if err := json.Unmarshal(task.Body, &doc.Submission); err != nil {
			return nil, adapters.Permanent(fmt.Errorf("stored submission unreadable: %w", err))
		}
	}
	body, err := ad.Encode(doc)
	if err != nil {
		return nil, adapters.Permanent(fmt.Errorf("encode with %s: %w", ad.Name(), err))
	}
	return body, nil
}

// retryStore runs fn until it succeeds or ctx is done, backing off between failures (the database
// may be restarting). It returns the last error only when ctx ended first.
func (w *Worker) retryStore(ctx context.Context, fn func() error) error {
	return RetryStore(ctx, w.logger, fn)
}

// RetryStore calls fn until it succeeds or ctx ends (then it returns fn's last error), waiting
// 100 ms doubling up to 5 s between calls: a database that is down for a while holds the message
// being handled instead of returning it to the broker again and again.
func RetryStore(ctx context.Context, logger *zap.Logger, fn func() error) error {
	for failures := 0; ; failures++ {
		err := fn()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			// Cut short by shutdown or by the loss of the delivery's channel (the broker
			// redelivers the message): not a database failure worth a warning.
			return err
		}
		logger.Warn("database unavailable; retrying", zap.Error(err))
		t := time.NewTimer(min(100*time.Millisecond<<min(failures, 6), 5*time.Second))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// Backoff is the wait before the attempt after failed attempt n (1-based): base·2^(n-1), capped at
// max, spread by ±jitter using r in [0,1).
func Backoff(n int, base, max time.Duration, jitter, r float64) time.Duration {
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	spread := 1 + jitter*(2*r-1)
	return time.Duration(float64(d) * spread)
}
