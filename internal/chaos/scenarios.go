package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"

	"appealhub/schemas"
)

// R0 is the baseline: no fault. Extra criteria: accept p99 ≤ 150 ms, accept→DMS p99 ≤ 2 s.
func R0(appeals, rate int) Scenario {
	return Scenario{
		ID: "R0", Fault: "none",
		Load: Load{Appeals: appeals, Rate: rate, Seed: 1},
		Criteria: func(rep *Report, _ *Run) {
			if rep.AcceptP99 > 150*time.Millisecond {
				rep.FailTiming("accept p99 %s > 150ms", round(rep.AcceptP99))
			}
			if rep.DeliverP99 > 2*time.Second {
				rep.FailTiming("accept→DMS p99 %s > 2s", round(rep.DeliverP99))
			}
		},
	}
}

// R1 kills the broker node (kill -9 of beam.smp) kills times, every `every`, and starts it again
// after `down`. Extra criteria: the first publish confirmed after the port is back within 10 s
// (measured while publishes are waiting: the first delivery to leave `accepted`); drained (outbox
// empty) within 60 s of the last fault.
func R1(appeals, rate, kills int, every, down time.Duration) Scenario {
	var mu sync.Mutex
	var firstPublish []time.Duration
	return Scenario{
		ID: "R1", Fault: fmt.Sprintf("broker kill -9 ×%d every %s, %s down", kills, every, down),
		Load:       Load{Appeals: appeals, Rate: rate, Seed: 2},
		DrainLimit: 60 * time.Second,
		Faults: func(ctx context.Context, r *Run) error {
			for i := range kills {
				if !sleepCtx(ctx, every) {
					return nil
				}
				end := r.Log.Begin("broker kill -9", r.Env.Rabbit.Name)
				if err := r.Env.Rabbit.Kill(); err != nil {
					return fmt.Errorf("kill %d: %w", i+1, err)
				}
				sleepCtx(ctx, down)
				if err := r.Env.Rabbit.Start(ctx); err != nil {
					return fmt.Errorf("restart %d: %w", i+1, err)
				}
				end()
				if d, ok := firstPublishAfter(ctx, r, 30*time.Second); ok {
					mu.Lock()
					firstPublish = append(firstPublish, d)
					mu.Unlock()
				}
			}
			return nil
		},
		Criteria: func(rep *Report, r *Run) {
			mu.Lock()
			defer mu.Unlock()
			worst := time.Duration(0)
			for _, d := range firstPublish {
				worst = max(worst, d)
			}
			r.Log.Set("first_publish_max", fmt.Sprintf("%s (%d of %d restarts measured)", round(worst), len(firstPublish), rep.Faults))
			if worst > 10*time.Second {
				rep.FailTiming("first confirmed publish %s > 10s after the port was back", round(worst))
			}
			if rep.Faults == 0 {
				rep.Fail("no broker kill happened")
			}
		},
	}
}

// firstPublishAfter waits for the first delivery to leave `accepted` (its outbox row published
// and confirmed) after now, and returns how long it took. It measures only while deliveries
// are waiting to be published; otherwise it reports false.
func firstPublishAfter(ctx context.Context, r *Run, within time.Duration) (time.Duration, bool) {
	start := time.Now()
	counts, err := r.Env.Store.DeliveryCounts(ctx)
	if err != nil || counts[schemas.StatusAccepted] == 0 {
		return 0, false
	}
	moved := func(c map[schemas.DeliveryStatus]int) int {
		n := 0
		for st, v := range c {
			if st != schemas.StatusAccepted {
				n += v
			}
		}
		return n
	}
	before := moved(counts)
	var took time.Duration
	ok := waitFor(within, 100*time.Millisecond, func() bool {
		c, err := r.Env.Store.DeliveryCounts(ctx)
		if err != nil || moved(c) <= before {
			return false
		}
		took = time.Since(start)
		return true
	})
	return took, ok
}

// R2 kills a hub process (kill -9, chosen at random) kills times, every `every`, and starts it
// again after 2 s. The portal retries with the same keys. Extra criterion: every retried request
// returns the original appeal id (0 double appeals, a global criterion too).
func R2(appeals, rate, kills int, every time.Duration) Scenario {
	return Scenario{
		ID: "R2", Fault: fmt.Sprintf("hub kill -9 ×%d every %s, restart after 2s", kills, every),
		Load: Load{Appeals: appeals, Rate: rate, Seed: 3},
		Faults: func(ctx context.Context, r *Run) error {
			rng := rand.New(rand.NewPCG(3, 3))
			var restart time.Duration
			for i := range kills {
				if !sleepCtx(ctx, every) {
					return nil
				}
				h := r.Env.Hubs[rng.IntN(len(r.Env.Hubs))]
				end := r.Log.Begin("hub kill -9", h.Name)
				if err := h.Kill(); err != nil {
					return fmt.Errorf("kill %d: %w", i+1, err)
				}
				sleepCtx(ctx, 2*time.Second)
				t0 := time.Now()
				if err := h.Start(); err != nil {
					return fmt.Errorf("restart %d: %w", i+1, err)
				}
				if err := h.WaitReady(ctx, 60*time.Second); err != nil {
					return fmt.Errorf("restart %d: %w", i+1, err)
				}
				restart = max(restart, time.Since(t0))
				end()
			}
			r.Log.Set("restart_to_ready_max", round(restart))
			return nil
		},
		Criteria: func(rep *Report, r *Run) {
			retried := 0
			for _, a := range r.Gen.Attempts() {
				if a.N > 1 {
					retried++
				}
			}
			r.Log.Set("retried_requests", fmt.Sprint(retried))
			if rep.Faults == 0 {
				rep.Fail("no hub kill happened")
			}
		},
	}
}

// R3 stops PostgreSQL immediately (pg_ctl stop -m immediate) stops times, every `every`, and starts
// it again after `down`. Extra criteria: 0 "2xx without row" (WithoutRow); every answer to a
// request made during the outage is 503; every hub's /readyz fails within 5 s of the stop; the API
// accepts again within 15 s of the start.
func R3(appeals, rate, stops int, every, down time.Duration) Scenario {
	var mu sync.Mutex
	var notReady, recovery []time.Duration
	var outages [][2]time.Time // from the stop to the moment the start was asked for
	return Scenario{
		ID: "R3", Fault: fmt.Sprintf("PostgreSQL immediate stop ×%d every %s, %s down", stops, every, down),
		Load: Load{Appeals: appeals, Rate: rate, Seed: 4},
		Faults: func(ctx context.Context, r *Run) error {
			for i := range stops {
				if !sleepCtx(ctx, every) {
					return nil
				}
				end := r.Log.Begin("postgres stop -m immediate", "postgres")
				stopped := time.Now()
				if err := r.Env.PG.StopImmediate(ctx); err != nil {
					return fmt.Errorf("stop %d: %w", i+1, err)
				}
				nr := waitNotReady(ctx, r.Env, 2*down)
				sleepCtx(ctx, down-time.Since(stopped))
				mu.Lock()
				outages = append(outages, [2]time.Time{stopped, time.Now()})
				mu.Unlock()
				if err := r.Env.PG.Start(ctx); err != nil {
					return fmt.Errorf("start %d: %w", i+1, err)
				}
				end()
				rec := waitAccepting(ctx, r.Env, 60*time.Second)
				mu.Lock()
				notReady, recovery = append(notReady, nr), append(recovery, rec)
				mu.Unlock()
			}
			return nil
		},
		Criteria: func(rep *Report, r *Run) {
			if rep.WithoutRow != 0 {
				rep.Fail("%d answers 2xx without a row", rep.WithoutRow)
			}
			if rep.Faults == 0 {
				rep.Fail("no PostgreSQL stop happened")
			}
			// Answers to requests made wholly inside an outage: from 1 s after the stop until the
			// start was asked for (not until it returned: PostgreSQL accepts before pg_ctl returns,
			// and a request in between is rightly accepted).
			statuses := map[int]int{}
			mu.Lock()
			windows := slices.Clone(outages)
			mu.Unlock()
			for _, a := range r.Gen.Attempts() {
				for _, w := range windows {
					if a.Start.After(w[0].Add(time.Second)) && a.Start.Add(a.Latency).Before(w[1]) {
						statuses[a.Status]++
					}
				}
			}
			other := 0
			for st, n := range statuses {
				if st != http.StatusServiceUnavailable {
					other += n
				}
			}
			r.Log.Set("outage_answers", fmt.Sprint(statuses))
			if other != 0 {
				rep.Fail("%d answers during the outage were not 503: %v", other, statuses)
			}
			mu.Lock()
			defer mu.Unlock()
			worstNR, worstRec := time.Duration(0), time.Duration(0)
			for _, d := range notReady {
				worstNR = max(worstNR, d)
			}
			for _, d := range recovery {
				worstRec = max(worstRec, d)
			}
			r.Log.Set("readyz_false_max", round(worstNR))
			r.Log.Set("recovery_max", round(worstRec))
			if worstNR > 5*time.Second {
				rep.FailTiming("/readyz still true %s after the stop (> 5s)", round(worstNR))
			}
			if worstRec > 15*time.Second {
				rep.FailTiming("recovery took %s (> 15s)", round(worstRec))
			}
		},
	}
}

// waitNotReady returns how long it took every hub's /readyz to fail (within, at most).
func waitNotReady(ctx context.Context, env *Env, within time.Duration) time.Duration {
	start := time.Now()
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	pending := map[string]bool{}
	for _, h := range env.Hubs {
		pending[h.Name] = true
	}
	waitFor(within, 100*time.Millisecond, func() bool {
		for _, h := range env.Hubs {
			if pending[h.Name] {
				if ok, _ := h.Ready(ctx, client); !ok {
					delete(pending, h.Name)
				}
			}
		}
		return len(pending) == 0
	})
	return time.Since(start)
}

// waitAccepting returns how long it took until every hub is ready again and accepts a submission
// (within, at most). The probe is a replay of nothing: a GET of an unknown appeal, which needs the
// database and answers 404.
func waitAccepting(ctx context.Context, env *Env, within time.Duration) time.Duration {
	start := time.Now()
	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	waitFor(within, 100*time.Millisecond, func() bool {
		for _, h := range env.Hubs {
			if ok, _ := h.Ready(ctx, client); !ok {
				return false
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet,
				h.URL()+"/v1/appeals/00000000-0000-7000-8000-000000000000", nil)
			if err != nil {
				return false
			}
			req.Header.Set("Authorization", "Bearer "+env.Token)
			resp, err := client.Do(req)
			if err != nil {
				return false
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				return false
			}
		}
		return true
	})
	return time.Since(start)
}
