package chaos

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestPoisonFaultsCrashUntilLifted: a poisoned document gets no answer and reaches no system until
// the fault is lifted; any other document passes; the share poisoned is about pct.
func TestPoisonFaultsCrashUntilLifted(t *testing.T) {
	t.Parallel()
	p := &poisonFaults{pct: 1, crashes: map[string]int{}, after: map[string]int{}}
	var poisoned, clean string
	n := 0
	for i := range 20000 {
		id := fmt.Sprintf("01a250b7-0000-7000-8000-%012d", i)
		if p.poisoned(id) {
			n++
			poisoned = id
		} else {
			clean = id
		}
	}
	require.InDelta(t, 200, n, 60, "poisoned of 20,000")

	recorded := map[string]int{}
	srv := httptest.NewServer(p.wrap("", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		recorded[r.Header.Get("Idempotency-Key")]++
		w.WriteHeader(http.StatusCreated)
	})))
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	t.Cleanup(client.CloseIdleConnections)
	send := func(key string) (int, error) {
		req, err := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader([]byte(`{"attempt":1}`)))
		require.NoError(t, err)
		req.Header.Set("Idempotency-Key", key)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_ = resp.Body.Close()
		return resp.StatusCode, nil
	}

	for range 2 {
		_, err := send(poisoned)
		require.Error(t, err, "a poisoned document gets no answer")
	}
	status, err := send(clean)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, status)
	require.Zero(t, recorded[poisoned])

	p.Lift()
	status, err = send(poisoned)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, status)
	require.Equal(t, 1, recorded[poisoned])
	crashes, after := p.sends()
	require.Equal(t, map[string]int{poisoned: 2}, crashes)
	require.Equal(t, map[string]int{poisoned: 1}, after)
}

// TestBackoffFindings: a wait that shrinks beyond jitter and a send before its due time are
// found; a wait at the cap shrinking within jitter, and pairs around an attempt that sent nothing
// (breaker open), are not.
func TestBackoffFindings(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	const s = time.Second
	// row: attempt k failed (recorded at made), attempt k+1 due at made+wait.
	row := func(k int, made, wait time.Duration) retryRow {
		return retryRow{Attempt: k, Made: at(made), Due: at(made + wait)}
	}
	retries := map[string][]retryRow{
		// Doubling, then at the 5 s cap shrinking by 0.7 (within (1-0.2)/(1+0.2) ≈ 0.67).
		"good": {row(1, 0, 1*s), row(2, 2*s, 2*s), row(3, 5*s, 4*s), row(4, 10*s, 5*s), row(5, 16*s, 3500*time.Millisecond)},
		// The wait after attempt 2 is half the wait after attempt 1.
		"shrinks": {row(1, 0, 2*s), row(2, 3*s, 1*s)},
		// Attempt 2 arrives 200 ms before it is due.
		"early": {row(1, 0, 1*s)},
		// Attempt 2 sent nothing (breaker open, waited 5 s): neither pair around it is compared.
		"breaker": {row(1, 0, 1*s), row(2, 1*s, 5*s), row(3, 6*s, 200*time.Millisecond)},
	}
	arrivals := map[string]map[int]time.Time{
		"good":    {1: at(0), 2: at(1 * s), 3: at(4 * s), 4: at(9 * s), 5: at(15 * s), 6: at(19600 * time.Millisecond)},
		"shrinks": {1: at(0), 2: at(2 * s), 3: at(4 * s)},
		"early":   {1: at(0), 2: at(800 * time.Millisecond)},
		"breaker": {1: at(0), 3: at(6 * s), 4: at(6300 * time.Millisecond)},
	}
	got := backoffFindings(retries, arrivals, 0.2)
	require.Len(t, got.failures, 2, "%q", got.failures)
	require.True(t, strings.HasPrefix(got.failures[0], "delivery early: attempt 2 sent 200ms before it was due"), got.failures[0])
	require.True(t, strings.HasPrefix(got.failures[1], "delivery shrinks: wait after attempt 2 is 1s"), got.failures[1])
	// Pairs: good 4, shrinks 1, breaker 0. Sends: good 5, shrinks 2, early 1, breaker 2 (attempts 3 and 4).
	require.Equal(t, 5, got.pairs)
	require.Equal(t, 10, got.sends)
	require.Equal(t, 100*time.Millisecond, got.pickupMax)
}
