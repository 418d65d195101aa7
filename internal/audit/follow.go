package audit

import (
	"context"
	"time"

	"go.uber.org/zap"

	"appealhub/internal/clock"
)

// StepFunc is one step of a reader of the sealed event chain: it handles what was sealed since its
// cursor and returns how much it did (receipts issued, notifications written).
type StepFunc func(ctx context.Context) (int, error)

// Follow runs step at once and then every interval until ctx is done: the loop of a reader that
// follows the sealed event chain with a cursor of its own (the notary of the signed receipts, the
// portal notifier). A failed step is retried at the next tick; it is logged at error level when it
// differs from the last failure, or a minute after that was logged, so that a reader that is stuck
// says so without flooding the log. what names the work in the log ("issuing receipts"). c dates
// the failures (the real clock when nil).
func Follow(ctx context.Context, interval time.Duration, c clock.Clock, logger *zap.Logger, what string, step StepFunc) {
	c = clock.OrReal(c)
	t := time.NewTicker(interval)
	defer t.Stop()
	var lastFailure string
	var lastLogged time.Time
	for {
		n, err := step(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			now := c.Now()
			if err.Error() != lastFailure || now.Sub(lastLogged) >= time.Minute {
				lastFailure, lastLogged = err.Error(), now
				logger.Error(what+" failed; retrying", zap.Error(err))
			}
		case err == nil && n > 0:
			lastFailure = ""
			logger.Debug(what, zap.Int("done", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
