package delivery

import (
	"fmt"
	"sync"
	"time"

	"appealhub/internal/clock"
)

// BreakerState is the state of an authority's circuit breaker, as operators see it. The strings
// are stable (they are shown by the operator API).
type BreakerState string

const (
	// BreakerClosed: sends go through; consecutive transient failures are counted.
	BreakerClosed BreakerState = "closed"
	// BreakerOpen: no send goes through until the cool-down has passed.
	BreakerOpen BreakerState = "open"
	// BreakerHalfOpen: the cool-down has passed; the next send is let through as a probe (one at
	// a time) and decides whether the breaker closes or opens again.
	BreakerHalfOpen BreakerState = "half_open"
)

// Defaults of the breaker.
const (
	DefaultBreakerFailures = 5
	DefaultBreakerCooldown = 30 * time.Second
)

// Result is what one send through a breaker says about the authority's system.
type Result int

const (
	// Success: the system answered, with a 2xx or with a permanent refusal (4xx): it is up.
	Success Result = iota
	// Failure: a transient failure (timeout, connection error, 408, 429, 5xx).
	Failure
	// Ignored: the send was cut short by the hub itself (shutdown); it says nothing of the system.
	Ignored
)

// BreakerSnapshot is a breaker's state at one moment.
type BreakerSnapshot struct {
	State BreakerState
	// ConsecutiveFailures counts the transient failures since the last success.
	ConsecutiveFailures int
	// OpenedAt is when the breaker last opened; zero while it is closed.
	OpenedAt time.Time
	// RetryAt is when an open breaker lets a probe through; zero unless open.
	RetryAt time.Time
}

// Breaker is one authority's circuit breaker. It opens after Failures consecutive transient
// failures; while open it lets nothing through; once Cooldown has passed it is half-open and lets
// one probe through at a time: the probe's success closes it, its failure opens it again for
// another Cooldown. Results of sends let through before the breaker last changed state are
// ignored. Time comes from the injected clock. A Breaker is safe for concurrent use.
type Breaker struct {
	failures int
	cooldown time.Duration
	clock    clock.Clock

	mu          sync.Mutex
	open        bool // half-open is open with the cool-down passed
	consecutive int
	openedAt    time.Time
	probing     bool   // a half-open probe is out
	generation  uint64 // incremented on every state change
}

// NewBreaker returns a closed breaker. failures < 1 means DefaultBreakerFailures, cooldown <= 0
// DefaultBreakerCooldown, a nil clock the real one.
func NewBreaker(failures int, cooldown time.Duration, c clock.Clock) *Breaker {
	if failures < 1 {
		failures = DefaultBreakerFailures
	}
	if cooldown <= 0 {
		cooldown = DefaultBreakerCooldown
	}
	return &Breaker{failures: failures, cooldown: cooldown, clock: clock.OrReal(c)}
}

// Permit is one send a breaker let through. Report its result with Done, exactly once.
type Permit struct {
	b          *Breaker
	generation uint64
	probe      bool
}

// Allow asks to send once. It returns a Permit and true if the send may go ahead; otherwise
// (open, or half-open with its probe out) false and the earliest time a send may be let through.
func (b *Breaker) Allow() (Permit, time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open {
		return Permit{b: b, generation: b.generation}, time.Time{}, true
	}
	now := b.clock.Now()
	retryAt := b.openedAt.Add(b.cooldown)
	switch {
	case now.Before(retryAt):
		return Permit{}, retryAt, false
	case b.probing:
		return Permit{}, now, false // the probe decides; until then nothing else goes
	default:
		b.probing = true
		return Permit{b: b, generation: b.generation, probe: true}, time.Time{}, true
	}
}

// Done records the result of the permitted send.
func (p Permit) Done(r Result) {
	b := p.b
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if p.probe && p.generation == b.generation {
		b.probing = false
	}
	if r == Ignored || p.generation != b.generation {
		return
	}
	switch {
	case r == Success:
		b.consecutive = 0
		if b.open {
			b.open, b.openedAt = false, time.Time{}
			b.generation++
		}
	case p.probe:
		b.consecutive++
		b.openedAt = b.clock.Now()
		b.generation++
	default:
		b.consecutive++
		if b.consecutive >= b.failures {
			b.open, b.openedAt = true, b.clock.Now()
			b.generation++
		}
	}
}

// Snapshot returns the breaker's state now.
func (b *Breaker) Snapshot() BreakerSnapshot {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := BreakerSnapshot{State: BreakerClosed, ConsecutiveFailures: b.consecutive}
	if b.open {
		s.State, s.OpenedAt, s.RetryAt = BreakerOpen, b.openedAt, b.openedAt.Add(b.cooldown)
		if !b.clock.Now().Before(s.RetryAt) {
			s.State = BreakerHalfOpen
		}
	}
	return s
}

// CircuitOpenError is the failure of a send the breaker did not let through: the authority's
// system was not called.
type CircuitOpenError struct {
	Authority string
	// RetryAt is the earliest time the breaker lets a send through.
	RetryAt time.Time
}

func (e *CircuitOpenError) Error() string {
	return fmt.Sprintf("circuit open: authority %s is failing; not called until %s", e.Authority,
		e.RetryAt.UTC().Format(time.RFC3339))
}
