// Package relay moves the outbox to the broker. It claims due outbox rows in batches (FOR UPDATE
// SKIP LOCKED, so several hub processes share the work), publishes each batch with publisher
// confirms, and marks rows published only after the broker confirmed them, all while holding the
// claim. It wakes on LISTEN/NOTIFY when rows are committed, and polls as a safety net.
package relay

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"appealhub/internal/clock"
	"appealhub/internal/lifecycle"
	"appealhub/schemas"
)

// Outbox is the relay's view of the store.
type Outbox interface {
	RelayBatch(ctx context.Context, now time.Time, limit int, retryAfter time.Duration,
		publish func(ctx context.Context, msgs []schemas.OutboxMessage) []error) (published, failed int, err error)
	NextOutboxDue(ctx context.Context) (due time.Time, ok bool, err error)
	WatchOutbox(ctx context.Context) (<-chan struct{}, error)
}

// Publisher publishes outbox messages and reports, per message, nil when the broker confirmed it.
type Publisher interface {
	Publish(ctx context.Context, msgs []schemas.OutboxMessage) []error
	Connected() bool
}

// Defaults.
const (
	DefaultBatchSize    = 200
	DefaultPollInterval = time.Second
	DefaultRetryAfter   = 250 * time.Millisecond
)

// Config configures a relay.
type Config struct {
	// BatchSize is the most rows claimed and published at once. Defaults to 200.
	BatchSize int
	// PollInterval is the longest the relay sleeps without a notification. Defaults to 1s.
	PollInterval time.Duration
	// RetryAfter is how long a row whose publish failed waits before the next try (a quorum queue
	// just declared may nack until its leader is elected). Defaults to 250ms.
	RetryAfter time.Duration
	// Clock defaults to the real clock.
	Clock clock.Clock
}

// Relay publishes the outbox. Start it once; Stop it to finish the batch in flight and return.
type Relay struct {
	cfg       Config
	outbox    Outbox
	publisher Publisher
	logger    *zap.Logger
	loop      lifecycle.Loop
	wake      chan struct{}
}

// New returns a relay.
func New(cfg Config, outbox Outbox, publisher Publisher, logger *zap.Logger) *Relay {
	if logger == nil {
		logger = zap.NewNop()
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = DefaultRetryAfter
	}
	cfg.Clock = clock.OrReal(cfg.Clock)
	return &Relay{cfg: cfg, outbox: outbox, publisher: publisher, logger: logger.Named("relay"), wake: make(chan struct{}, 1)}
}

// Start starts the relay loop and returns.
func (r *Relay) Start(ctx context.Context) error {
	r.loop.Start(ctx, r.run)
	return nil
}

// Stop stops the loop after the batch in flight and waits for it, bounded by ctx.
func (r *Relay) Stop(ctx context.Context) error { return r.loop.Stop(ctx) }

// Stopped is closed when the loop has returned.
func (r *Relay) Stopped() <-chan struct{} { return r.loop.Stopped() }

// Wake asks the relay to look at the outbox now.
func (r *Relay) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *Relay) run(ctx context.Context) {
	notify := r.watch(ctx)
	failures := 0
	for {
		if ctx.Err() != nil {
			return
		}
		wait := r.cfg.PollInterval
		if !r.publisher.Connected() {
			wait = backoff(failures)
			failures++
		} else {
			n, err := r.relayOnce(ctx)
			switch {
			case err != nil && ctx.Err() == nil:
				r.logger.Warn("relay batch failed", zap.Error(err))
				wait = backoff(failures)
				failures++
			case n == r.cfg.BatchSize:
				failures = 0
				continue // more may be due
			default:
				failures = 0
				wait = r.untilDue(ctx, wait)
			}
		}
		if notify == nil {
			notify = r.watch(ctx)
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-notify:
		case <-r.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// relayOnce publishes one batch and returns how many rows it claimed.
func (r *Relay) relayOnce(ctx context.Context) (int, error) {
	claimed := 0
	var firstErr error
	published, failed, err := r.outbox.RelayBatch(ctx, r.cfg.Clock.Now(), r.cfg.BatchSize, r.cfg.RetryAfter,
		func(ctx context.Context, msgs []schemas.OutboxMessage) []error {
			claimed = len(msgs)
			errs := r.publisher.Publish(ctx, msgs)
			for _, err := range errs {
				if err != nil && firstErr == nil {
					firstErr = err
				}
			}
			return errs
		})
	if err != nil {
		return 0, err
	}
	if failed > 0 {
		return 0, fmt.Errorf("%d of %d outbox rows not confirmed, will retry: %w", failed, claimed, firstErr)
	}
	if published > 0 {
		r.logger.Debug("outbox batch published", zap.Int("published", published))
	}
	return claimed, nil
}

// untilDue shortens the wait to the next scheduled row (a retry) when it is due sooner.
func (r *Relay) untilDue(ctx context.Context, wait time.Duration) time.Duration {
	due, ok, err := r.outbox.NextOutboxDue(ctx)
	if err != nil || !ok {
		return wait
	}
	if d := due.Sub(r.cfg.Clock.Now()); d < wait {
		return max(d, 5*time.Millisecond)
	}
	return wait
}

func (r *Relay) watch(ctx context.Context) <-chan struct{} {
	ch, err := r.outbox.WatchOutbox(ctx)
	if err != nil {
		r.logger.Warn("cannot listen for outbox notifications; polling", zap.Error(err))
		return nil
	}
	return ch
}

func backoff(failures int) time.Duration {
	d := 100 * time.Millisecond << min(failures, 7)
	return min(d, 10*time.Second)
}
