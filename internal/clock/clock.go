// Package clock lets code that computes deadlines, backoff or due dates take the time from an injected
// source, so tests control it.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

// Real is the system clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// Stub is a settable clock for tests. The zero value starts at the zero time; use NewStub.
type Stub struct {
	mu  sync.Mutex
	now time.Time
}

// NewStub returns a stub clock set to t.
func NewStub(t time.Time) *Stub { return &Stub{now: t} }

// Now returns the stub's current time.
func (s *Stub) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

// Set moves the stub to t.
func (s *Stub) Set(t time.Time) {
	s.mu.Lock()
	s.now = t
	s.mu.Unlock()
}

// Advance moves the stub forward by d.
func (s *Stub) Advance(d time.Duration) {
	s.mu.Lock()
	s.now = s.now.Add(d)
	s.mu.Unlock()
}

// OrReal returns c, or the real clock when c is nil.
func OrReal(c Clock) Clock {
	if c == nil {
		return Real{}
	}
	return c
}
