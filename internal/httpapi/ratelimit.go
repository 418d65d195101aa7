package httpapi

import (
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxLimited bounds how many client addresses a limiter remembers; past it, the addresses idle the
// longest are forgotten (they start again with a full bucket).
const maxLimited = 10000

// addrLimiter is a token bucket per client address. Safe for concurrent use.
type addrLimiter struct {
	every rate.Limit
	burst int
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newAddrLimiter(perMinute, burst int) *addrLimiter {
	return &addrLimiter{every: rate.Limit(float64(perMinute) / 60), burst: burst, now: time.Now, buckets: map[string]*bucket{}}
}

// allow takes a token of the request's client address, or reports false when its bucket is empty.
func (l *addrLimiter) allow(r *http.Request) bool {
	addr := r.RemoteAddr
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[addr]
	if !ok {
		if len(l.buckets) >= maxLimited {
			l.forgetIdle(now)
		}
		b = &bucket{lim: rate.NewLimiter(l.every, l.burst)}
		l.buckets[addr] = b
	}
	b.seen = now
	return b.lim.AllowN(now, 1)
}

// forgetIdle drops the buckets that would be full again by now, or else the older half.
func (l *addrLimiter) forgetIdle(now time.Time) {
	refill := time.Duration(float64(l.burst) / float64(l.every) * float64(time.Second))
	for a, b := range l.buckets {
		if now.Sub(b.seen) > refill {
			delete(l.buckets, a)
		}
	}
	if len(l.buckets) < maxLimited {
		return
	}
	var oldest time.Time
	for _, b := range l.buckets {
		if oldest.IsZero() || b.seen.Before(oldest) {
			oldest = b.seen
		}
	}
	cut := oldest.Add(now.Sub(oldest) / 2)
	for a, b := range l.buckets {
		if !b.seen.After(cut) {
			delete(l.buckets, a)
		}
	}
}
