package httpapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"appealhub/schemas"
)

// TestTrackIsLimitedPerAddress: past the burst an address gets 429 rate_limited with Retry-After,
// right and wrong codes alike, while another address is still answered.
func TestTrackIsLimitedPerAddress(t *testing.T) {
	t.Parallel()
	h := NewHandler(Config{TrackPerMinute: 1, TrackBurst: 3}, Deps{Auth: fakeAuth{}, Submitter: &fakeSubmitter{},
		Cases: &fakeCases{}, Notifications: &fakeNotifications{subs: map[string]schemas.Subscription{}},
		Timelines: &fakeTimelines{}}, zaptest.NewLogger(t))
	get := func(addr, code string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/v1/track/"+testCase.TrackingNumber+"?code="+code, nil)
		r.RemoteAddr = addr
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for i := range 3 {
		requireProblem(t, get("198.51.100.7:4000", fmt.Sprintf("WRONG%05d", i)), http.StatusNotFound, schemas.CodeNotFound)
	}
	w := get("198.51.100.7:4001", "ABCDE23456") // another port of the same address, and the right code
	requireProblem(t, w, http.StatusTooManyRequests, schemas.CodeRateLimited)
	require.NotEmpty(t, w.Header().Get("Retry-After"))
	require.Equal(t, http.StatusOK, get("198.51.100.8:4000", "ABCDE23456").Code, "another address")
	require.Equal(t, http.StatusOK, get("[2001:db8::1]:4000", "ABCDE23456").Code, "an IPv6 address")
}

func TestAddrLimiterRefillsAndForgets(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	l := newAddrLimiter(60, 2) // a token a second
	l.now = func() time.Time { return now }
	req := func(addr string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = addr
		return r
	}
	a := req("192.0.2.1:1")
	require.True(t, l.allow(a))
	require.True(t, l.allow(a))
	require.False(t, l.allow(a), "the burst is spent")
	now = now.Add(time.Second)
	require.True(t, l.allow(a), "a second later a token is back")
	require.False(t, l.allow(a))

	for i := range maxLimited + 10 {
		now = now.Add(time.Millisecond)
		l.allow(req(fmt.Sprintf("10.%d.%d.%d:1", i>>16&255, i>>8&255, i&255)))
	}
	l.mu.Lock()
	n := len(l.buckets)
	l.mu.Unlock()
	require.LessOrEqual(t, n, maxLimited, "the limiter remembers a bounded number of addresses")
	// One address a millisecond: those seen within the last two seconds (the time a bucket takes to
	// fill again) may still be limited, and are kept.
	require.GreaterOrEqual(t, n, 1990, "the addresses whose buckets are not full again are kept")
}
