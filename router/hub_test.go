package router_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"appealhub/config"
	"appealhub/internal/hubtest"
	"appealhub/internal/sandbox"
	"appealhub/schemas"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// lib/pq's listener and net/http keep-alive goroutines wind down asynchronously after Close.
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
	)
}

// system is a sandbox document system served on loopback.
type system struct {
	sb  *sandbox.Server
	srv *httptest.Server
}

func newSystem(t *testing.T, name string, opts sandbox.Options) *system {
	t.Helper()
	opts.Name = name
	sb, err := sandbox.New(opts, zaptest.NewLogger(t))
	require.NoError(t, err)
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	return &system{sb: sb, srv: srv}
}

func (s *system) endpoint(code string) string { return s.srv.URL + "/documents/" + code }

// submitAll submits n submissions from `workers` goroutines; pick chooses the addressees of the i-th.
// It retries like a real portal: on a transport error or a 5xx, the same key again.
func submitAll(t *testing.T, env *hubtest.Env, urls func(i int) string, n, workers int, pick func(i int) []string) []schemas.Receipt {
	t.Helper()
	receipts, err := submitAllE(env, urls, n, workers, pick)
	require.NoError(t, err)
	return receipts
}

// submitAllE submits n submissions with workers in parallel, each retried with its key as a portal
// does (on a connection error or a 5xx) for up to two minutes, and returns their receipts or the
// first refusal. It calls no testing assertion, so it may run on any goroutine.
func submitAllE(env *hubtest.Env, urls func(i int) string, n, workers int, pick func(i int) []string) ([]schemas.Receipt, error) {
	const retryFor = 2 * time.Minute
	receipts := make([]schemas.Receipt, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				body := hubtest.Submission(i, 1024, pick(i)...)
				key := fmt.Sprintf("load-%d", i)
				var last string
				for start := time.Now(); ; {
					if time.Since(start) > retryFor {
						errs <- fmt.Errorf("submission %d: gave up after %s: %s", i, retryFor, last)
						return
					}
					resp, err := env.Submit(context.Background(), urls(i), key, body)
					if err != nil || resp.Status >= 500 {
						last = fmt.Sprint(err, resp.Status, string(resp.Body))
						time.Sleep(100 * time.Millisecond)
						continue
					}
					if resp.Status != http.StatusAccepted {
						errs <- fmt.Errorf("submission %d: HTTP %d: %s", i, resp.Status, resp.Body)
						return
					}
					if err := json.Unmarshal(resp.Body, &receipts[i]); err != nil || receipts[i].ID == "" {
						errs <- fmt.Errorf("submission %d: receipt %q: %v", i, resp.Body, err)
						return
					}
					break
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return receipts, <-errs // nil when no worker failed
}

// checkExactlyOnce asserts the guarantees over every sandbox ledger and the store: each delivery's
// document reached its system once (one document per delivery id, none unknown), requests beyond
// one came only under the same idempotency key, and the hub recorded delivered once per delivery.
func checkExactlyOnce(t *testing.T, env *hubtest.Env, systems []*system, wantDeliveries int, strictRequests bool) {
	t.Helper()
	ctx := context.Background()
	delivered, err := env.Store.DeliveriesByStatus(ctx, schemas.StatusDelivered)
	require.NoError(t, err)
	require.Len(t, delivered, wantDeliveries, "every delivery delivered")
	byID := map[string]schemas.Delivery{}
	for _, d := range delivered {
		byID[d.ID] = d
	}
	documents := 0
	for _, s := range systems {
		l := s.sb.Ledger()
		documents += l.Documents
		require.Len(t, l.Entries, l.Documents)
		for _, e := range l.Entries {
			d, ok := byID[e.DeliveryID]
			require.True(t, ok, "ledger entry %s is a delivered delivery of this test", e.DeliveryID)
			require.Equal(t, d.Authority, e.Authority)
			if strictRequests {
				require.Equal(t, 1, e.Received, "delivery %s received once", e.DeliveryID)
			}
		}
	}
	require.Equal(t, wantDeliveries, documents, "one document per delivery across all systems")
	events, err := env.Store.DeliveredEventsPerDelivery(ctx)
	require.NoError(t, err)
	require.Len(t, events, wantDeliveries)
	for id, n := range events {
		require.Equal(t, 1, n, "delivered recorded once for %s", id)
	}
	totals, err := env.Store.Totals(ctx)
	require.NoError(t, err)
	require.Zero(t, totals.OutboxPending, "outbox empty")
}

// TestTwoThousandSubmissionsReachFiveSystemsExactlyOnce is the no-fault run: 2,000 submissions to
// 5 authorities, each on its own sandbox system.
func TestTwoThousandSubmissionsReachFiveSystemsExactlyOnce(t *testing.T) {
	t.Parallel()
	codes := []string{"10000001", "10000002", "10000003", "10000004", "10000005"}
	var systems []*system
	endpoints := map[string]string{}
	for _, c := range codes {
		s := newSystem(t, "sys-"+c, sandbox.Options{})
		systems = append(systems, s)
		endpoints[c] = s.endpoint(c)
	}
	env := hubtest.NewEnv(t, endpoints, nil)
	hub := env.Start(t)

	const n = 2000
	receipts := submitAll(t, env, func(int) string { return hub.URL }, n, 16, func(i int) []string { return []string{codes[i%len(codes)]} })
	seen := map[string]bool{}
	for _, r := range receipts {
		require.False(t, seen[r.TrackingNumber], "tracking numbers are unique")
		seen[r.TrackingNumber] = true
	}
	env.WaitSettled(t, 3*time.Minute)
	checkExactlyOnce(t, env, systems, n, true)
	for i, s := range systems {
		require.Equal(t, n/len(codes), s.sb.Ledger().Documents, "system %d got its share", i)
	}
}

// TestFlappingSystemAndRestartsLoseNothing runs two hub processes against one database and broker,
// crashes one mid-run and starts another, while one system answers 30% of requests with 503 and
// another records documents and then drops the connection 10% of the time.
func TestFlappingSystemAndRestartsLoseNothing(t *testing.T) {
	t.Parallel()
	flaky := newSystem(t, "flaky", sandbox.Options{ErrorRate: 0.3, ErrorStatus: 503, Seed: 7})
	dropper := newSystem(t, "dropper", sandbox.Options{DropRate: 0.1, Seed: 11})
	healthy := newSystem(t, "healthy", sandbox.Options{})
	systems := []*system{flaky, dropper, healthy}
	codes := []string{"20000001", "20000002", "20000003"}
	env := hubtest.NewEnv(t, map[string]string{
		codes[0]: flaky.endpoint(codes[0]), codes[1]: dropper.endpoint(codes[1]), codes[2]: healthy.endpoint(codes[2]),
	}, func(c *config.Config) { c.Delivery.MaxAttempts = 30 })
	a := env.Start(t)
	b := env.Start(t)
	urls := []string{a.URL, b.URL}
	var current atomic.Value
	current.Store(urls)

	const n = 600
	type result struct {
		receipts []schemas.Receipt
		err      error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		r.receipts, r.err = submitAllE(env, func(i int) string { u := current.Load().([]string); return u[i%len(u)] }, n, 8,
			func(i int) []string {
				if i%5 == 0 {
					return []string{codes[i%3], codes[(i+1)%3]} // some fan out to two
				}
				return []string{codes[i%3]}
			})
		done <- r
	}()
	// Crash hub a once work is flowing, then start a replacement.
	require.Eventually(t, func() bool {
		tot, err := env.Store.Totals(context.Background())
		return err == nil && tot.DeliveredEvents > 100
	}, time.Minute, 10*time.Millisecond)
	current.Store([]string{b.URL})
	a.Crash()
	c := env.Start(t)
	current.Store([]string{b.URL, c.URL})
	r := <-done
	require.NoError(t, r.err)
	receipts := r.receipts
	require.Len(t, receipts, n)

	want := 0
	for i := range n {
		want++
		if i%5 == 0 {
			want++
		}
	}
	env.WaitSettled(t, 3*time.Minute)
	checkExactlyOnce(t, env, systems, want, false)
	require.Positive(t, flaky.sb.Ledger().Refused, "the flaky system refused some requests")
}

// TestPermanentRefusalEndsDead: a system answering 422 makes those deliveries dead, with the reason,
// after one attempt, while another authority's deliveries go through.
func TestPermanentRefusalEndsDead(t *testing.T) {
	t.Parallel()
	refusing := newSystem(t, "refusing", sandbox.Options{FailStatus: 422})
	healthy := newSystem(t, "healthy", sandbox.Options{})
	env := hubtest.NewEnv(t, map[string]string{
		"30000001": refusing.endpoint("30000001"), "30000002": healthy.endpoint("30000002"),
	}, nil)
	hub := env.Start(t)
	for i := range 20 {
		env.MustSubmit(t, hub.URL, fmt.Sprintf("k%d", i), hubtest.Submission(i, 1024, []string{"30000001", "30000002"}[i%2]))
	}
	env.WaitSettled(t, time.Minute)
	dead, err := env.Store.DeliveriesByStatus(context.Background(), schemas.StatusDead)
	require.NoError(t, err)
	require.Len(t, dead, 10)
	for _, d := range dead {
		require.Equal(t, "30000001", d.Authority)
		require.Equal(t, 1, d.Attempts, "a permanent refusal is not retried")
		require.Contains(t, d.LastError, "422")
	}
	require.Equal(t, 10, healthy.sb.Ledger().Documents)
	require.Zero(t, refusing.sb.Ledger().Documents)
}

// TestRetriesUntilTheLastAttempt: a system that is down for good makes deliveries dead after
// max_attempts, each attempt recorded.
func TestRetriesUntilTheLastAttempt(t *testing.T) {
	t.Parallel()
	down := newSystem(t, "down", sandbox.Options{ErrorRate: 1, ErrorStatus: 503})
	env := hubtest.NewEnv(t, map[string]string{"40000001": down.endpoint("40000001")},
		func(c *config.Config) { c.Delivery.MaxAttempts = 4 })
	hub := env.Start(t)
	r := env.MustSubmit(t, hub.URL, "k", hubtest.Submission(1, 1024, "40000001"))
	env.WaitSettled(t, time.Minute)
	resp, err := hubtest.Do(context.Background(), http.MethodGet, hub.URL+"/v1/appeals/"+r.ID, env.Token, nil, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.Status)
	c := decodeCase(t, resp.Body)
	require.Equal(t, schemas.StatusDead, c.Deliveries[0].Status)
	require.Equal(t, 4, c.Deliveries[0].Attempts)
	require.Contains(t, c.Deliveries[0].LastError, "4 attempts")
	failures := 0
	for _, e := range c.Events {
		if e.Type == schemas.EventDeliveryAttempt {
			failures++
		}
	}
	require.Equal(t, 3, failures, "three failed attempts recorded before the last")
	require.Equal(t, 4, down.sb.Ledger().Requests)
}

// TestSlowAuthorityDoesNotHoldUpAnother: while one authority's system takes seconds to answer
// every delivery, another authority's deliveries, submitted after, are all delivered first.
func TestSlowAuthorityDoesNotHoldUpAnother(t *testing.T) {
	t.Parallel()
	slow := newSystem(t, "slow", sandbox.Options{Latency: time.Second})
	fast := newSystem(t, "fast", sandbox.Options{})
	env := hubtest.NewEnv(t, map[string]string{"90000001": slow.endpoint("90000001"), "90000002": fast.endpoint("90000002")},
		func(c *config.Config) { c.Delivery.Concurrency = 2 })
	hub := env.Start(t)
	for i := range 10 {
		env.MustSubmit(t, hub.URL, fmt.Sprintf("slow-%d", i), hubtest.Submission(i, 1024, "90000001"))
	}
	require.Eventually(t, func() bool { return slow.sb.Ledger().Requests > 0 }, 30*time.Second, 5*time.Millisecond)
	for i := range 30 {
		env.MustSubmit(t, hub.URL, fmt.Sprintf("fast-%d", i), hubtest.Submission(i, 1024, "90000002"))
	}
	require.Eventually(t, func() bool { return fast.sb.Ledger().Documents == 30 }, 30*time.Second, 5*time.Millisecond)
	delivered, err := env.Store.DeliveriesByStatus(context.Background(), schemas.StatusDelivered)
	require.NoError(t, err)
	slowDelivered := 0
	for _, d := range delivered {
		if d.Authority == "90000001" {
			slowDelivered++
		}
	}
	require.Less(t, slowDelivered, 10, "the fast authority's 30 deliveries did not wait for the slow one's 10")
	env.WaitSettled(t, time.Minute)
	require.Equal(t, 10, slow.sb.Ledger().Documents)
}
