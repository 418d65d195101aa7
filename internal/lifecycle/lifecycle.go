// Package lifecycle is the start/stop contract every long-running part of the hub follows, and a
// base that implements it around one background loop.
//
// Start returns once the part runs; Stop is graceful, idempotent and safe before Start; Stopped is
// closed when the part has fully stopped. A loop's context is cancelled with the cause ErrStop when
// Stop is called, so code can tell a shutdown from a failure.
package lifecycle

import (
	"context"
	"errors"
	"sync"
)

// ErrStop is the cancellation cause of a loop's context when its service is stopped.
var ErrStop = errors.New("service stopped")

// Service is a long-running part of the hub.
type Service interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// Loop runs one function in the background between Start and Stop. The zero value is ready to use.
type Loop struct {
	mu      sync.Mutex
	cancel  context.CancelCauseFunc
	done    chan struct{}
	started bool
}

// Start runs fn in a goroutine with a context derived from ctx without its cancellation (the loop
// lives until Stop), cancelled with ErrStop by Stop. Starting twice is a no-op.
func (l *Loop) Start(ctx context.Context, fn func(ctx context.Context)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.started {
		return
	}
	l.started = true
	runCtx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	l.cancel = cancel
	l.done = make(chan struct{})
	go func() {
		defer close(l.done)
		fn(runCtx)
	}()
}

// Stop cancels the loop's context with ErrStop and waits until the loop returns: a loop must return
// promptly once its context is cancelled, so that no goroutine outlives its owner. ctx is accepted
// for the Service contract. Safe before Start and repeated.
func (l *Loop) Stop(_ context.Context) error {
	l.mu.Lock()
	cancel, done := l.cancel, l.done
	l.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel(ErrStop)
	<-done
	return nil
}

// Stopped returns a channel closed when the loop has returned; nil before Start.
func (l *Loop) Stopped() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.done
}
